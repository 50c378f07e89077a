"""Weighted cross-products of [Z X y], for one design and any weights.

Storage is chosen once, as MixedModels.jl does: the first term (the most levels) keeps its diagonal blocks as a
(levels, q, q) array; its cross-products with the other terms are sparse and with [X y] dense; all other terms
and [X y] form one dense block.  :class:`CrossProductPlan` caches the sparsity patterns, so recomputing the
blocks for new weights (PIRLS in a GLMM) is a handful of ``bincount`` calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..design.terms import RandomTerm

__all__ = ["CrossProductPlan", "CrossProducts"]


@dataclass
class CrossProducts:
    """The blocks of A = [Z X y]' W [Z X y].

    A11 : (l1, q1, q1) diagonal blocks of Z1'WZ1 (first term).
    Ar1 : sparse (m, l1*q1): Zr'WZ1, Zr stacking the other terms (m random effects).
    Ax1 : (p+1, l1*q1) dense: [X y]'WZ1.
    Arr : (m+p+1, m+p+1) dense: [Zr X y]'W[Zr X y].
    """

    A11: np.ndarray
    Ar1: sparse.csr_matrix
    Ax1: np.ndarray
    Arr: np.ndarray


def _level_index(term: RandomTerm) -> np.ndarray:
    """(n, q) index of each observation's random effects within the term."""
    return term.codes[:, None] * term.q + np.arange(term.q)[None, :]


