"""The Gaussian random effects integrated out: marginal log-likelihood and exact conditional draws.

Model: y = X beta + Z b + offset + e, e ~ N(0, sigma^2 W^-1), b ~ N(0, sigma^2 Lambda Lambda') with Lambda the
block-diagonal relative covariance factor (lme4's).  With r = y - X beta - offset, c = Lambda' Z'W r and

    A = Lambda' Z'WZ Lambda + I = L L',     w = L^-1 c,

the matrix determinant lemma and Woodbury's identity give

    log p(y | beta, Lambda, sigma) = -1/2 [n log(2 pi sigma^2) - sum log W + log|A| + (r'Wr - w'w) / sigma^2]

and the conditional of the spherical effects u (b = Lambda u) is N(A^-1 c, sigma^2 A^-1), drawn as
u = L^-T (w + sigma eps).

Two forms here (the third, through the blocked factor, is in :mod:`mixbayes.bayes.schur`; the choice between them
is made in :mod:`mixbayes.bayes.forms`):

* :class:`BlockMarginal` - every term shares one grouping factor: A is block-diagonal with one Q x Q block per
  level (Q = total columns, at most :data:`BLOCK_MAX_Q`); the Cholesky factors are unrolled into elementwise
  operations over the levels (no LAPACK call; cost linear in the number of levels), and the log-likelihood
  splits into one term per level (used for leave-one-group-out LOO).
* :class:`DenseMarginal` - crossed or nested factors: A is a dense q x q matrix (q = all random effects,
  at most :data:`DENSE_MAX_Q`) factored by Cholesky at every gradient evaluation (cost q^3 / 3).

Both have a symbolic form (``graph``: PyTensor, for every sampler) and a NumPy form (``loglik``/``draw``: the
post-processing), written once over "lists of arrays" so that the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..design.matrices import ModelMatrices

__all__ = ["BLOCK_MAX_Q", "DENSE_MAX_Q", "BlockMarginal", "DenseMarginal", "level_crossproducts"]

BLOCK_MAX_Q = 6
"""Largest number of random-effect columns per level for the unrolled block form."""

DENSE_MAX_Q = 200
"""Former size limit of the dense form, kept for callers; the choice is now made by estimated cost
(:mod:`mixbayes.bayes.forms`)."""

LOG_2PI = float(np.log(2.0 * np.pi))


# ---- unrolled small-matrix algebra on lists of arrays (NumPy or PyTensor) -------------------------------------

def _chol(A: list[list[Any]], sqrt: Callable[[Any], Any]) -> list[list[Any]]:
    """Cholesky factor of a symmetric matrix given as nested lists of arrays (elementwise over the arrays)."""
    Q = len(A)
    L: list[list[Any]] = [[None] * Q for _ in range(Q)]
    for j in range(Q):
        s = A[j][j]
        for k in range(j):
            s = s - L[j][k] * L[j][k]
        L[j][j] = sqrt(s)
        for i in range(j + 1, Q):
            s = A[i][j]
            for k in range(j):
                s = s - L[i][k] * L[j][k]
            L[i][j] = s / L[j][j]
    return L


def _forward(L: list[list[Any]], c: list[Any]) -> list[Any]:
    """Solve L w = c (lower triangular)."""
    w: list[Any] = []
    for i in range(len(c)):
        s = c[i]
        for k in range(i):
            s = s - L[i][k] * w[k]
        w.append(s / L[i][i])
    return w


def _backward(L: list[list[Any]], t: list[Any]) -> list[Any]:
    """Solve L' u = t."""
    Q = len(t)
    u: list[Any] = [None] * Q
    for i in reversed(range(Q)):
        s = t[i]
        for k in range(i + 1, Q):
            s = s - L[k][i] * u[k]
        u[i] = s / L[i][i]
    return u


def _lambda_entries(T: Sequence[Any], sizes: Sequence[int]) -> list[list[Any]]:
    """The Q x Q block-diagonal relative factor as nested lists (None for structural zeros).

    ``T[k]`` is term k's lower-triangular factor, indexable as ``T[k][i, j]`` (or ``T[k][..., i, j]``).
    """
    Q = sum(sizes)
    lam: list[list[Any]] = [[None] * Q for _ in range(Q)]
    pos = 0
    for Tk, q in zip(T, sizes, strict=True):
        for i in range(q):
            for j in range(i + 1):
                lam[pos + i][pos + j] = Tk[..., i, j]
        pos += q
    return lam


