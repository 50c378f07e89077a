"""The analytic gradient of the profiled REML criterion / ML deviance with respect to theta.

With S = blockdiag(Lambda, I_p), M = [Z X]'W[Z X], J = blockdiag(I_q, 0) and Omega = S'MS + J (whose Cholesky
factor is the blocked factor's L without the response row), the REML criterion is

    d(theta) = log|Omega| + (n - p) log pwrss + const

(ML: log|A| with A = Lambda'Z'WZ Lambda + I, the random-effects block of Omega, and n log pwrss).  Its pieces:

- log-determinant: d log|Omega| / d theta_k = tr(Omega^{-1} dOmega_k) = 2 tr(Omega^{-1} S'M dS_k).  Because
  Omega^{-1} S'M S = I - Omega^{-1} J, the diagonal blocks of H = (Omega^{-1} S'M)_{ZZ} are
  H_ll = (I - V_ll) T^{-1}, V = (Omega^{-1})_{ZZ}; dS_k repeats one entry (r, c) of a term's factor T on every
  level l, so the derivative is 2 [sum_l H_ll]_{c, r}: only the level sums of V's diagonal blocks are needed.
  For the first term (block-diagonal L11) these are sum_l (L11_l L11_l')^{-1} + sum_l Y_l' P Y_l with
  Y = W L11^{-1} (W the factor's off-diagonal block) and P = (L_r L_r')^{-1} from the dense part L_r of the
  factor; for the other terms they are diagonal blocks of P.  Cost: one inversion of L_r (as much as one
  factorisation) plus a sparse product.
- penalised RSS: by the envelope theorem d pwrss / d theta_k = -2 (y - X beta - Z b)' W Z dLambda_k u, from the
  stored cross-products.

Where a factor T is singular (theta on the boundary, a zero diagonal entry) T^{-1} does not exist; the gradient is
then the Richardson extrapolation of the gradients at two feasible points 1e-5 and 2e-5 inside (error O(1e-10)).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from scipy import sparse
from scipy.linalg import lapack

from .factor import BlockedFactor, SparseRows, _batched_tri_inv


class LmmObjective(Protocol):
    """What the gradient needs of :class:`mixbayes.likelihood.lmm.LmmObjective` (a protocol, so that this module
    does not import the fit's module)."""

    design: Any
    factor: BlockedFactor
    reml: bool
    n: int

    def __call__(self, theta: np.ndarray) -> float: ...

__all__ = ["lmm_gradient", "lmm_hessian"]

_BOUNDARY_STEP = 1e-5


def _singular_entries(objective: LmmObjective, theta: np.ndarray) -> np.ndarray:
    """Indices of theta entries that are zero diagonal entries of a relative factor."""
    out = []
    for t in objective.design.terms:
        rows, cols = t.tril_index
        idx = t.theta_offset + np.arange(t.n_theta)
        out += [int(i) for i in idx[rows == cols] if theta[i] == 0.0]
    return np.asarray(out, dtype=np.int64)


def lmm_gradient(objective: LmmObjective, theta: np.ndarray) -> np.ndarray:
    """Gradient of the objective (REML criterion or ML deviance) at ``theta``.

    Parameters
    ----------
    objective : the model's :class:`~mixbayes.likelihood.lmm.LmmObjective`; its factor is updated to ``theta``.
    theta : covariance parameters (lme4's order).

    Returns
    -------
    numpy.ndarray
        The gradient; ``nan`` entries where the factor cannot be computed.  On the boundary (zero diagonal
        entries) the one-sided derivative into the feasible region.
    """
    theta = np.asarray(theta, dtype=float)
    zero = _singular_entries(objective, theta)
    if len(zero):
        h = _BOUNDARY_STEP
        g = []
        for step in (h, 2 * h):
            th = theta.copy()
            th[zero] = step
            g.append(_gradient_regular(objective, th))
        objective.factor.update(theta)
        return 2.0 * g[0] - g[1]
    return _gradient_regular(objective, theta)


def _level_sums_first(f: BlockedFactor, k: int, P: np.ndarray) -> np.ndarray:
    """sum_l of the first term's diagonal blocks of V = (Omega^{-1})_{ZZ} (k rows of the dense part)."""
    q1 = f.first.q
    if q1 == 1:
        inv = 1.0 / f.L11.ravel()
        base = np.array([[np.sum(inv * inv)]])
    else:
        Linv = _batched_tri_inv(f.L11)
        inv = Linv
        base = np.einsum("lba,lbc->ac", Linv, Linv)
    if k == 0:
        return base
    Wr, Wx = f.Wr, f.Wx
    m = f.m
    nx = k - m
    dense = isinstance(Wr, np.ndarray) or m == 0
    if dense:
        W = np.vstack([np.asarray(Wr) if m else np.zeros((0, Wx.shape[1])), Wx[:nx]])
        if q1 == 1:
            Y = W * inv[None, :]
        else:
            Y = np.einsum("kla,lab->klb", W.reshape(k, -1, q1), inv).reshape(k, -1)
        out = base.copy()
        for a in range(q1):
            PYa = P @ Y[:, a::q1]
            for b in range(a, q1):
                v = float(np.sum(PYa * Y[:, b::q1]))
                out[a, b] += v
                if b != a:
                    out[b, a] += v
        return out
    if isinstance(Wr, SparseRows):
        Wr = sparse.csr_matrix((Wr.data, Wr.cols, Wr.indptr), shape=Wr.shape) if Wr.indptr is not None else \
            sparse.csr_matrix((Wr.data, (Wr.rows, Wr.cols)), shape=Wr.shape)
    W = sparse.vstack([sparse.csr_matrix(Wr), sparse.csr_matrix(Wx[:nx])], format="csr")
    if q1 == 1:
        Y = W @ sparse.diags(inv)
    else:
        nl = f.first.n_levels
        Y = W @ sparse.bsr_matrix((inv, np.arange(nl), np.arange(nl + 1)), shape=(nl * q1, nl * q1))
    Y = sparse.csc_matrix(Y)
    out = base.copy()
    for a in range(q1):
        Ya = Y[:, a::q1] if q1 > 1 else Y
        for b in range(a, q1):
            Yb = Y[:, b::q1] if q1 > 1 else Y
            G = (Ya @ Yb.T).tocoo()
            v = float(np.sum(P[G.row, G.col] * G.data))
            out[a, b] += v
            if b != a:
                out[b, a] += v
    return out


def _gradient_regular(objective: LmmObjective, theta: np.ndarray) -> np.ndarray:
    f = objective.factor
    if f.theta is None or not np.array_equal(f.theta, theta):
        try:
            f.update(theta)
        except ArithmeticError:
            return np.full(len(theta), np.nan)
    design = objective.design
    terms = design.terms
    m, p = f.m, f.p
    k = m + p if objective.reml else m
    # P = (L_r L_r')^{-1}
    if k:
        Lr = np.array(f.L[:k, :k], order="F")
        Pl, info = lapack.dpotri(Lr, lower=1)
        if info != 0:
            return np.full(len(theta), np.nan)
        P = np.tril(Pl)
        P = P + np.tril(P, -1).T
    else:
        P = np.zeros((0, 0))
    sums = [_level_sums_first(f, k, P)]
    offsets = f.plan.offsets
    for i, t in enumerate(terms[1:]):
        idx = offsets[i] + np.arange(t.n_random).reshape(t.n_levels, t.q)
        sums.append(P[idx[:, :, None], idx[:, None, :]].sum(axis=0))
    # cross-products for the residual term g = Z'W(y - X beta - Z b)
    beta, u = f.solve()
    cp = f.cp
    first = f.first
    q1 = first.q
    T = [t.factor(theta) for t in terms]
    b1 = (u[: first.n_random].reshape(-1, q1) @ T[0].T).ravel()
    br = np.concatenate([(u[first.n_random + offsets[i] : first.n_random + offsets[i + 1]].reshape(-1, t.q)
                          @ T[i + 1].T).ravel() for i, t in enumerate(terms[1:])]) if m else np.zeros(0)
    g1 = cp.Ax1[p] - cp.Ax1[:p].T @ beta
    g1 = g1 - np.einsum("lab,lb->la", cp.A11, b1.reshape(-1, q1)).ravel()
    if m:
        g1 = g1 - cp.Ar1.T @ br
        gr = cp.Arr[m + p, :m] - cp.Arr[m : m + p, :m].T @ beta - cp.Ar1 @ b1 - cp.Arr[:m, :m] @ br
        g = np.concatenate([g1, gr])
    else:
        g = g1
    pwrss = f.pwrss
    scale = (objective.n - p if objective.reml else objective.n) / pwrss
    grad = np.zeros(len(theta))
    start = 0
    for t, Ti, Vsum in zip(terms, T, sums, strict=True):
        nr = t.n_random
        ut = u[start : start + nr].reshape(t.n_levels, t.q)
        gt = g[start : start + nr].reshape(t.n_levels, t.q)
        start += nr
        H = np.linalg.solve(Ti.T, (t.n_levels * np.eye(t.q) - Vsum).T).T  # (l I - sum V) T^{-1}
        D = gt.T @ ut  # D[r, c] = sum_l g_lr u_lc
        rows, cols = t.tril_index
        grad[t.theta_slice] = 2.0 * H[cols, rows] - 2.0 * scale * D[rows, cols]
    return grad


def lmm_hessian(objective: LmmObjective, theta: np.ndarray, lower: np.ndarray, step: float = 1e-4,
                grad: np.ndarray | None = None, central: bool = False) -> np.ndarray:
    """Hessian of the objective by differences of the analytic gradient, symmetrised: forward differences (one
    gradient per parameter, reusing ``grad`` at ``theta`` when given; error O(step)) or, with ``central``,
    central differences (two per parameter; forward for entries on their lower bound)."""
    theta = np.asarray(theta, dtype=float)
    n = len(theta)
    H = np.zeros((n, n))
    g0 = lmm_gradient(objective, theta) if grad is None else grad
    for i in range(n):
        hi = step * max(1.0, abs(theta[i]))
        up = theta.copy()
        up[i] += hi
        dn = theta.copy()
        dn[i] -= hi
        if not central or dn[i] < lower[i]:
            H[:, i] = (lmm_gradient(objective, up) - g0) / hi
        else:
            H[:, i] = (lmm_gradient(objective, up) - lmm_gradient(objective, dn)) / (2 * hi)
    objective.factor.update(theta)
    return 0.5 * (H + H.T)
