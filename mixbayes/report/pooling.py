"""The numbers behind ``mb.shrinkage``: pooled estimates per group, and the random-effects columns of a grouping
factor.  Computation only: the plots (:mod:`.plots`) and the displayed object (:mod:`.shrinkage`) import it,
never the reverse."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..arguments import closest
from ..exceptions import UnknownGroupError

__all__ = ["PooledEstimates", "group_columns", "held_offset"]


@dataclass(kw_only=True, repr=False)
class PooledEstimates:
    """Per-group estimates under no, complete and partial pooling (the numbers of
    :class:`~mixbayes.report.shrinkage.Shrinkage`, which adds its text, HTML and plots).

    Attributes
    ----------
    group : the grouping factor.
    columns : the coefficients compared (the random-effects columns of ``group``).
    n : observations per group.
    no_pooling : groups x columns; NaN where a group's own regression is not estimable.
    complete_pooling : one value per column (NaN for a column that is not a fixed effect).
    partial_pooling : groups x columns, from the likelihood fit (``fit.coef``).
    posterior : groups x columns, posterior means of the Bayesian fit's coefficients (None without one).
    population : the mixed model's fixed effects for the columns (0 for a column that is not a fixed effect).
    """

    group: str
    columns: list[str]
    n: pd.Series
    no_pooling: pd.DataFrame
    complete_pooling: pd.Series
    partial_pooling: pd.DataFrame
    posterior: pd.DataFrame | None
    population: pd.Series
    fit: Any = field(repr=False, default=None)
    bayes_fit: Any = field(repr=False, default=None)

    @property
    def table(self) -> pd.DataFrame:
        """One row per group: ``n`` and, per column, the no-pooling, complete-pooling, partial-pooling and
        posterior estimates (MultiIndex columns: estimate kind, coefficient)."""
        parts = {("n", ""): self.n}
        sources = [("no_pooling", self.no_pooling), ("complete_pooling", None),
                   ("partial_pooling", self.partial_pooling)]
        if self.posterior is not None:
            sources.append(("posterior", self.posterior))
        for kind, frame in sources:
            for col in self.columns:
                if frame is None:
                    parts[(kind, col)] = pd.Series(self.complete_pooling[col], index=self.n.index)
                else:
                    parts[(kind, col)] = frame[col]
        out = pd.DataFrame(parts)
        out.columns = pd.MultiIndex.from_tuples(out.columns)
        return out

    @property
    def between(self) -> pd.DataFrame:
        """Per group and column: whether the likelihood's partial-pooling estimate lies between the group's
        no-pooling estimate and the population value (True, False, or NaN when no pooling is not estimable)."""
        out = {}
        for col in self.columns:
            a, b, c = self.no_pooling[col], self.population[col], self.partial_pooling[col]
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            tol = 1e-9 * (1 + np.abs(c))
            res = ((c >= lo - tol) & (c <= hi + tol)).astype(object)
            res[a.isna()] = np.nan
            out[col] = res
        return pd.DataFrame(out)


def _group_terms(fit: Any, group: str | None) -> tuple[str, list[Any]]:
    terms = list(fit.design.terms)
    group = terms[0].group if group is None else group
    chosen = [t for t in terms if t.group == group]
    if not chosen:
        raise UnknownGroupError(f"no random-effects term is grouped by {group!r}; grouping factors: "
                                f"{', '.join(dict.fromkeys(t.group for t in terms))}"
                                f"{closest(str(group), [t.group for t in terms])}")
    return group, chosen


def group_columns(fit: Any, group: str | None = None) -> tuple[str, list[str], np.ndarray, np.ndarray, tuple]:
    """(group, columns, Z (n x k), codes, levels) of a grouping factor's random-effects terms together."""
    group, terms = _group_terms(fit, group)
    cols: list[str] = []
    zs = []
    for t in terms:
        for k, c in enumerate(t.columns):
            if c not in cols:
                cols.append(c)
                zs.append(t.z[:, k])
    return group, cols, np.column_stack(zs), terms[0].codes, tuple(terms[0].levels)


def held_offset(fit: Any, columns: list[str]) -> np.ndarray:
    """The offset plus the fixed effects outside ``columns`` at the mixed model's estimates (what a per-group
    regression on ``columns`` holds fixed)."""
    d = fit.design
    other = [j for j, name in enumerate(d.fixef_names) if name not in columns]
    return d.offset + (d.X[:, other] @ fit.beta[other] if other else 0.0)
