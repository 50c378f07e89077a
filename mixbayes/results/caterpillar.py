"""The caterpillar plot of random effects: per level, the conditional mode with +-1.96 conditional SDs and/or the
posterior mean with its central 95% interval, one panel per random-effects column, levels sorted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..figure import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["caterpillar_figure", "fit_caterpillar"]

PARTIAL = "#1b9e77"
POSTERIOR = "#7570b3"


def _select(levels: list[Any], k: int) -> list[Any]:
    if len(levels) <= k:
        return levels
    idx = np.unique(np.linspace(0, len(levels) - 1, k).round().astype(int))
    return [levels[i] for i in idx]


def caterpillar_figure(group: str, modes: pd.DataFrame | None, condsd: pd.DataFrame | None,
                       posterior: pd.DataFrame | None, max_levels: int = 60) -> Figure:
    """Draw the caterpillar plot.

    Parameters
    ----------
    group : the grouping factor (for the titles).
    modes : levels x columns conditional modes (None: posterior only).
    condsd : conditional SDs in the shape of ``modes`` (None: points without intervals).
    posterior : long frame with term, grp, mean, lower, upper for this group (None: likelihood only).
    max_levels : at most this many levels are shown (evenly spaced in the sorted order).
    """
    post = None if posterior is None else {t: p.set_index("grp") for t, p in posterior.groupby("term", sort=False)}
    if modes is not None:
        cols = list(modes.columns)
        n_levels = len(modes)
    else:
        assert post is not None
        cols = list(post)
        n_levels = len(next(iter(post.values())))
    shown = min(n_levels, max_levels)
    both = modes is not None and post is not None
    fig = new_figure(3.6 * len(cols) + 1.0, 0.17 * shown + 1.9)
    axes = fig.subplots(1, len(cols), squeeze=False)[0]
    for ax, col in zip(axes, cols, strict=True):
        p = post.get(col) if post is not None else None
        if modes is not None:
            order = modes[col].sort_values().index.tolist()
        else:
            assert p is not None
            order = p["mean"].sort_values().index.tolist()
        order = _select(order, max_levels)
        ypos = np.arange(len(order))
        off = 0.18 if both else 0.0
        if modes is not None:
            est = modes.loc[order, col].to_numpy(float)
            if condsd is not None:
                half = 1.96 * condsd.loc[order, col].to_numpy(float)
                ax.errorbar(est, ypos + off, xerr=half, fmt="o", ms=3, color=PARTIAL, elinewidth=1,
                            label="conditional mode \u00b1 1.96 cond. SD")
            else:
                ax.plot(est, ypos + off, "o", ms=3, color=PARTIAL, label="conditional mode")
        if p is not None:
            keys = [str(v) for v in order]
            if all(k in p.index for k in keys):
                pm = p.loc[keys, "mean"].to_numpy(float)
                lo, hi = p.loc[keys, "lower"].to_numpy(float), p.loc[keys, "upper"].to_numpy(float)
                ax.errorbar(pm, ypos - off, xerr=[pm - lo, hi - pm], fmt="^", ms=3, color=POSTERIOR, elinewidth=1,
                            label="posterior mean, 95% interval")
        ax.axvline(0, color="#999999", lw=0.8)
        ax.set_yticks(ypos, [str(v) for v in order], fontsize=7 if len(order) > 25 else 8)
        ax.set_title(col, fontsize=10)
        ax.grid(alpha=0.2, axis="x")
    axes[0].set_ylabel(group + ("" if shown == n_levels else f" ({shown} of {n_levels} levels)"))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=1 if len(cols) == 1 else 2, fontsize=8)
    fig.suptitle(f"Random effects by {group}", fontsize=11)
    return fig


def fit_caterpillar(fit: Any, group: str | None = None, posterior: pd.DataFrame | None = None,
                    max_levels: int = 60) -> Figure:
    """The caterpillar plot of a likelihood fit's random effects (``posterior``: the long frame of a Bayesian
    fit's ``ranef().as_frame()`` to draw beside them)."""
    re = fit.ranef()
    group = next(iter(re)) if group is None else group
    if group not in re:
        from ..exceptions import UnknownGroupError

        raise UnknownGroupError(f"no random-effects term is grouped by {group!r}; grouping factors: "
                                f"{', '.join(re)}")
    if posterior is not None:
        posterior = posterior[posterior["grpvar"] == group]
    return caterpillar_figure(group, re[group], re.condsd.get(group), posterior, max_levels)
