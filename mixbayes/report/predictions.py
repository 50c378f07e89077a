"""Population-level prediction plots (``mb.plot_predictions``), for one fit or several side by side.

The predictor on the x axis runs over its observed range (or its levels, for a factor), ``by`` draws one line
(or set of points) per level, and every other variable of the fixed part sits at its reference value (mean of a
numeric covariate, the first level of a factor; ``at=`` sets them).  Bands are
the 95% intervals of :func:`mixbayes.results.intervals.prediction_intervals`: delta-method confidence
intervals for likelihood fits, posterior intervals for Bayesian fits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..bayes.plots import CHAIN_COLOURS
from ..exceptions import ContrastError
from .plots import _figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_predictions", "prediction_grid"]


def prediction_grid(fit: Any, x: str, by: str | None = None, at: dict[str, Any] | None = None,
                    n: int = 50) -> pd.DataFrame:
    """The new data of :func:`plot_predictions`: ``x`` over its range (or levels), ``by`` over its levels, the
    other fixed-part variables at the first level (factors) or the mean (numeric), unless ``at`` sets them."""
    from ..inference.emmeans import reference_grid

    design = fit.design
    frame = design.frame.loc[design.row_index]
    at = dict(at or {})
    for v in [x] + ([by] if by else []):
        if v not in frame.columns:
            names = ", ".join(map(str, frame.columns))
            raise ContrastError(f"{v!r} is not a variable of the model; variables: {names}")
        col = frame[v]
        if v not in at:
            if isinstance(col.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(col):
                at[v] = list(pd.unique(col.dropna()))
            elif v == x:
                at[v] = np.linspace(float(col.min()), float(col.max()), n)
            else:
                at[v] = sorted(pd.unique(col.dropna()))[:6]
    grid = reference_grid(fit, at)
    keep = {x} | ({by} if by else set())
    for col in grid.columns:
        if col not in keep and col not in at and isinstance(grid[col].dtype, pd.CategoricalDtype):
            grid = grid[grid[col] == grid[col].cat.categories[0]]
    return grid.reset_index(drop=True)


def _label(fit: Any) -> str:
    if hasattr(fit, "params") and hasattr(fit.params, "beta"):
        return "Bayesian (posterior)"
    return f"likelihood ({getattr(fit, 'method', '')})"


def plot_predictions(fits: Any, x: str, by: str | None = None, at: dict[str, Any] | None = None,
                     interval: str = "confidence", type: str = "response", level: float = 0.95,
                     data: bool = True) -> Figure:
    """Population-level predictions against ``x``, with intervals; several fits side by side.

    Parameters
    ----------
    fits : one fit, a list of fits, or a dict name -> fit (e.g. the likelihood and the Bayesian fit).
    x : predictor on the horizontal axis.
    by : a factor (or a numeric variable, at up to 6 of its values) drawn as separate lines.
    at : values for the other variables (see :func:`prediction_grid`).
    interval : ``"confidence"`` or ``"prediction"`` bands.
    data : also plot the observed responses (response scale, not for binomial proportions' trials).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from ..results.intervals import prediction_intervals

    if isinstance(fits, dict):
        items = list(fits.items())
    elif isinstance(fits, list | tuple):
        items = [(_label(f), f) for f in fits]
    else:
        items = [(_label(fits), fits)]
    fig = _figure(4.2 * len(items), 3.6)
    axes = fig.subplots(1, len(items), sharey=True, squeeze=False)[0]
    for ax, (name, fit) in zip(axes, items, strict=True):
        grid = prediction_grid(fit, x, by, at)
        pred = prediction_intervals(fit, grid, interval=interval, level=level, type=type)
        groups = [(None, np.arange(len(grid)))] if by is None else [
            (lv, np.flatnonzero((grid[by] == lv).to_numpy())) for lv in pd.unique(grid[by])]
        numeric_x = pd.api.types.is_numeric_dtype(grid[x]) and not isinstance(grid[x].dtype, pd.CategoricalDtype)
        if data and type == "response":
            frame = fit.design.frame.loc[fit.design.row_index]
            ax.scatter(frame[x].astype(str) if not numeric_x else frame[x], fit.design.y, s=8, color="0.6",
                       alpha=0.5, label="data", zorder=1)
        for k, (lv, ix) in enumerate(groups):
            colour = CHAIN_COLOURS[k % len(CHAIN_COLOURS)]
            xs = grid[x].iloc[ix]
            xs = xs.to_numpy(dtype=float) if numeric_x else xs.astype(str).to_numpy()
            p = pred.iloc[ix]
            label = None if lv is None else f"{by} = {lv}"
            if numeric_x:
                ax.plot(xs, p["estimate"], color=colour, label=label, zorder=3)
                ax.fill_between(xs, p["conf_low"], p["conf_high"], color=colour, alpha=0.2, lw=0, zorder=2)
            else:
                ax.errorbar(xs, p["estimate"], yerr=[p["estimate"] - p["conf_low"], p["conf_high"] - p["estimate"]],
                            fmt="o", color=colour, capsize=3, label=label, zorder=3)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(x)
        if by is not None or data:
            ax.legend(fontsize=7, loc="best")
    axes[0].set_ylabel(f"{fit.design.response_name} ({'predicted' if type == 'response' else 'link'})")
    return fig
