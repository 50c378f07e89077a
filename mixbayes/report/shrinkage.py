"""``mb.shrinkage``: no pooling, complete pooling and partial pooling, group by group.

For one grouping factor (by default the first: the one with the most levels) and the columns of its
random-effects terms (e.g. ``(Intercept)`` and ``Days`` for ``(Days | Subject)``):

- **no pooling**: a separate regression in each group on those columns (least squares, or a GLM by IRLS for other
  families).  Fixed effects outside the random term (and offsets) are held at the mixed model's estimates and
  moved into the offset, so that the per-group coefficients are comparable to ``coef``;
- **complete pooling**: one regression on all the fixed effects, ignoring the groups;
- **partial pooling**: the mixed model's group-level coefficients, fixed plus random effects (lme4's ``coef``),
  from the likelihood fit and, when given, the posterior means of the Bayesian fit.

The partial-pooling estimate of a group lies between its no-pooling estimate and the population value, closer to
the population the fewer observations the group has and the larger the residual variance is compared with the
between-group variance.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import _bayes
from .format import Displayed, TextTable, fmt
from .pooling import PooledEstimates, group_columns, held_offset
from .regression import fit_regression

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Shrinkage", "shrinkage"]


@dataclass(repr=False)
class Shrinkage(PooledEstimates, Displayed):
    """Per-group estimates under no, complete and partial pooling (see :func:`shrinkage`), shown as a table, as
    HTML and as plots; the attributes are those of :class:`~mixbayes.report.pooling.PooledEstimates`."""

    def plot(self, ax: Axes | None = None) -> Figure:
        """The shrinkage plot: two-dimensional (arrows in the plane of the first two columns) when the term has a
        slope, one-dimensional otherwise.  Returns the matplotlib Figure."""
        from . import plots

        if len(self.columns) >= 2:
            return plots.shrinkage_plot_2d(self, ax=ax)
        return plots.shrinkage_plot_1d(self, ax=ax)

    def plot_lines(self, max_groups: int = 24) -> Figure:
        """Per-group fitted lines over the data (no, complete and partial pooling)."""
        from . import plots

        return plots.fitted_lines_plot(self, max_groups=max_groups)

    def _text_table(self, max_rows: int = 40) -> TextTable:
        header = [self.group, "n"]
        groups = [("", 2)]
        sources = [("no pooling", self.no_pooling), ("partial (likelihood)", self.partial_pooling)]
        if self.posterior is not None:
            sources.append(("partial (posterior)", self.posterior))
        for title, _ in sources:
            header += list(self.columns)
            groups.append((title, len(self.columns)))
        t = TextTable(header=header, groups=groups, right=[False] + [True] * (len(header) - 1),
                      css_class="mb-table mb-shrinkage")
        levels = list(self.n.index)
        shown = levels if len(levels) <= max_rows else levels[: max_rows - 1]
        for lev in shown:
            cells = [str(lev), str(int(self.n[lev]))]
            for _, frame in sources:
                cells += [fmt(frame.loc[lev, c]) for c in self.columns]
            t.add(cells)
        if len(shown) < len(levels):
            t.add([f"... {len(levels) - len(shown)} more"] + [""] * (len(header) - 1))
        pooled = ["complete pooling", ""]
        for _ in sources:
            pooled += [fmt(self.complete_pooling[c]) for c in self.columns]
        t.add(pooled, "section-like")
        return t

    def to_text(self) -> str:
        return (f"Shrinkage by {self.group} ({len(self.n)} groups)\n" + self._text_table().to_text()
                + "\n(complete pooling: one regression ignoring the groups)")

    def to_html(self) -> str:
        return (f"<p class='caption'>Estimates by {html.escape(self.group)}: no pooling (a regression per group), "
                "partial pooling (the mixed model) and, in the last row, complete pooling.</p>"
                + self._text_table().to_html())


def shrinkage(fit: Any, bayes_fit: Any = None, group: str | None = None) -> Shrinkage:
    """No-pooling, complete-pooling and partial-pooling estimates per group.

    Parameters
    ----------
    fit : LmmFit or GlmmFit
        The likelihood fit (the two fits may also be given in either order).
    bayes_fit : BayesFit, optional
        Adds the posterior means of the group-level coefficients.
    group : str, optional
        The grouping factor (default: that of the first random-effects term).

    Returns
    -------
    Shrinkage
        ``.table``, ``.plot()`` (the shrinkage plot), ``.plot_lines()`` (fitted lines per group).

    Examples
    --------
    >>> import mixbayes as mb
    >>> fit = mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    >>> s = mb.shrinkage(fit)
    >>> s.columns
    ['(Intercept)', 'Days']
    """
    if _bayes.is_bayes_fit(fit) and bayes_fit is not None and not _bayes.is_bayes_fit(bayes_fit):
        fit, bayes_fit = bayes_fit, fit
    d = fit.design
    group, cols, Z, codes, levels = group_columns(fit, group)
    index = pd.Index([str(v) for v in levels], name=group)
    fixef = fit.fixef
    names = list(d.fixef_names)
    offset = held_offset(fit, cols)
    fam = d.family
    rows = []
    for j in range(len(levels)):
        m = codes == j
        r = fit_regression(Z[m], d.y[m], d.weights[m], offset[m], fam)
        rows.append(r.coef)
    no_pool = pd.DataFrame(np.vstack(rows), index=index, columns=cols)
    pooled = fit_regression(d.X, d.y, d.weights, d.offset, fam)
    complete = pd.Series([pooled.coef[names.index(c)] if c in names else np.nan for c in cols], index=cols)
    population = pd.Series([float(fixef[c]) if c in names else 0.0 for c in cols], index=cols)
    partial = fit.coef[group][cols].copy()
    partial.index = index
    post = None
    if bayes_fit is not None:
        post = _bayes.coef_posterior(bayes_fit)[group][cols].copy()
        post.index = index
    n = pd.Series(np.bincount(codes, minlength=len(levels)), index=index, name="n")
    return Shrinkage(group=group, columns=cols, n=n, no_pooling=no_pool, complete_pooling=complete,
                     partial_pooling=partial, posterior=post, population=population, fit=fit, bayes_fit=bayes_fit)