def _quadratic_pieces(lam: list[list[Any]], M: np.ndarray, ztwr: list[Any], one: Any) -> tuple[list[list[Any]],
                                                                                              list[Any]]:
    """A = Lambda' M Lambda + I and c = Lambda' Z'Wr per level, M[:, c, d] the levels' Z'WZ entries."""
    Q = len(lam)
    nz = [[c for c in range(Q) if lam[c][a] is not None] for a in range(Q)]
    A: list[list[Any]] = [[None] * Q for _ in range(Q)]
    for a in range(Q):
        for b in range(a + 1):
            s = one if a == b else 0.0
            for c in nz[a]:
                for d in nz[b]:
                    m = M[:, c, d]
                    if np.any(m != 0):
                        s = s + lam[c][a] * lam[d][b] * m
            A[a][b] = s
            A[b][a] = s
    cvec = []
    for a in range(Q):
        s = 0.0
        for c in nz[a]:
            s = s + lam[c][a] * ztwr[c]
        cvec.append(s)
    return A, cvec


def level_crossproducts(z: np.ndarray, codes: np.ndarray, w: np.ndarray, levels: int) -> np.ndarray:
    """(levels, q, q): Z_j'W Z_j per level, from the rows' columns ``z`` (n, q), level codes and weights."""
    out = np.zeros((levels, z.shape[1], z.shape[1]))
    np.add.at(out, codes, (w[:, None] * z)[:, :, None] * z[:, None, :])
    return out


# ---- one grouping factor: block form ----------------------------------------------------------------------------

class BlockMarginal:
    """Marginal likelihood when all terms share one grouping factor (per-level Q x Q blocks).

    Parameters
    ----------
    design : the design (Gaussian, identity link).
    rows : boolean mask of the observations in the likelihood (positive weights).
    term_indices : the terms integrated out (all by default); they must share one grouping factor.  A subset
        serves the ``partial`` form (:mod:`mixbayes.bayes.forms`), whose other terms are sampled
        and enter through the residual ``r``.
    """

    form = "block"

    @property
    def width(self) -> int:
        """Array elements per draw in the NumPy computations (to size chunks of draws)."""
        return len(self.codes) * (self.Q + 2) + self.J * (self.Q + 1) ** 2

    def __init__(self, design: ModelMatrices, rows: np.ndarray, term_indices: Sequence[int] | None = None) -> None:
        self.term_indices = list(range(len(design.terms))) if term_indices is None else list(term_indices)
        terms = [design.terms[k] for k in self.term_indices]
        if len({t.group for t in terms}) != 1:
            raise ValueError("the terms of a block form must share one grouping factor")
        self.sizes = [t.q for t in terms]
        self.Q = sum(self.sizes)
        self.codes = np.asarray(terms[0].codes)[rows]
        self.J = terms[0].n_levels
        self.Z = np.hstack([t.z for t in terms])[rows]
        self.w = np.asarray(design.weights, dtype=float)[rows]
        J = self.J
        self.ZtWZ = level_crossproducts(self.Z, self.codes, self.w, J)
        self.n_j = np.bincount(self.codes, minlength=J).astype(float)
        self.logw_j = np.bincount(self.codes, weights=np.log(self.w), minlength=J)
        # indicator products for the per-level sums of w r^2 and w z r
        self.G = self._indicator()

    def _indicator(self) -> Any:
        from scipy import sparse

        n = len(self.codes)
        return sparse.csr_matrix((np.ones(n), (self.codes, np.arange(n))), shape=(self.J, n))

    # ---- symbolic -------------------------------------------------------------------------------------------------
    def graph(self, r: Any, sigma: Any, T: Sequence[Any]) -> Any:
        """Per-level marginal log-likelihood (J,) as a PyTensor expression."""
        import pytensor.tensor as pt

        J, Q = self.J, self.Q
        vals = pt.stack([self.w * r * r] + [self.w * self.Z[:, a] * r for a in range(Q)], axis=1)
        if J * len(self.codes) <= 250_000:  # a dense (J, n) product beats a scatter for moderate sizes
            sums = pt.dot(np.asarray(self.G.toarray()), vals)
        else:
            sums = pt.inc_subtensor(pt.zeros((J, Q + 1))[self.codes], vals)
        rwr = sums[:, 0]
        ztwr = [sums[:, 1 + a] for a in range(Q)]
        lam = _lambda_entries(T, self.sizes)
        A, c = _quadratic_pieces(lam, self.ZtWZ, ztwr, 1.0)
        L = _chol(A, pt.sqrt)
        w = _forward(L, c)
        logdet = 0.0
        quad = rwr
        for a in range(Q):
            logdet = logdet + 2.0 * pt.log(L[a][a])
            quad = quad - w[a] * w[a]
        s2 = sigma * sigma
        return -0.5 * (self.n_j * (LOG_2PI + pt.log(s2)) - self.logw_j + logdet + quad / s2)

    # ---- NumPy (post-processing, vectorised over draws) ------------------------------------------------------------
    def _pieces(self, r: np.ndarray, sigma: np.ndarray, T: Sequence[np.ndarray]) -> tuple[Any, ...]:
        # r: (S, n); sigma: (S,); T[k]: (S, q, q)
        wr = r * self.w
        rwr = np.asarray((self.G @ (wr * r).T).T)
        ztwr = [np.asarray((self.G @ (wr * self.Z[:, a]).T).T) for a in range(self.Q)]
        Ts = [t[:, None] for t in T]  # broadcast over levels: (S, 1, q, q)
        lam = _lambda_entries(Ts, self.sizes)
        A, c = _quadratic_pieces(lam, self.ZtWZ, ztwr, np.ones((1, 1)))
        L = _chol(A, np.sqrt)
        w = _forward(L, c)
        return rwr, L, w

    def loglik(self, r: np.ndarray, sigma: np.ndarray, T: Sequence[np.ndarray]) -> np.ndarray:
        """Per-level marginal log-likelihood, (S, J)."""
        rwr, L, w = self._pieces(r, sigma, T)
        logdet = sum(2.0 * np.log(L[a][a]) for a in range(self.Q))
        quad = rwr - sum(wa * wa for wa in w)
        s2 = (sigma * sigma)[:, None]
        return -0.5 * (self.n_j * (LOG_2PI + np.log(s2)) - self.logw_j + logdet + quad / s2)

    def draw(self, r: np.ndarray, sigma: np.ndarray, T: Sequence[np.ndarray],
             rng: np.random.Generator) -> list[np.ndarray]:
        """Random effects b per term, (S, J, q_k), drawn from their exact conditional distribution."""
        _, L, w = self._pieces(r, sigma, T)
        S = r.shape[0]
        eps = rng.standard_normal((self.Q, S, self.J))
        t = [w[a] + sigma[:, None] * eps[a] for a in range(self.Q)]
        u = _backward(L, t)
        out = []
        pos = 0
        for Tk, q in zip(T, self.sizes, strict=True):
            uk = np.stack(u[pos : pos + q], axis=-1)  # (S, J, q)
            out.append(np.einsum("sij,slj->sli", Tk, uk))
            pos += q
        return out


