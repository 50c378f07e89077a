"""Array backends of the blocked-Schur likelihood (:mod:`mixbayes.bayes.schur`): the same code runs on NumPy
values or PyTensor variables through these small operation tables, plus the two helpers both use (the sparse
product with Z2'WZ1 and the sandwich Lambda2' S Lambda2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import linalg as sla

from .gram import GramLayout

# ---- backends ------------------------------------------------------------------------------------------------------

class _NumpyOps:
    sqrt, log, matmul, dot = (staticmethod(np.sqrt), staticmethod(np.log), staticmethod(np.matmul),
                              staticmethod(np.dot))
    stack, concatenate = staticmethod(np.stack), staticmethod(np.concatenate)
    tensordot, sum = staticmethod(np.tensordot), staticmethod(np.sum)

    @staticmethod
    def chol(S: np.ndarray) -> np.ndarray:
        return np.linalg.cholesky(S)

    @staticmethod
    def solve_lower(L: np.ndarray, b: np.ndarray) -> np.ndarray:
        return sla.solve_triangular(L, b, lower=True)

    @staticmethod
    def diag(L: np.ndarray) -> np.ndarray:
        return np.diagonal(L)

    @staticmethod
    def scatter(size: int, index: np.ndarray, values: np.ndarray) -> np.ndarray:
        return np.bincount(index, weights=values, minlength=size)


class _TensorOps:
    def __init__(self) -> None:
        import pytensor.tensor as pt
        from pytensor.tensor import linalg

        self.pt, self.linalg = pt, linalg
        self.sqrt, self.log, self.stack, self.concatenate = pt.sqrt, pt.log, pt.stack, pt.concatenate
        self.tensordot, self.matmul, self.dot, self.sum, self.diag = pt.tensordot, pt.matmul, pt.dot, pt.sum, pt.diag

    def chol(self, S: Any) -> Any:
        return self.linalg.cholesky(S, lower=True)

    def solve_lower(self, L: Any, b: Any) -> Any:
        return self.linalg.solve_triangular(L, b, lower=True)

    def scatter(self, size: int, index: np.ndarray, values: Any) -> Any:
        return self.pt.inc_subtensor(self.pt.zeros(size)[index], values)


def _ops(backend: str) -> Any:
    return _NumpyOps() if backend == "numpy" else _TensorOps()



def _sparse_matvec(G: Any, x: Any, ops: Any, transpose: bool = False) -> Any:
    """G @ x (or G' @ x) for the constant sparse Z2'WZ1 and a NumPy or symbolic vector."""
    M = G.T.tocsr() if transpose else G
    if isinstance(ops, _NumpyOps):
        return np.asarray(M @ x).reshape(-1)
    if M.shape[0] * M.shape[1] <= 250_000:
        return ops.dot(np.asarray(M.toarray()), x)
    coo = M.tocoo()
    return ops.scatter(M.shape[0], coo.row, coo.data * x[coo.col])


def _sandwich(S_inner: Any, layout: GramLayout, T2: Sequence[Any], ops: Any) -> Any:
    """Lambda2' S_inner Lambda2 for a symmetric Q2 x Q2 matrix, term block by term block."""
    off = layout.schur_offsets
    shapes = layout.schur_shapes
    K = len(shapes)
    rows: list[list[Any]] = [[None] * K for _ in range(K)]
    for s in range(K):
        for t in range(s, K):
            (ls, qs), (lt, qt) = shapes[s], shapes[t]
            B = S_inner[off[s] : off[s + 1], off[t] : off[t + 1]].reshape((ls, qs, lt, qt))
            left = ops.tensordot(T2[s], B, axes=[[0], [1]])  # (a, l_s, l_t, q_t)
            full = ops.tensordot(left, T2[t], axes=[[3], [0]]).transpose(1, 0, 2, 3)  # (l_s, a, l_t, b)
            rows[s][t] = full.reshape((ls * qs, lt * qt))
    for s in range(K):
        for t in range(s):
            rows[s][t] = rows[t][s].T
    return ops.concatenate([ops.concatenate(r, axis=1) for r in rows], axis=0)