class CrossProductPlan:
    """Sparsity patterns of the cross-products of a set of terms (computed once)."""

    def __init__(self, terms: tuple[RandomTerm, ...], n_fixef: int) -> None:
        if not terms:
            raise ValueError("a mixed model needs at least one random-effects term")
        self.terms = terms
        self.first = terms[0]
        self.rest = terms[1:]
        self.n_fixef = n_fixef
        self.sizes = [t.n_random for t in terms]
        self.m = sum(self.sizes[1:])
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes[1:])]).astype(np.int64)
        n1 = self.first.n_random
        idx1 = _level_index(self.first)
        # pattern of Zr' Z1: keys (row, col) over all column pairs, unique-sorted -> CSR order
        keys, self._pair_shape = [], []
        for i, t in enumerate(self.rest):
            rows = _level_index(t) + self.offsets[i]
            k = rows[:, :, None].astype(np.int64) * n1 + idx1[:, None, :]
            keys.append(k.reshape(len(t.codes), t.q * self.first.q))
        if keys:
            allkeys = np.concatenate(keys, axis=1).ravel()
            if self.m * n1 <= 16_000_000:  # unique keys by an occupancy array (no sort)
                present = np.zeros(self.m * n1, dtype=bool)
                present[allkeys] = True
                uniq = np.flatnonzero(present)
                inverse = (np.cumsum(present) - 1)[allkeys]
            else:
                uniq, inverse = np.unique(allkeys, return_inverse=True)
            self._r1_inverse = inverse
            self._r1_nnz = len(uniq)
            rows, cols = uniq // n1, uniq % n1
            indptr = np.searchsorted(rows, np.arange(self.m + 1))
            self._r1_indices = cols.astype(np.int32)
            self._r1_indptr = indptr.astype(np.int32)
        # dense index of the rest terms' entries in Arr
        self._rest_idx = [_level_index(t) + self.offsets[i] for i, t in enumerate(self.rest)]
        self._template: sparse.csr_matrix | None = None
        self._stack_cache: dict[tuple[int, int, int], np.ndarray] = {}

    def _stacked(self, codes: np.ndarray, n_levels: int, k: int) -> np.ndarray:
        """Codes repeated for k stacked columns: column c's codes shifted by c * n_levels (cached)."""
        key = (id(codes), n_levels, k)
        if key not in self._stack_cache:
            self._stack_cache[key] = (np.arange(k)[:, None] * n_levels + codes[None, :]).ravel()
        return self._stack_cache[key]

    def _r1_template(self, ncols: int) -> sparse.csr_matrix:
        """The CSR matrix with Zr'Z1's pattern, shared by every compute(): its data are replaced each time, so a
        CrossProducts' Ar1 is valid until the next compute() of the same plan."""
        if self._template is None:
            self._template = sparse.csr_matrix(
                (np.zeros(self._r1_nnz), self._r1_indices, self._r1_indptr), shape=(self.m, ncols))
        return self._template

    def compute(self, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> CrossProducts:
        sw = np.sqrt(w)
        first = self.first
        z1 = first.z * sw[:, None]
        xy = np.column_stack([X, y]) * sw[:, None]
        q1, nl1 = first.q, first.n_levels
        A11 = np.empty((nl1, q1, q1))
        for a in range(q1):
            for b in range(a, q1):
                v = np.bincount(first.codes, weights=z1[:, a] * z1[:, b], minlength=nl1)
                A11[:, a, b] = v
                A11[:, b, a] = v
        p1 = xy.shape[1]
        Ax1 = np.empty((p1, nl1 * q1))
        for b in range(q1):
            Ax1[:, b::q1] = np.bincount(self._stacked(first.codes, nl1, p1), weights=(xy * z1[:, b : b + 1]).T.ravel(),
                                        minlength=p1 * nl1).reshape(p1, nl1)
        m = self.m
        size = m + p1
        Arr = np.zeros((size, size))
        if self.rest:
            zr = [t.z * sw[:, None] for t in self.rest]
            vals = np.concatenate(
                [(z[:, :, None] * z1[:, None, :]).reshape(len(z), -1) for z in zr], axis=1
            ).ravel()
            data = np.bincount(self._r1_inverse, weights=vals, minlength=self._r1_nnz)
            Ar1 = self._r1_template(nl1 * q1)
            Ar1.data = data
            off = self.offsets
            for i, zi in enumerate(zr):
                ti = self.rest[i]
                for j in range(i + 1):
                    tj, zj = self.rest[j], zr[j]
                    if ti.q == 1 and tj.q == 1:
                        if i == j:  # a scalar term's own block is diagonal
                            diag = np.bincount(ti.codes, weights=zi[:, 0] * zi[:, 0], minlength=ti.n_levels)
                            idx = np.arange(off[i], off[i + 1])
                            Arr[idx, idx] = diag
                        else:
                            block = np.bincount(ti.codes * tj.n_levels + tj.codes, weights=zi[:, 0] * zj[:, 0],
                                                minlength=ti.n_levels * tj.n_levels).reshape(ti.n_levels, tj.n_levels)
                            Arr[off[i] : off[i + 1], off[j] : off[j + 1]] = block
                            Arr[off[j] : off[j + 1], off[i] : off[i + 1]] = block.T
                        continue
                    ri, rj = self._rest_idx[i] - off[i], self._rest_idx[j] - off[j]
                    key = (ri[:, :, None] * tj.n_random + rj[:, None, :]).ravel()
                    v = (zi[:, :, None] * zj[:, None, :]).ravel()
                    block = np.bincount(key, weights=v, minlength=ti.n_random * tj.n_random).reshape(
                        ti.n_random, tj.n_random)
                    Arr[off[i] : off[i + 1], off[j] : off[j + 1]] = block
                    if j < i:
                        Arr[off[j] : off[j + 1], off[i] : off[i + 1]] = block.T
                # [X y]-by-term block
                for a in range(ti.q):
                    cols = off[i] + a + ti.q * np.arange(ti.n_levels)
                    Arr[m:, cols] = np.bincount(self._stacked(ti.codes, ti.n_levels, p1),
                                                weights=(xy * zi[:, a : a + 1]).T.ravel(),
                                                minlength=p1 * ti.n_levels).reshape(p1, ti.n_levels)
            Arr[:m, m:] = Arr[m:, :m].T
        else:
            if self._template is None:
                self._template = sparse.csr_matrix((0, nl1 * q1))
            Ar1 = self._template
        Arr[m:, m:] = xy.T @ xy
        return CrossProducts(A11=A11, Ar1=Ar1, Ax1=Ax1, Arr=Arr)