# ---- crossed or nested factors: dense form ---------------------------------------------------------------------

class DenseMarginal:
    """Marginal likelihood for any random-effects structure through a dense q x q Cholesky factor."""

    form = "dense"

    @property
    def width(self) -> int:
        """Array elements per draw in the NumPy computations (to size chunks of draws)."""
        return self.n * 2 + 3 * self.q * self.q

    def __init__(self, design: ModelMatrices, rows: np.ndarray) -> None:
        self.terms = design.terms
        self.rows = rows
        self.w = np.asarray(design.weights, dtype=float)[rows]
        Z = design.Z[rows]
        ZtWZ = (Z.T @ Z.multiply(self.w[:, None]).tocsc()).toarray()
        self.ZtWZ = ZtWZ
        self.Zt_w = (Z.multiply(self.w[:, None])).T.tocsr()  # q x n
        self.offsets = [int(v) for v in design.Gp]
        self.n = int(rows.sum())
        self.logw = float(np.sum(np.log(self.w)))
        self.q = design.n_random

    def _blocks(self, s: int, t: int) -> np.ndarray:
        a0, a1 = self.offsets[s], self.offsets[s + 1]
        b0, b1 = self.offsets[t], self.offsets[t + 1]
        ts, tt = self.terms[s], self.terms[t]
        return self.ZtWZ[a0:a1, b0:b1].reshape(ts.n_levels, ts.q, tt.n_levels, tt.q)

    def graph(self, r: Any, sigma: Any, T: Sequence[Any]) -> Any:
        """Total marginal log-likelihood (scalar) as a PyTensor expression."""
        import pytensor.tensor as pt
        from pytensor.tensor import linalg as slinalg

        K = len(self.terms)
        rows = []
        for s in range(K):
            row = []
            for t in range(K):
                if t < s:
                    row.append(None)
                    continue
                B = self._blocks(s, t)  # (l_s, q_s, l_t, q_t)
                left = pt.tensordot(T[s], B, axes=[[0], [1]])  # (a, l_s, l_t, q_t)
                full = pt.tensordot(left, T[t], axes=[[3], [0]])  # (a, l_s, l_t, b)
                full = full.dimshuffle(1, 0, 2, 3).reshape((self.terms[s].n_random, self.terms[t].n_random))
                row.append(full)
            rows.append(row)
        for s in range(K):
            for t in range(s):
                rows[s][t] = rows[t][s].T
        A = pt.concatenate([pt.concatenate(row, axis=1) for row in rows], axis=0) + pt.eye(self.q)
        ztwr = pt.dot(self.Zt_w.toarray(), r) if self.q * self.n <= 250_000 else self._sparse_ztwr(r)
        cs = []
        for k, t in enumerate(self.terms):
            seg = ztwr[self.offsets[k] : self.offsets[k + 1]].reshape((t.n_levels, t.q))
            cs.append(pt.dot(seg, T[k]).reshape((t.n_random,)))
        c = pt.concatenate(cs)
        L = slinalg.cholesky(A, lower=True)
        w = slinalg.solve_triangular(L, c, lower=True)
        logdet = 2.0 * pt.sum(pt.log(pt.diag(L)))
        quad = pt.sum(self.w * r * r) - pt.sum(w * w)
        s2 = sigma * sigma
        return -0.5 * (self.n * (LOG_2PI + pt.log(s2)) - self.logw + logdet + quad / s2)

    def _sparse_ztwr(self, r: Any) -> Any:
        import pytensor.tensor as pt

        coo = self.Zt_w.tocoo()
        return pt.inc_subtensor(pt.zeros(self.q)[coo.row], coo.data * r[coo.col])

    def _A_c(self, r: np.ndarray, T: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """A (S, q, q) and c (S, q) for S draws: r (S, n), T[k] (S, q_k, q_k)."""
        S = r.shape[0]
        K = len(self.terms)
        A = np.empty((S, self.q, self.q))
        for s in range(K):
            a0, a1 = self.offsets[s], self.offsets[s + 1]
            for t in range(s, K):
                b0, b1 = self.offsets[t], self.offsets[t + 1]
                blk = np.einsum("xca,icjd,xdb->xiajb", T[s], self._blocks(s, t), T[t], optimize=True)
                A[:, a0:a1, b0:b1] = blk.reshape(S, a1 - a0, b1 - b0)
                if t > s:
                    A[:, b0:b1, a0:a1] = np.swapaxes(A[:, a0:a1, b0:b1], 1, 2)
        A += np.eye(self.q)
        ztwr = np.asarray(self.Zt_w @ r.T).T  # (S, q)
        c = np.empty((S, self.q))
        for k, t in enumerate(self.terms):
            seg = ztwr[:, self.offsets[k] : self.offsets[k + 1]].reshape(S, t.n_levels, t.q)
            c[:, self.offsets[k] : self.offsets[k + 1]] = np.einsum("xlc,xca->xla", seg, T[k]).reshape(S, -1)
        return A, c

    def _solve(self, r: np.ndarray, T: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        A, c = self._A_c(r, T)
        L = np.linalg.cholesky(A)
        w = np.linalg.solve(L, c[..., None])[..., 0]
        return L, w

    def loglik(self, r: np.ndarray, sigma: np.ndarray, T: Sequence[np.ndarray]) -> np.ndarray:
        """Total marginal log-likelihood per draw, (S,)."""
        L, w = self._solve(r, T)
        logdet = 2.0 * np.sum(np.log(np.diagonal(L, axis1=1, axis2=2)), axis=1)
        quad = np.sum(self.w * r * r, axis=1) - np.sum(w * w, axis=1)
        s2 = sigma**2
        return -0.5 * (self.n * (LOG_2PI + np.log(s2)) - self.logw + logdet + quad / s2)

    def draw(self, r: np.ndarray, sigma: np.ndarray, T: Sequence[np.ndarray],
             rng: np.random.Generator) -> list[np.ndarray]:
        """Random effects b per term, (S, l_k, q_k), drawn from their exact conditional distribution."""
        L, w = self._solve(r, T)
        S = r.shape[0]
        t_ = w + sigma[:, None] * rng.standard_normal((S, self.q))
        u = np.linalg.solve(np.swapaxes(L, 1, 2), t_[..., None])[..., 0]
        out = []
        for k, t in enumerate(self.terms):
            uk = u[:, self.offsets[k] : self.offsets[k + 1]].reshape(S, t.n_levels, t.q)
            out.append(np.einsum("slj,sij->sli", uk, T[k]))
        return out
