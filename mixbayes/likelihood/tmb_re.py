"""The random-effects part of the Laplace objective of :mod:`.tmb_laplace`: products with ``A = Z Lambda(theta)``,
the factor of ``H = A'WA + I`` and the pieces of the gradient that involve them.

:class:`DiagRE` is the fast path for one scalar term such as ``(1 | g)`` (``H`` is diagonal: everything is a
``bincount``); :class:`DenseRE` holds ``A`` as a dense ``n x q`` array for any other set of terms.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

__all__ = ["DenseRE", "DiagRE"]

Array = np.ndarray


class DiagFactor:
    """H = diag(theta^2 sum_g z^2 W + 1)."""

    def __init__(self, Hd: Array) -> None:
        self.Hd = Hd
        self.ok = bool(np.all(Hd > 0))

    def solve(self, g: Array) -> Array:
        return g / self.Hd

    @property
    def logdet(self) -> float:
        return float(np.sum(np.log(self.Hd)))


class DiagRE:
    """One scalar random-effects term: A u = theta z u[codes]."""

    def __init__(self, codes: Array, z: Array, q: int) -> None:
        self.codes, self.z, self.q = codes, z, q
        self.z2 = z * z
        self.theta = 1.0

    def set_theta(self, theta: Array) -> None:
        self.theta = float(theta[0])

    def mul(self, u: Array) -> Array:
        return self.theta * self.z * u[self.codes]

    def tmul(self, v: Array) -> Array:
        return self.theta * np.bincount(self.codes, weights=self.z * v, minlength=self.q)

    def factor(self, W: Array) -> DiagFactor:
        return DiagFactor(self.theta**2 * np.bincount(self.codes, weights=self.z2 * W, minlength=self.q) + 1.0)

    def leverage(self, fac: DiagFactor) -> Array:
        """diag(A H^-1 A')."""
        return self.theta**2 * self.z2 / fac.Hd[self.codes]

    def grad_theta(self, fac: DiagFactor, W: Array, u: Array, a: Array, ge: Array, l_e: Array) -> Array:
        """d/dtheta of the Laplace log-likelihood (see tmb_laplace.objective_and_gradient)."""
        Bu = self.z * u[self.codes]
        Ba = self.z * a[self.codes]
        tr = np.sum(W * self.theta * self.z2 / fac.Hd[self.codes])
        return np.array([Bu @ ge + Ba @ l_e - tr])


class DenseFactor:
    def __init__(self, H: Array) -> None:
        try:
            self.C = linalg.cho_factor(H, lower=True, check_finite=False)
            self.ok = True
        except (linalg.LinAlgError, ValueError):
            self.ok = False

    def solve(self, g: Array) -> Array:
        return linalg.cho_solve(self.C, g, check_finite=False)

    @property
    def logdet(self) -> float:
        return 2.0 * float(np.sum(np.log(np.diag(self.C[0]))))


class DenseRE:
    """Any random-effects terms: A = Z Lambda(theta) = sum_k theta_k B_k held densely."""

    def __init__(self, Z: Array, L: list[Array]) -> None:
        self.B = [Z @ Lk for Lk in L]
        self.q = Z.shape[1]
        self.A = np.zeros_like(Z)
        self._M: Array | None = None

    def set_theta(self, theta: Array) -> None:
        self.A = sum((t * Bk for t, Bk in zip(theta, self.B, strict=True)), np.zeros_like(self.B[0]))

    def mul(self, u: Array) -> Array:
        return self.A @ u

    def tmul(self, v: Array) -> Array:
        return self.A.T @ v

    def factor(self, W: Array) -> DenseFactor:
        return DenseFactor(self.A.T @ (W[:, None] * self.A) + np.eye(self.q))

    def leverage(self, fac: DenseFactor) -> Array:
        self._M = fac.solve(self.A.T)  # H^-1 A'
        return np.einsum("ij,ji->i", self.A, self._M)

    def grad_theta(self, fac: DenseFactor, W: Array, u: Array, a: Array, ge: Array, l_e: Array) -> Array:
        M = self._M if self._M is not None else fac.solve(self.A.T)
        return np.array([(Bk @ u) @ ge + (Bk @ a) @ l_e - np.sum(W * np.einsum("ij,ji->i", Bk, M))
                         for Bk in self.B])
