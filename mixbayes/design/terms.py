"""Random-effects terms of a design: grouping codes, model columns and the theta -> Lambda map."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

__all__ = ["RandomTerm", "add_simulated_effects", "conditional_covariances", "effect_blocks", "lambda_times",
           "lme4_term_order", "relative_effects"]


@dataclass(frozen=True, eq=False)
class RandomTerm:
    """One random-effects term ``(columns | group)``.

    Attributes
    ----------
    group : grouping factor name (``Subject``, ``site:subject``).
    group_vars : the data columns whose interaction is the grouping factor.
    columns : lme4's column names of the term (``cnms``), e.g. ``("(Intercept)", "Days")``.
    codes : (n,) int array, the level index of each observation.
    levels : level labels, in R's order.
    z : (n, q) float array, the term's model columns.
    covariance : ``"unstructured"`` (all correlations free) for every term; terms split from ``||`` are
        independent of each other, which ``split_from`` records.
    split_from : the ``||`` term this one was split from, or None.
    expr : the explicit lme4 text of the term, e.g. ``(0 + Days | Subject)``.
    theta_offset : position of the term's first theta entry in the model's theta vector.
    spec : how to rebuild ``z`` on new data (a :class:`~mixbayes.design.fixed.MatrixSpec`).
    """

    group: str
    group_vars: tuple[str, ...]
    columns: tuple[str, ...]
    codes: np.ndarray = field(repr=False)
    levels: tuple[str, ...] = field(repr=False)
    z: np.ndarray = field(repr=False)
    covariance: str
    split_from: str | None
    expr: str
    theta_offset: int = 0
    spec: Any = field(default=None, repr=False)

    @property
    def q(self) -> int:
        """Number of columns (random effects per level)."""
        return len(self.columns)

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def n_random(self) -> int:
        """Number of random effects of the term, q times the number of levels."""
        return self.q * self.n_levels

    @property
    def n_theta(self) -> int:
        return self.q * (self.q + 1) // 2

    @property
    def theta_slice(self) -> slice:
        return slice(self.theta_offset, self.theta_offset + self.n_theta)

    @cached_property
    def tril_index(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) of the lower triangle, column-wise: lme4's theta order."""
        rows, cols = [], []
        for j in range(self.q):
            for i in range(j, self.q):
                rows.append(i)
                cols.append(j)
        return np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)

    @property
    def lower(self) -> np.ndarray:
        """Lower bounds of the term's theta: 0 for diagonal entries, -inf for the others."""
        rows, cols = self.tril_index
        return np.where(rows == cols, 0.0, -np.inf)

    @property
    def theta0(self) -> np.ndarray:
        """lme4's starting theta: identity factor."""
        rows, cols = self.tril_index
        return (rows == cols).astype(float)

    @property
    def lambda_index(self) -> np.ndarray:
        """(q, q) int array: the global theta index of each entry of the relative factor, -1 where zero."""
        out = np.full((self.q, self.q), -1, dtype=np.int64)
        rows, cols = self.tril_index
        out[rows, cols] = self.theta_offset + np.arange(self.n_theta)
        return out

    def factor(self, theta: np.ndarray) -> np.ndarray:
        """The (q, q) lower-triangular relative covariance factor T from the model's whole theta vector."""
        if self.q == 1:
            return np.asarray(theta, dtype=float)[self.theta_offset : self.theta_offset + 1].reshape(1, 1)
        t = np.zeros((self.q, self.q))
        rows, cols = self.tril_index
        t[rows, cols] = np.asarray(theta)[self.theta_slice]
        return t

    def counts(self) -> np.ndarray:
        """Observations per level."""
        return np.bincount(self.codes, minlength=self.n_levels)

    def z_times(self, b: np.ndarray) -> np.ndarray:
        """The term's contribution Z_t b_t to the linear predictor, for its (levels, q) random effects ``b``."""
        if self.q == 1:
            return self.z[:, 0] * b[self.codes, 0]
        return np.einsum("ij,ij->i", self.z, b[self.codes])

    def __repr__(self) -> str:
        return f"RandomTerm({self.expr}, levels={self.n_levels}, q={self.q})"


def effect_blocks(terms: Sequence[RandomTerm], v: np.ndarray) -> list[np.ndarray]:
    """Split a vector of random effects (level-major within each term, in the design's term order) into one
    (levels, q) block per term."""
    blocks, pos = [], 0
    for t in terms:
        blocks.append(v[pos : pos + t.n_random].reshape(t.n_levels, t.q))
        pos += t.n_random
    return blocks


def relative_effects(terms: Sequence[RandomTerm], theta: np.ndarray, u: np.ndarray) -> list[np.ndarray]:
    """b = Lambda(theta) u per term, as (levels, q) blocks (u: the spherical random effects)."""
    return [blk @ t.factor(theta).T for t, blk in zip(terms, effect_blocks(terms, u), strict=True)]


def lambda_times(terms: Sequence[RandomTerm], theta: np.ndarray, u: np.ndarray) -> np.ndarray:
    """b = Lambda(theta) u as one vector in the design's order."""
    return np.concatenate([b.ravel() for b in relative_effects(terms, theta, u)])


def conditional_covariances(terms: Sequence[RandomTerm], theta: np.ndarray, u_blocks: list[np.ndarray],
                            scale2: float = 1.0) -> list[np.ndarray]:
    """Per term, the (levels, q, q) conditional covariances of b = Lambda u from those of u (``u_blocks``, in units
    of ``scale2``: sigma^2 for a linear mixed model, 1 otherwise)."""
    out = []
    for t, blk in zip(terms, u_blocks, strict=True):
        T = t.factor(theta)
        out.append(scale2 * (T @ blk @ T.T))
    return out


def add_simulated_effects(eta: np.ndarray, terms: Sequence[RandomTerm], theta: np.ndarray,
                          rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """``eta`` plus Z b for random effects b drawn from N(0, scale^2 Lambda Lambda'), term by term."""
    for t in terms:
        b = rng.standard_normal((t.n_levels, t.q)) @ t.factor(theta).T * scale
        eta = eta + t.z_times(b)
    return eta


def lme4_term_order(n_levels: list[int]) -> list[int]:
    """lme4's ``mkReTrms`` ordering: if any term has more levels than the one before it, terms are put in
    ``rev(order(nl))`` order (decreasing levels, ties reversed); otherwise the formula order stays."""
    if any(b > a for a, b in itertools.pairwise(n_levels)):
        ascending = sorted(range(len(n_levels)), key=lambda i: n_levels[i])
        return ascending[::-1]
    return list(range(len(n_levels)))
