"""The blocked Cholesky factor of the penalised least-squares system of a mixed model.

For relative covariance factor Lambda(theta), the factor L satisfies

    L L' = [Lambda' Z'WZ Lambda + I,  Lambda' Z'W[X y];  [X y]'WZ Lambda,  [X y]'W[X y]]

and is computed in two phases (cf. MixedModels.jl's ``updateL!``): scale the stored cross-products by Lambda and
inflate the diagonal, then factor.  The first term's block is block-diagonal (one q1 x q1 Cholesky per level,
batched); everything else is one dense Schur complement factored by LAPACK.  From L:

    log|L_theta|^2   = 2 sum log diag (random-effects part)
    log|R_X|^2       = 2 sum log diag (fixed-effects part)
    pwrss            = (last diagonal element)^2
    beta, u          by back-substitution, b = Lambda u.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.linalg import lapack, solve_triangular

from ..exceptions import FitError
from .crossprod import CrossProductPlan, CrossProducts

__all__ = ["BlockedFactor", "NotPositiveDefinite"]


class SparseRows:
    """A sparse matrix as (rows, cols, data) triples with the two products the factor needs; cheaper than
    scipy.sparse objects for the small, fixed patterns updated at every PIRLS step."""

    __slots__ = ("cols", "data", "indptr", "rows", "shape")

    def __init__(self, rows: np.ndarray, cols: np.ndarray, data: np.ndarray, shape: tuple[int, int],
                 indptr: np.ndarray | None = None) -> None:
        self.rows, self.cols, self.data, self.shape, self.indptr = rows, cols, data, shape, indptr

    def times_dense_t(self, B: np.ndarray) -> np.ndarray:
        """self @ B.T for a dense (k, ncols) B: an (nrows, k) array."""
        if B.shape[0] > 4 and self.indptr is not None:  # wide B: one CSR product beats k bincounts
            csr = sparse.csr_matrix((self.data, self.cols, self.indptr), shape=self.shape)
            return np.asarray(csr @ np.ascontiguousarray(B.T))
        out = np.empty((self.shape[0], B.shape[0]))
        for c in range(B.shape[0]):
            out[:, c] = np.bincount(self.rows, weights=self.data * B[c, self.cols], minlength=self.shape[0])
        return out

    def t_dot(self, v: np.ndarray) -> np.ndarray:
        """self.T @ v."""
        return np.bincount(self.cols, weights=self.data * v[self.rows], minlength=self.shape[1])

    def toarray(self) -> np.ndarray:
        out = np.zeros(self.shape)
        np.add.at(out, (self.rows, self.cols), self.data)
        return out


_DENSE_LIMIT = 60_000  # m * (random effects of the first term) below which Ar1 is handled densely
_DENSE_FILL, _DENSE_MAX = 0.25, 4_000_000  # ... and up to which it is when at least this fraction is non-zero


class NotPositiveDefinite(FitError):
    """The Schur complement lost positive definiteness (theta or weights out of range).  A :class:`FitError` (so an
    :class:`ArithmeticError`), so that one escaping a public call is typed."""


def _batched_tri_inv(L: np.ndarray) -> np.ndarray:
    """Inverse of a stack of lower-triangular matrices (levels, q, q)."""
    q = L.shape[1]
    if q == 1:
        return 1.0 / L
    if q == 2:
        out = np.zeros_like(L)
        out[:, 0, 0] = 1.0 / L[:, 0, 0]
        out[:, 1, 1] = 1.0 / L[:, 1, 1]
        out[:, 1, 0] = -L[:, 1, 0] * out[:, 0, 0] * out[:, 1, 1]
        return out
    return np.linalg.inv(L)


def _batched_cholesky(M: np.ndarray) -> np.ndarray:
    """Cholesky factors of a stack of positive definite matrices (levels, q, q); closed form for q = 2."""
    if M.shape[1] != 2:
        return np.linalg.cholesky(M)
    a = np.sqrt(M[:, 0, 0])
    b = M[:, 1, 0] / a
    c2 = M[:, 1, 1] - b * b
    if not np.all(c2 > 0) or not np.all(np.isfinite(a)):
        raise NotPositiveDefinite("Cholesky failed in a 2 x 2 block of the first term")
    out = np.zeros_like(M)
    out[:, 0, 0] = a
    out[:, 1, 0] = b
    out[:, 1, 1] = np.sqrt(c2)
    return out


class _GramPlan:
    """Ar1 diag(v) Ar1' as a linear map of v: one sparse mat-vec per evaluation instead of a sparse product.

    Used when the first term is scalar, so that W_r W_r' = Lambda_r Ar1 diag(s^2) Ar1' Lambda_r.  Built once from
    the (fixed) sparsity pattern of Ar1: C maps v to the row-major lower triangle of the (m, m) Gram matrix.
    ``refresh`` takes new values of Ar1 (PIRLS changes them every step).
    """

    def __init__(self, Ar1: sparse.csr_matrix) -> None:
        m, ncol = Ar1.shape
        self.m = m
        # column-major order of the CSR entries (rows ascending within a column), by a counting-sort conversion
        pos = sparse.csr_matrix((np.arange(1, Ar1.nnz + 1, dtype=float), Ar1.indices, Ar1.indptr),
                                shape=Ar1.shape).tocsc()
        order = pos.data.astype(np.int64) - 1
        self._order = order
        rows = pos.indices.astype(np.int64)
        cols = np.repeat(np.arange(ncol, dtype=np.int64), np.diff(pos.indptr))
        counts = np.bincount(cols, minlength=ncol)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        pa_list, pb_list, col_list = [], [], []
        for size in np.unique(counts[counts > 0]):
            ks = np.where(counts == size)[0]
            block = starts[ks][:, None] + np.arange(size)[None, :]
            ii, jj = np.tril_indices(size)
            pa_list.append(block[:, ii].ravel())
            pb_list.append(block[:, jj].ravel())
            col_list.append(np.repeat(ks, len(ii)))
        pa = np.concatenate(pa_list) if pa_list else np.zeros(0, np.int64)
        pb = np.concatenate(pb_list) if pb_list else np.zeros(0, np.int64)
        pcol = np.concatenate(col_list) if col_list else np.zeros(0, np.int64)
        flat = rows[pa] * m + rows[pb]  # row-major position in the lower triangle
        if m * m <= 64_000_000:  # unique positions by an occupancy array (no sort)
            present = np.zeros(m * m, dtype=bool)
            present[flat] = True
            uniq = np.flatnonzero(present)
            ids = np.cumsum(present) - 1
            inverse = ids[flat]
        else:
            uniq, inverse = np.unique(flat, return_inverse=True)
        # a sparse Gram matrix is scattered entry by entry; a dense one as a whole (m, m) array
        self.compressed = len(uniq) < (m * m) // 8
        if self.compressed:
            self.rows, self.cols = uniq // m, uniq % m
            self._off = self.rows != self.cols
            C = sparse.csr_matrix((np.arange(1, len(pa) + 1, dtype=float), (inverse, pcol)), shape=(len(uniq), ncol))
        else:
            C = sparse.csr_matrix((np.arange(1, len(pa) + 1, dtype=float), (flat, pcol)), shape=(m * m, ncol))
        C.sum_duplicates()
        self._perm = C.data.astype(np.int64) - 1
        self._pa, self._pb = pa[self._perm], pb[self._perm]
        self.C = C
        self._diag = np.arange(m) * (m + 1)
        self._stride: int | None = None  # row stride of the output the flat scatter indices were built for
        self.refresh(Ar1)

    def refresh(self, Ar1: sparse.csr_matrix) -> None:
        data = Ar1.data[self._order]  # CSR data are in the order tocoo() gives
        self.C.data = data[self._pa] * data[self._pb]

    def gram(self, v: np.ndarray, lam: np.ndarray, out: np.ndarray) -> None:
        """Subtract Lambda_r Ar1 diag(v) Ar1' Lambda_r from the (m, m) block of ``out`` (both triangles)."""
        m = self.m
        if self.compressed:
            g = (self.C @ v) * lam[self.rows] * lam[self.cols]
            stride = out.shape[1]
            if self._stride != stride or not out.flags.c_contiguous:
                self._stride = stride
                self._flat_lo = self.rows * stride + self.cols
                self._flat_up = (self.cols * stride + self.rows)[self._off]
            if out.flags.c_contiguous:
                flat = out.reshape(-1)
                flat[self._flat_lo] -= g
                flat[self._flat_up] -= g[self._off]
            else:
                out[self.rows, self.cols] -= g
                out[self.cols[self._off], self.rows[self._off]] -= g[self._off]
            return
        G = (self.C @ v).reshape(m, m)  # lower triangle
        G *= lam[:, None]
        G *= lam[None, :]
        G.ravel()[self._diag] *= 0.5
        block = out[:m, :m]
        block -= G
        block -= G.T


