"""The cross-product (Gram) blocks of a Gaussian LMM: everything its marginal likelihood needs from the data.

Model: y = X beta + Z b + offset + e, e ~ N(0, sigma^2 W^-1).  The random-effects columns are split into

* the **block** part Z1: the terms of one grouping factor (J levels, Q1 columns per level), whose cross-product
  Z1'WZ1 is block-diagonal, one Q1 x Q1 block per level;
* the **Schur** part Z2: every other term (Q2 columns in all), whose blocks are kept dense.

With y already corrected for the offset, the marginal likelihood (:mod:`mixbayes.bayes.schur`) is a function of
the weighted cross-products alone:

====================  ====================  ======================================================
field                 shape                 holds
====================  ====================  ======================================================
``Z1Z1``              (J, Q1, Q1)           Z1_j' W Z1_j per level j of the block factor
``Z2Z1``              sparse (Q2, J Q1)     Z2' W Z1 (column j Q1 + a: level j, column a)
``Z2Z2``              (Q2, Q2)              Z2' W Z2
``Z1X``, ``Z2X``      (J, Q1, p), (Q2, p)   Z1' W X, Z2' W X
``XX``                (p, p)                X' W X
``Z1y``, ``Z2y``      (J, Q1), (Q2,)        Z1' W y, Z2' W y
``Xy``, ``yy``        (p,), scalar          X' W y, y' W y
``n``, ``sum_logw``   scalars               number of observations, sum of log weights
====================  ====================  ======================================================

Every field is a sum over observations, so the blocks of disjoint sets of rows add up (``a + b``): they can be
reduced out of core, partition by partition (:meth:`GramBlocks.from_rows` per partition, then ``sum``).
The response parts (``Z1y``, ``Z2y``, ``Xy``, ``yy``) may be symbolic (PyTensor) expressions, so that the observed
values stay an input of a compiled sampler (:meth:`RowData.response_blocks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import sparse

__all__ = ["GramBlocks", "GramLayout", "RowData", "gram_layout"]


@dataclass(frozen=True)
class GramLayout:
    """Which random-effects terms form the block part and which the Schur part.

    Attributes
    ----------
    block_terms : indices (in the model's term order) of the terms of the block factor.
    block_sizes : their numbers of columns (q); Q1 is their sum.
    J : levels of the block factor.
    schur_terms : indices of the other terms.
    schur_shapes : (levels, q) of each Schur term; its effects are level-major, as lme4's b.
    """

    block_terms: tuple[int, ...]
    block_sizes: tuple[int, ...]
    J: int
    schur_terms: tuple[int, ...]
    schur_shapes: tuple[tuple[int, int], ...]

    @property
    def Q1(self) -> int:
        return sum(self.block_sizes)

    @property
    def Q2(self) -> int:
        return sum(lv * q for lv, q in self.schur_shapes)

    @property
    def schur_offsets(self) -> list[int]:
        out = [0]
        for lv, q in self.schur_shapes:
            out.append(out[-1] + lv * q)
        return out


def gram_layout(terms: Sequence[Any], block_group: str, exclude: Sequence[int] = ()) -> GramLayout:
    """The layout with the terms of grouping factor ``block_group`` as the block part and the other terms, except
    those in ``exclude`` (sampled by the partial form), as the Schur part."""
    block = tuple(k for k, t in enumerate(terms) if t.group == block_group)
    rest = tuple(k for k, t in enumerate(terms) if t.group != block_group and k not in exclude)
    return GramLayout(block, tuple(terms[k].q for k in block), terms[block[0]].n_levels, rest,
                      tuple((terms[k].n_levels, terms[k].q) for k in rest))


@dataclass(kw_only=True)
class GramBlocks:
    """Weighted cross-products of (Z1, Z2, X, y): see the module docstring for the fields."""

    layout: GramLayout
    n: float
    sum_logw: float
    Z1Z1: np.ndarray
    Z2Z1: sparse.csr_matrix
    Z2Z2: np.ndarray
    Z1X: np.ndarray
    Z2X: np.ndarray
    XX: np.ndarray
    Z1y: Any
    Z2y: Any
    Xy: Any
    yy: Any

    def __add__(self, other: GramBlocks) -> GramBlocks:
        if other.layout != self.layout:
            raise ValueError("Gram blocks of different layouts cannot be added")
        return GramBlocks(layout=self.layout, n=self.n + other.n, sum_logw=self.sum_logw + other.sum_logw,
                          Z1Z1=self.Z1Z1 + other.Z1Z1, Z2Z1=(self.Z2Z1 + other.Z2Z1).tocsr(),
                          Z2Z2=self.Z2Z2 + other.Z2Z2, Z1X=self.Z1X + other.Z1X, Z2X=self.Z2X + other.Z2X,
                          XX=self.XX + other.XX, Z1y=self.Z1y + other.Z1y, Z2y=self.Z2y + other.Z2y,
                          Xy=self.Xy + other.Xy, yy=self.yy + other.yy)

    def __radd__(self, other: Any) -> GramBlocks:  # sum() starts from 0
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented

    @classmethod
    def from_rows(cls, layout: GramLayout, codes: np.ndarray, Z1: np.ndarray, Z2: sparse.spmatrix, X: np.ndarray,
                  y: np.ndarray, w: np.ndarray | None = None) -> GramBlocks:
        """The blocks of a set of rows.

        Parameters
        ----------
        layout : the term layout.
        codes : (n,) level of the block factor of each row (0..J-1).
        Z1 : (n, Q1) the block terms' model columns (one row per observation, not expanded over levels).
        Z2 : (n, Q2) the Schur terms' columns of Z (sparse).
        X : (n, p) fixed-effects columns; y : (n,) response minus offset; w : (n,) positive weights (None: 1).
        """
        return RowData(layout=layout, codes=codes, Z1=Z1, Z2=Z2, X=X, w=w).response_blocks(y, np)

    def with_response(self, Z1y: Any, Z2y: Any, Xy: Any, yy: Any) -> GramBlocks:
        """The same design blocks with other response cross-products."""
        return replace(self, Z1y=Z1y, Z2y=Z2y, Xy=Xy, yy=yy)


class RowData:
    """The rows of a design, held to compute its :class:`GramBlocks` for a response (NumPy or symbolic).

    The design blocks are computed once; :meth:`response_blocks` adds Z1'Wy, Z2'Wy, X'Wy and y'Wy for a response
    ``y`` given as a NumPy array or a PyTensor vector (then those four are symbolic).
    """

    def __init__(self, *, layout: GramLayout, codes: np.ndarray, Z1: np.ndarray, Z2: sparse.spmatrix, X: np.ndarray,
                 w: np.ndarray | None = None) -> None:
        n = len(codes)
        self.layout = layout
        self.codes = np.asarray(codes, dtype=np.int64)
        self.Z1 = np.asarray(Z1, dtype=float).reshape(n, layout.Q1)
        self.Z2 = sparse.csr_matrix(Z2, dtype=float)
        self.X = np.asarray(X, dtype=float).reshape(n, -1)
        self.w = np.ones(n) if w is None else np.asarray(w, dtype=float)
        J, Q1 = layout.J, layout.Q1
        wz1 = self.Z1 * self.w[:, None]
        Z1Z1 = np.zeros((J, Q1, Q1))
        np.add.at(Z1Z1, self.codes, wz1[:, :, None] * self.Z1[:, None, :])
        Z1X = np.zeros((J, Q1, self.X.shape[1]))
        np.add.at(Z1X, self.codes, wz1[:, :, None] * self.X[:, None, :])
        cols = (self.codes[:, None] * Q1 + np.arange(Q1)[None, :]).ravel()
        rows = np.repeat(np.arange(n), Q1)
        # Z1 expanded over levels: (n, J Q1), and weighted
        Z1e = sparse.csr_matrix((self.Z1.ravel(), (rows, cols)), shape=(n, J * Q1))
        self.Z1w = sparse.csr_matrix((wz1.ravel(), (rows, cols)), shape=(n, J * Q1))
        Z2w = self.Z2.multiply(self.w[:, None]).tocsr()
        self.Z2w_t = Z2w.T.tocsr()  # (Q2, n)
        self.design = GramBlocks(layout=layout, n=float(n), sum_logw=float(np.sum(np.log(self.w))), Z1Z1=Z1Z1,
                                 Z2Z1=(self.Z2w_t @ Z1e).tocsr(),
                                 Z2Z2=np.asarray((self.Z2w_t @ self.Z2).todense()).reshape(layout.Q2, layout.Q2),
                                 Z1X=Z1X, Z2X=np.asarray(self.Z2w_t @ self.X).reshape(layout.Q2, -1),
                                 XX=(self.X * self.w[:, None]).T @ self.X, Z1y=None, Z2y=None, Xy=None, yy=None)

    def response_blocks(self, y: Any, backend: Any) -> GramBlocks:
        """The blocks for response ``y`` (minus offset): ``backend`` is ``numpy`` or ``pytensor.tensor``."""
        J, Q1 = self.layout.J, self.layout.Q1
        wy = self.w * y
        if backend is np:
            Z1y = np.asarray(self.Z1w.T @ y).reshape(J, Q1)
            Z2y = np.asarray(self.Z2w_t @ y).reshape(-1)
            return self.design.with_response(Z1y, Z2y, self.X.T @ wy, float(np.dot(wy, y)))
        Z1y = _sparse_times(self.Z1w.T.tocsr(), y).reshape((J, Q1))
        Z2y = _sparse_times(self.Z2w_t, y)
        return self.design.with_response(Z1y, Z2y, backend.dot(self.X.T, wy), backend.sum(wy * y))


def _sparse_times(M: sparse.csr_matrix, x: Any) -> Any:
    """M @ x for a constant sparse M and a symbolic vector x: a dense product when small, else gather-scatter."""
    import pytensor.tensor as pt

    if M.shape[0] * M.shape[1] <= 250_000:
        return pt.dot(np.asarray(M.toarray()), x)
    coo = M.tocoo()
    return pt.inc_subtensor(pt.zeros(M.shape[0])[coo.row], coo.data * x[coo.col])
