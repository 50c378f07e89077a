"""The report's plots.  Each function returns a matplotlib :class:`~matplotlib.figure.Figure` made by
:func:`mixbayes.figure.new_figure`: registered with pyplot in scripts (``plt.show()`` shows it), displayed once as
the cell's result in Jupyter, and built without pyplot inside the HTML report.  matplotlib is imported when a plot
is drawn, never at ``import mixbayes``.  ``figure_png`` renders one to PNG bytes with the Agg canvas.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..bayes.plots import divergence_pairs_plot, trace_rank_plot
from . import _bayes
from .pooling import PooledEstimates, group_columns, held_offset

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .compare import Comparison

__all__ = [
    "caterpillar_plot",
    "comparison_plot",
    "divergence_pairs_plot",
    "figure_png",
    "fitted_lines_plot",
    "shrinkage_plot_1d",
    "shrinkage_plot_2d",
    "trace_rank_plot",
]

NO_POOL = "#d95f02"
PARTIAL = "#1b9e77"
POSTERIOR = "#7570b3"
POOLED = "#222222"


def _figure(width: float, height: float) -> Figure:
    from ..figure import new_figure

    return new_figure(width, height)


def _axes(ax: Axes | None, width: float, height: float) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = _figure(width, height)
    return fig, fig.add_subplot()


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (Agg canvas, whatever the session's backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


# ---- shrinkage -----------------------------------------------------------------------------------------------------

def _ellipse(cov: np.ndarray, centre: np.ndarray, level: float) -> np.ndarray:
    from scipy import stats

    r = np.sqrt(stats.chi2.ppf(level, 2))
    vals, vecs = np.linalg.eigh(cov)
    t = np.linspace(0, 2 * np.pi, 200)
    circle = np.vstack([np.cos(t), np.sin(t)]) * r
    return (vecs @ (np.sqrt(np.clip(vals, 0, None))[:, None] * circle)).T + centre


def _term_cov(shr: PooledEstimates, a: str, b: str) -> np.ndarray | None:
    fit = shr.fit
    if fit is None:
        return None
    for term in fit.varcorr.terms:
        if term.group == shr.group and a in term.columns and b in term.columns:
            i, j = term.columns.index(a), term.columns.index(b)
            return np.asarray(term.cov)[np.ix_([i, j], [i, j])]
    return None


def shrinkage_plot_2d(shr: PooledEstimates, ax: Axes | None = None, columns: tuple[str, str] | None = None) -> Figure:
    """Arrows in the plane of two coefficients (default: the first two columns, e.g. intercept and slope) from
    each group's no-pooling estimate to its partial-pooling estimate; complete pooling and the population value
    marked, with the 50% and 95% contours of the estimated random-effects distribution."""
    a, b = columns or (shr.columns[0], shr.columns[1])
    fig, ax = _axes(ax, 7.0, 7.0)
    nop, part = shr.no_pooling[[a, b]], shr.partial_pooling[[a, b]]
    ok = nop.notna().all(axis=1)
    cov = _term_cov(shr, a, b)
    if cov is not None:
        centre = shr.population[[a, b]].to_numpy(float)
        for level, style in ((0.5, ":"), (0.95, "--")):
            e = _ellipse(cov, centre, level)
            ax.plot(e[:, 0], e[:, 1], style, color="#999999", lw=1,
                    label=f"{int(level * 100)}% of groups (estimated distribution)")
    for lev in nop.index[ok]:
        ax.annotate("", xy=(part.loc[lev, a], part.loc[lev, b]), xytext=(nop.loc[lev, a], nop.loc[lev, b]),
                    arrowprops={"arrowstyle": "->", "color": "#888888", "lw": 0.9, "shrinkA": 2, "shrinkB": 2})
    ax.scatter(nop.loc[ok, a], nop.loc[ok, b], s=36, facecolors="white", edgecolors=NO_POOL, lw=1.5,
               label="no pooling (regression per group)", zorder=3)
    ax.scatter(part[a], part[b], s=30, color=PARTIAL, label="partial pooling (REML/ML)", zorder=4)
    if shr.posterior is not None:
        post = shr.posterior[[a, b]]
        ax.scatter(post[a], post[b], s=26, marker="^", color=POSTERIOR, label="partial pooling (posterior mean)",
                   zorder=4, alpha=0.85)
    if np.all(np.isfinite(shr.complete_pooling[[a, b]])):
        ax.scatter([shr.complete_pooling[a]], [shr.complete_pooling[b]], s=160, marker="X", color=POOLED,
                   label="complete pooling (one regression)", zorder=5)
    ax.scatter([shr.population[a]], [shr.population[b]], s=140, marker="+", color=POOLED, lw=2,
               label="population (fixed effects)", zorder=5)
    ax.set_xlabel(a)
    ax.set_ylabel(b)
    missing = int((~ok).sum())
    ax.set_title(f"Shrinkage by {shr.group}: no pooling \u2192 partial pooling"
                 + (f" ({missing} groups without a per-group fit)" if missing else ""), fontsize=11)
    _legend_below(fig, ax, ncol=2)
    ax.grid(alpha=0.25)
    return fig


def _legend_below(fig: Figure, ax: Axes, ncol: int, handles: list[Any] | None = None) -> None:
    """The legend outside the axes, under them (so that it never covers data): a figure legend when the figure
    is ours, else under the axes."""
    kwargs: dict[str, Any] = {"fontsize": 8, "ncol": ncol, "frameon": False}
    if handles is not None:
        kwargs["handles"] = handles
    if len(fig.axes) == 1 and fig.get_layout_engine() is not None:
        fig.legend(loc="outside lower center", **kwargs)
    else:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), **kwargs)


def shrinkage_plot_1d(shr: PooledEstimates, ax: Axes | None = None, column: str | None = None) -> Figure:
    """For one coefficient (intercept-only models): each group's no-pooling estimate joined to its
    partial-pooling estimate(s); complete pooling and the population value as horizontal lines; point size
    grows with the group size."""
    col = column or shr.columns[0]
    fig, ax = _axes(ax, 6.5, 5.0)
    sources = [("no pooling", shr.no_pooling[col], NO_POOL), ("partial pooling\n(REML/ML)", shr.partial_pooling[col],
                                                               PARTIAL)]
    if shr.posterior is not None:
        sources.append(("partial pooling\n(posterior)", shr.posterior[col], POSTERIOR))
    size = 12 + 60 * shr.n / max(shr.n.max(), 1)
    for lev in shr.n.index:
        ys = [s[1][lev] for s in sources]
        ax.plot(range(len(ys)), ys, color="#aaaaaa", lw=0.8, zorder=1)
    for x, (_, values, colour) in enumerate(sources):
        ax.scatter(np.full(len(values), x), values, s=size, color=colour, zorder=3, alpha=0.9)
    if np.isfinite(shr.complete_pooling[col]):
        ax.axhline(shr.complete_pooling[col], color=POOLED, ls="--", lw=1, label="complete pooling")
    ax.axhline(shr.population[col], color=POOLED, ls=":", lw=1.2, label="population (fixed effect)")
    ax.set_xticks(range(len(sources)), [s[0] for s in sources])
    ax.set_xlim(-0.4, len(sources) - 0.6)
    ax.set_ylabel(col)
    ax.set_title(f"Shrinkage by {shr.group} (point size: group size)", fontsize=11)
    _legend_below(fig, ax, ncol=2)
    ax.grid(alpha=0.25, axis="y")
    return fig


def _select(levels: list[Any], k: int) -> list[Any]:
    if len(levels) <= k:
        return levels
    idx = np.unique(np.linspace(0, len(levels) - 1, k).round().astype(int))
    return [levels[i] for i in idx]


def fitted_lines_plot(shr: PooledEstimates, max_groups: int = 24) -> Figure:
    """Per group, the data with the no-pooling, complete-pooling and partial-pooling lines (for a term with a
    slope: lines against the first slope's column, other fixed effects at their group means; for an
    intercept-only term: the data per group with the three levels as short horizontal bars)."""
    fit = shr.fit
    d = fit.design
    _, cols, Z, codes, _ = group_columns(fit, shr.group)
    inv = d.family.link.inverse
    rest = held_offset(fit, cols)
    levels = list(shr.n.index)
    slope = next((k for k, c in enumerate(cols) if c != "(Intercept)"), None)
    y = d.y
    if slope is None:
        return _intercept_lines(shr, codes, y, rest, inv, max_groups)
    xcol = cols[slope]
    chosen = _select(levels, max_groups)
    ncol = min(6, len(chosen))
    nrow = int(np.ceil(len(chosen) / ncol))
    fig = _figure(2.1 * ncol + 0.6, 1.9 * nrow + 0.9)
    axes = fig.subplots(nrow, ncol, sharex=True, sharey=True, squeeze=False)
    x_all = Z[:, slope]
    grid = np.linspace(np.min(x_all), np.max(x_all), 50)
    icept = cols.index("(Intercept)") if "(Intercept)" in cols else None

    def line(frame: pd.DataFrame | pd.Series, lev: Any, shift: float) -> np.ndarray:
        row = frame if isinstance(frame, pd.Series) else frame.loc[lev]
        a = float(row[cols[icept]]) if icept is not None else 0.0
        return inv(a + float(row[xcol]) * grid + shift)

    for k, lev in enumerate(chosen):
        ax = axes[k // ncol, k % ncol]
        j = levels.index(lev)
        m = codes == j
        shift = float(np.mean(rest[m])) if m.any() else 0.0
        ax.scatter(x_all[m], y[m], s=9, color="#555555", zorder=2)
        if shr.no_pooling.loc[lev].notna().all():
            ax.plot(grid, line(shr.no_pooling, lev, shift), color=NO_POOL, ls="--", lw=1.2)
        if shr.complete_pooling.notna().all():
            ax.plot(grid, line(shr.complete_pooling, lev, shift), color=POOLED, ls=":", lw=1.2)
        ax.plot(grid, line(shr.partial_pooling, lev, shift), color=PARTIAL, lw=1.6)
        if shr.posterior is not None:
            ax.plot(grid, line(shr.posterior, lev, shift), color=POSTERIOR, lw=1.0, alpha=0.9)
        ax.set_title(f"{lev} (n={int(shr.n[lev])})", fontsize=8)
        ax.tick_params(labelsize=7)
    for k in range(len(chosen), nrow * ncol):
        axes[k // ncol, k % ncol].set_visible(False)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=NO_POOL, ls="--", label="no pooling"),
               Line2D([], [], color=POOLED, ls=":", label="complete pooling"),
               Line2D([], [], color=PARTIAL, lw=1.6, label="partial pooling (REML/ML)")]
    if shr.posterior is not None:
        handles.append(Line2D([], [], color=POSTERIOR, label="partial pooling (posterior)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8)
    note = "" if len(chosen) == len(levels) else f" ({len(chosen)} of {len(levels)} groups)"
    fig.suptitle(f"Fitted lines by {shr.group}{note}: {d.formula.response_text} against {xcol}", fontsize=11)
    return fig


def _intercept_lines(shr: PooledEstimates, codes: np.ndarray, y: np.ndarray, rest: np.ndarray, inv: Any,
                     max_groups: int) -> Figure:
    levels = list(shr.n.index)
    order = shr.no_pooling.iloc[:, 0].fillna(shr.partial_pooling.iloc[:, 0]).sort_values().index.tolist()
    chosen = _select(order, max(max_groups, 40))
    fig = _figure(max(6.0, 0.32 * len(chosen) + 2), 4.6)
    ax = fig.add_subplot()
    col = shr.columns[0]
    rng = np.random.default_rng(0)
    for x, lev in enumerate(chosen):
        j = levels.index(lev)
        m = codes == j
        shift = float(np.mean(rest[m])) if m.any() else 0.0
        ax.scatter(x + rng.uniform(-0.15, 0.15, m.sum()), y[m], s=8, color="#777777", zorder=2)
        for frame, colour, lw in ((shr.no_pooling, NO_POOL, 2.0), (shr.partial_pooling, PARTIAL, 2.4),
                                  (shr.posterior, POSTERIOR, 1.4)):
            if frame is not None and np.isfinite(frame.loc[lev, col]):
                ax.hlines(inv(frame.loc[lev, col] + shift), x - 0.35, x + 0.35, color=colour, lw=lw, zorder=3)
    if np.isfinite(shr.complete_pooling[col]):
        ax.axhline(inv(shr.complete_pooling[col] + float(np.mean(rest))), color=POOLED, ls=":", lw=1.2)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=NO_POOL, lw=2, label="no pooling (group mean)"),
               Line2D([], [], color=PARTIAL, lw=2.4, label="partial pooling (REML/ML)"),
               Line2D([], [], color=POOLED, ls=":", label="complete pooling")]
    if shr.posterior is not None:
        handles.insert(2, Line2D([], [], color=POSTERIOR, lw=1.4, label="partial pooling (posterior)"))
    _legend_below(fig, ax, ncol=len(handles), handles=handles)
    ax.set_xticks(range(len(chosen)), [str(v) for v in chosen], rotation=90 if len(chosen) > 12 else 0, fontsize=8)
    ax.set_xlabel(shr.group + ("" if len(chosen) == len(levels) else f" ({len(chosen)} of {len(levels)})"))
    ax.set_ylabel(str(shr.fit.design.formula.response_text))
    ax.set_title(f"The data by {shr.group}, with the group estimates", fontsize=11)
    ax.grid(alpha=0.25, axis="y")
    return fig


# ---- random effects ------------------------------------------------------------------------------------------------

def caterpillar_plot(fit: Any, bayes_fit: Any = None, group: str | None = None, max_levels: int = 60) -> Figure:
    """Random effects per level with intervals: the likelihood's conditional modes +- 1.96 conditional SDs and,
    beside them, the posterior means with central 95% intervals; one panel per random-effects column, levels
    sorted by the conditional mode.  Either fit may be the Bayesian one (then alone: posterior only)."""
    from ..bayes.plots import posterior_caterpillar
    from ..results.caterpillar import fit_caterpillar

    if _bayes.is_bayes_fit(fit) and bayes_fit is None:
        return posterior_caterpillar(fit, group, max_levels)
    if _bayes.is_bayes_fit(fit):
        fit, bayes_fit = bayes_fit, fit
    post = None if bayes_fit is None else _bayes.ranef_posterior(bayes_fit)
    return fit_caterpillar(fit, group, post, max_levels)


# ---- the comparison ------------------------------------------------------------------------------------------------

def comparison_plot(cmp: Comparison) -> Figure:
    """One row per parameter: the likelihood estimate with its 95% interval above the posterior centre with its
    95% interval (each row on its own scale)."""
    tab = cmp.table
    rows = [r for r in tab.index if np.isfinite(tab.loc[r, "estimate"])]
    fig = _figure(7.5, 0.62 * len(rows) + 0.9)
    axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
    for ax, name in zip(axes, rows, strict=True):
        r = tab.loc[name]
        centre = r["post_mean"] if r["kind"] == "fixed" else r["post_median"]
        if np.isfinite(r["lower"]):
            ax.plot([r["lower"], r["upper"]], [1, 1], color=PARTIAL, lw=2.5, solid_capstyle="butt")
        ax.plot([r["estimate"]], [1], "o", color=PARTIAL, ms=5)
        if np.isfinite(r["post_lower"]):
            ax.plot([r["post_lower"], r["post_upper"]], [0, 0], color=POSTERIOR, lw=2.5, solid_capstyle="butt")
            ax.plot([centre], [0], "^", color=POSTERIOR, ms=5)
        ax.set_ylim(-0.8, 1.8)
        ax.set_yticks([])
        ax.set_ylabel(str(name), rotation=0, ha="right", va="center", fontsize=8,
                      color="#c0392b" if r["flag"] else "#222222")
        ax.tick_params(axis="x", labelsize=7)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=PARTIAL, marker="o", lw=2.5, label=f"{cmp.likelihood_method}: estimate, 95% CI")]
    if cmp.posterior_method:
        handles.append(Line2D([], [], color=POSTERIOR, marker="^", lw=2.5, label="posterior: centre, 95% interval"))
    fig.legend(handles=handles, loc="outside upper center", ncol=2, fontsize=8)
    return fig


# ---- Bayesian diagnostics: drawn by mixbayes.bayes.plots (BayesFit's own plot methods use them too) ----------------