class BlockedFactor:
    """Workspace holding L for the current theta; arrays are reused between evaluations.

    Parameters
    ----------
    plan : the cross-product plan of the design's terms.
    cp : cross-products for the current weights.
    """

    def __init__(self, plan: CrossProductPlan, cp: CrossProducts) -> None:
        self.plan = plan
        self.cp = cp
        self.first = plan.first
        self.rest = plan.rest
        self.m = plan.m
        self.p = plan.n_fixef
        self.scalar_rest = all(t.q == 1 for t in self.rest)
        self.theta: np.ndarray | None = None
        self._gram: _GramPlan | None = None
        self._dense_src: CrossProducts | None = None
        self._diag_lead_cache: int | None = None
        self._rest_dense_idx: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._rows_cache: np.ndarray | None = None

    def set_crossproducts(self, cp: CrossProducts) -> None:
        """New cross-products with the same sparsity pattern (new weights or response)."""
        self.cp = cp
        self.theta = None
        self._dense_src = None
        if self._gram is not None:
            self._gram.refresh(cp.Ar1)

    @property
    def _diag_lead(self) -> int:
        """Size of a leading block of the Schur complement that stays diagonal for every theta: the second term,
        when it is scalar and each level of the first term meets at most one of its levels (e.g. an
        observation-level term nested in a grouping factor).  Phase 2 then eliminates it without LAPACK."""
        if self._diag_lead_cache is not None:
            return self._diag_lead_cache
        lead = 0
        if self.rest and self.rest[0].q == 1 and self.first.q == 1 and self.m:
            size = self.rest[0].n_random
            Ar1 = self.cp.Ar1
            coo = Ar1.tocoo()
            in_term = coo.row < size
            per_col = np.bincount(coo.col[in_term], minlength=Ar1.shape[1])
            if size > 16 and np.all(per_col <= 1):
                lead = size
        self._diag_lead_cache = lead
        return lead

    def _factor_schur(self, M: np.ndarray) -> np.ndarray:
        """Cholesky factor of the Schur complement M, eliminating a structurally diagonal leading block first."""
        k = self._diag_lead
        if k == 0:
            L, info = lapack.dpotrf(M.T, lower=1, clean=0, overwrite_a=1)
            if info != 0:
                raise NotPositiveDefinite(f"Cholesky failed at pivot {info}")
            return L
        d = np.diagonal(M)[:k].copy()
        if np.any(d <= 0):
            raise NotPositiveDefinite("Cholesky failed in the diagonal block")
        root = np.sqrt(d)
        L21 = M[k:, :k] / root[None, :]
        S = M[k:, k:] - L21 @ L21.T
        L22, info = lapack.dpotrf(S.T, lower=1, clean=1, overwrite_a=1)
        if info != 0:
            raise NotPositiveDefinite(f"Cholesky failed at pivot {k + info}")
        L = np.zeros_like(M, order="F")
        L[np.arange(k), np.arange(k)] = root
        L[k:, :k] = L21
        L[k:, k:] = L22
        return L

    def _gram_plan(self) -> _GramPlan | None:
        if self.first.q != 1 or not self.scalar_rest or self.m < 64:
            return None
        if self._gram is None:
            self._gram = _GramPlan(self.cp.Ar1)
        return self._gram

    # ---- phase 1 and 2 -----------------------------------------------------------------------------------
    def update(self, theta: np.ndarray) -> None:
        """Factor L for ``theta``; raises :class:`NotPositiveDefinite` if that fails."""
        theta = np.asarray(theta, dtype=float)
        self.theta = None  # set again once the factor is complete
        cp = self.cp
        first = self.first
        q1 = first.q
        T1 = first.factor(theta)
        if q1 == 1:
            t = T1[0, 0]
            L11 = np.sqrt(t * t * cp.A11 + 1.0)
            S1 = (t / L11)  # Lambda1 L11^{-T} per level, (l1, 1, 1)
        else:
            M11 = T1.T @ cp.A11 @ T1
            M11 += np.eye(q1)
            L11 = _batched_cholesky(M11)
            S1 = T1 @ np.swapaxes(_batched_tri_inv(L11), 1, 2)  # T1 L11^{-T}
        self.L11, self.S1 = L11, S1
        size = self.m * first.n_random
        if self.m and (size <= _DENSE_LIMIT or (size <= _DENSE_MAX and cp.Ar1.nnz >= _DENSE_FILL * size)):
            self._update_dense(theta, T1, L11, S1)
            return
        # W = [Lambda_r' Ar1 ; Ax1] S1
        if q1 == 1:
            s = S1.ravel()
            Wx = cp.Ax1 * s[None, :]
            if self.m:
                Ar1 = cp.Ar1
                Wr = SparseRows(self._row_of_entry(Ar1), Ar1.indices, Ar1.data * s[Ar1.indices], Ar1.shape,
                                Ar1.indptr)
            else:
                Wr = cp.Ar1
        else:
            p1 = cp.Ax1.shape[0]
            Wx = (np.swapaxes(cp.Ax1.reshape(p1, -1, q1), 0, 1) @ S1).swapaxes(0, 1).reshape(p1, -1)
            if self.m:
                S1_bsr = sparse.bsr_matrix(
                    (S1, np.arange(first.n_levels), np.arange(first.n_levels + 1)),
                    shape=(first.n_random, first.n_random),
                )
                Wr = (cp.Ar1 @ S1_bsr).tocsr()
            else:
                Wr = cp.Ar1
        if self.m:
            lam = self._rest_scaling(theta)
            if lam is not None:  # all rest terms scalar: Lambda_r is diagonal
                Wr.data *= lam[Wr.rows] if isinstance(Wr, SparseRows) else lam[self._row_of_entry(Wr)]
                d = np.concatenate([lam, np.ones(self.p + 1)])
                M = cp.Arr * d[:, None]
                M *= d[None, :]
            else:
                if isinstance(Wr, SparseRows):
                    Wr = sparse.csr_matrix((Wr.data, (Wr.rows, Wr.cols)), shape=Wr.shape)
                M = cp.Arr.copy()
                D = self._rest_block_diag(theta)
                Wr = (D.T @ Wr).tocsr()
                Dfull = sparse.block_diag([D, sparse.identity(self.p + 1)], format="csr")
                M = np.asarray((Dfull.T @ (Dfull.T @ M).T).T)
            M[np.arange(self.m), np.arange(self.m)] += 1.0
            gram = self._gram_plan()
            if gram is not None and lam is not None:
                gram.gram(S1.ravel() ** 2, lam, M)
            else:
                if isinstance(Wr, SparseRows):
                    Wr = sparse.csr_matrix((Wr.data, (Wr.rows, Wr.cols)), shape=Wr.shape)
                M[: self.m, : self.m] -= (Wr @ Wr.T).toarray()
            cross = Wr.times_dense_t(Wx) if isinstance(Wr, SparseRows) else np.asarray(Wr @ Wx.T)
            M[: self.m, self.m :] -= cross
            M[self.m :, : self.m] -= cross.T
        else:
            M = cp.Arr.copy()
        M[self.m :, self.m :] -= Wx @ Wx.T
        L, info = lapack.dpotrf(M.T, lower=1, clean=0, overwrite_a=1)
        if info != 0:
            raise NotPositiveDefinite(f"Cholesky failed at pivot {info}")
        self.L, self.Wr, self.Wx = L, Wr, Wx
        self.theta = theta.copy()

    def _update_dense(self, theta: np.ndarray, T1: np.ndarray, L11: np.ndarray, S1: np.ndarray) -> None:
        """Phase 1 and 2 with a dense Ar1 (small problems: no sparse-matrix overhead)."""
        cp = self.cp
        q1 = self.first.q
        if self._dense_src is not cp:
            self._dense_src = cp
            self._Ar1_dense = cp.Ar1.toarray()
        A = self._Ar1_dense
        if q1 == 1:
            s = S1.ravel()
            Wx = cp.Ax1 * s[None, :]
            Wr = A * s[None, :]
        else:
            p1 = cp.Ax1.shape[0]
            Wx = (np.swapaxes(cp.Ax1.reshape(p1, -1, q1), 0, 1) @ S1).swapaxes(0, 1).reshape(p1, -1)
            Wr = (np.swapaxes(A.reshape(self.m, -1, q1), 0, 1) @ S1).swapaxes(0, 1).reshape(self.m, -1)
        lam = self._rest_scaling(theta)
        if lam is not None:
            Wr *= lam[:, None]
            d = np.concatenate([lam, np.ones(self.p + 1)])
            M = cp.Arr * d[:, None]
            M *= d[None, :]
        else:
            D = self._rest_dense_block_diag(theta)
            Wr = D.T @ Wr
            m = self.m
            M = np.empty_like(cp.Arr)
            M[:m, :m] = D.T @ cp.Arr[:m, :m] @ D
            M[:m, m:] = D.T @ cp.Arr[:m, m:]
            M[m:, :m] = M[:m, m:].T
            M[m:, m:] = cp.Arr[m:, m:]
        M[np.arange(self.m), np.arange(self.m)] += 1.0
        M[: self.m, : self.m] -= Wr @ Wr.T
        cross = Wr @ Wx.T
        M[: self.m, self.m :] -= cross
        M[self.m :, : self.m] -= cross.T
        M[self.m :, self.m :] -= Wx @ Wx.T
        self.L, self.Wr, self.Wx = self._factor_schur(M), Wr, Wx
        self.theta = theta.copy()

    def _row_of_entry(self, W: sparse.csr_matrix) -> np.ndarray:
        if self._rows_cache is None or len(self._rows_cache) != W.nnz:
            self._rows_cache = np.repeat(np.arange(W.shape[0]), np.diff(W.indptr))
        return self._rows_cache

    def _rest_scaling(self, theta: np.ndarray) -> np.ndarray | None:
        if not self.scalar_rest:
            return None
        return np.concatenate([np.full(t.n_levels, theta[t.theta_offset]) for t in self.rest])

    def _rest_dense_block_diag(self, theta: np.ndarray) -> np.ndarray:
        """Lambda_r as a dense (m, m) array, filled through cached indices (no sparse construction)."""
        if getattr(self, "_rest_dense_idx", None) is None:
            rows, cols, src = [], [], []
            for i, t in enumerate(self.rest):
                r, c = t.tril_index
                base = self.plan.offsets[i] + t.q * np.arange(t.n_levels)[:, None]
                rows.append((base + r[None, :]).ravel())
                cols.append((base + c[None, :]).ravel())
                src.append(np.tile(t.theta_offset + np.arange(t.n_theta), t.n_levels))
            self._rest_dense_idx = (np.concatenate(rows), np.concatenate(cols), np.concatenate(src))
        rows, cols, src = self._rest_dense_idx
        D = np.zeros((self.m, self.m))
        D[rows, cols] = theta[src]
        return D

    def _rest_block_diag(self, theta: np.ndarray) -> sparse.csr_matrix:
        blocks = [sparse.kron(sparse.identity(t.n_levels), sparse.csr_matrix(t.factor(theta)))
                  for t in self.rest]
        return sparse.block_diag(blocks, format="csr")

    # ---- pieces of the objective -------------------------------------------------------------------------
    @property
    def logdet_theta(self) -> float:
        """log |Lambda'Z'WZ Lambda + I|."""
        d1 = np.diagonal(self.L11, axis1=1, axis2=2) if self.first.q > 1 else self.L11.ravel()
        return 2.0 * float(np.sum(np.log(d1)) + np.sum(np.log(np.diagonal(self.L)[: self.m])))

    @property
    def logdet_X(self) -> float:
        """log |R_X|^2 (the fixed-effects block)."""
        return 2.0 * float(np.sum(np.log(np.diagonal(self.L)[self.m : self.m + self.p])))

    @property
    def pwrss(self) -> float:
        """Penalised weighted residual sum of squares at the conditional optimum."""
        return float(self.L[-1, -1] ** 2)

    # ---- solutions -----------------------------------------------------------------------------------------
    def solve(self) -> tuple[np.ndarray, np.ndarray]:
        """(beta, u): fixed effects and spherical random effects at the current theta."""
        m, p = self.m, self.p
        L = self.L
        # L' [x; 1] = [0; r] gives x = -[u_r; beta] in one triangular solve on the whole factor
        rhs = np.zeros(L.shape[0])
        rhs[-1] = L[-1, -1]
        z, _ = lapack.dtrtrs(L, rhs, lower=1, trans=1)
        u_r, beta = -z[:m], -z[m : m + p]
        c1 = self.Wx[-1]
        rhs1 = c1 - self.Wx[:p].T @ beta
        if m:
            rhs1 = rhs1 - (self.Wr.t_dot(u_r) if isinstance(self.Wr, SparseRows) else self.Wr.T @ u_r)
        q1 = self.first.q
        if q1 == 1:
            u1 = rhs1 / self.L11.ravel()
        else:
            Lt = np.swapaxes(self.L11, 1, 2)
            u1 = np.linalg.solve(Lt, rhs1.reshape(-1, q1, 1)).reshape(-1)
        return beta, np.concatenate([u1, u_r])

    def unscaled_vcov_beta(self) -> np.ndarray:
        """(R_X' R_X)^{-1}: the covariance of beta divided by sigma^2."""
        m, p = self.m, self.p
        if p == 0:
            return np.zeros((0, 0))
        LXX = self.L[m : m + p, m : m + p]
        inv = solve_triangular(LXX, np.eye(p), lower=True)
        return inv.T @ inv

    def conditional_u_blocks(self) -> list[np.ndarray]:
        """Per term, the (levels, q, q) diagonal blocks of (L_Z L_Z')^{-1}: Var(u | y) / sigma^2."""
        m = self.m
        q1 = self.first.q
        L11inv = _batched_tri_inv(self.L11) if q1 > 1 else 1.0 / self.L11
        first = np.einsum("lba,lbc->lac", L11inv, L11inv) if q1 > 1 else (L11inv**2)
        if not m:
            return [first.reshape(-1, q1, q1)]
        Lrr = self.L[:m, :m]
        # G = L_rr^{-1} W_r L11^{-1}: the lower part of the first block's columns of L_Z^{-1}
        Wr = self.Wr.toarray() if (sparse.issparse(self.Wr) or isinstance(self.Wr, SparseRows)) else \
            np.asarray(self.Wr)
        if q1 == 1:
            WL = Wr * (1.0 / self.L11.ravel())[None, :]
        else:
            WL = (np.swapaxes(Wr.reshape(m, -1, q1), 0, 1) @ L11inv).swapaxes(0, 1).reshape(m, -1)
        G = solve_triangular(Lrr, WL, lower=True)
        Gl = G.reshape(m, -1, q1)
        first = first.reshape(-1, q1, q1) + np.einsum("mla,mlb->lab", Gl, Gl)
        Lrr_inv = solve_triangular(Lrr, np.eye(m), lower=True)
        out = [first]
        for i, t in enumerate(self.rest):
            cols = Lrr_inv[:, self.plan.offsets[i] : self.plan.offsets[i + 1]].reshape(m, t.n_levels, t.q)
            out.append(np.einsum("mla,mlb->lab", cols, cols))
        return out
