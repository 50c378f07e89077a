"""The Bayesian fit's diagnostic plots: trace and rank plots, divergences among the variance components, and the
posterior caterpillar plot.  ``BayesFit.plot_trace()``, ``plot_pairs()`` and ``plot_caterpillar()`` draw them; the
HTML report (mixbayes.report.plots) re-exports them.  The fit is read through the names a BayesFit offers
(``varcorr.draws``, ``sampler_info.chains``, ``idata["sample_stats"]``, ``ranef().as_frame()``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..figure import new_figure
from ..results.caterpillar import caterpillar_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["CHAIN_COLOURS", "DIVERGENT", "chains_of", "divergence_pairs_plot", "divergent_mask",
           "posterior_caterpillar", "trace_rank_plot", "varcorr_draws"]

DIVERGENT = "#e7298a"
CHAIN_COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e6ab02", "#66a61e", "#a6761d", "#666666", "#e7298a"]


def _figure(width: float, height: float) -> Figure:
    return new_figure(width, height)


def varcorr_draws(fit: Any) -> pd.DataFrame:
    """Draws of every SD, correlation and the residual SD (columns ``grp:var1``, ``grp:var1:var2``,
    ``Residual``), chains stacked in order."""
    return pd.DataFrame(fit.varcorr.draws).reset_index(drop=True)


def chains_of(fit: Any, n_draws: int) -> int:
    """Number of chains (1 if the draws do not split evenly into them)."""
    chains = int(fit.sampler_info.chains)
    return chains if chains > 0 and n_draws % chains == 0 else 1


def divergent_mask(fit: Any, n_draws: int) -> np.ndarray:
    """Per draw (chains stacked as in :func:`varcorr_draws`): whether the transition diverged."""
    try:
        div = np.asarray(fit.idata["sample_stats"]["diverging"].values, dtype=bool).ravel()
    except KeyError:  # a sampler that does not report divergences
        return np.zeros(n_draws, dtype=bool)
    return div if div.size == n_draws else np.zeros(n_draws, dtype=bool)


def posterior_caterpillar(fit: Any, group: str | None = None, max_levels: int = 60) -> Figure:
    """Posterior means of the random effects of ``group`` (default: the first) with central 95% intervals."""
    long = fit.ranef().as_frame()
    group = str(long["grpvar"].iloc[0]) if group is None else group
    return caterpillar_figure(group, None, None, long[long["grpvar"] == group], max_levels)



def _varcomp_draws(bayes_fit: Any, max_params: int) -> tuple[pd.DataFrame, list[str]]:
    draws = varcorr_draws(bayes_fit)
    cols = list(draws.columns)[:max_params]
    out = {}
    labels = []
    for c in cols:
        v = draws[c].to_numpy(float)
        is_cor = c.count(":") >= 2
        if not is_cor and np.all(v > 0):
            out[f"log sd {c}" if c != "Residual" else "log sigma"] = np.log(v)
        else:
            out[f"cor {c}" if is_cor else c] = v
        labels.append(c)
    return pd.DataFrame(out), labels


def divergence_pairs_plot(bayes_fit: Any, max_params: int = 5) -> Figure:
    """Pairs of the variance-component parameters (log SDs, correlations, log sigma), divergent transitions
    highlighted: divergences that gather in one corner (typically small SDs: a funnel) locate the problem."""
    frame, _ = _varcomp_draws(bayes_fit, max_params)
    div = divergent_mask(bayes_fit, len(frame))
    k = frame.shape[1]
    side = min(1.6, 7.0 / k)
    fig = _figure(side * k + 0.6, side * k + 0.6)
    axes = fig.subplots(k, k, squeeze=False)
    names = list(frame.columns)
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                ax.hist(frame.iloc[:, i], bins=30, color="#bbbbbb")
                if div.any():
                    ax.hist(frame.iloc[:, i][div], bins=30, color=DIVERGENT, alpha=0.8)
            else:
                ax.scatter(frame.iloc[:, j], frame.iloc[:, i], s=2, color="#888888", alpha=0.35, rasterized=True)
                if div.any():
                    ax.scatter(frame.iloc[:, j][div], frame.iloc[:, i][div], s=9, color=DIVERGENT)
            if i == k - 1:
                ax.set_xlabel(names[j], fontsize=7)
            if j == 0 and i > 0:
                ax.set_ylabel(names[i], fontsize=7)
            ax.tick_params(labelsize=6)
    n_div = int(div.sum())
    fig.suptitle(f"Variance components: {n_div} divergent transition{'s' if n_div != 1 else ''}"
                 + (" (highlighted)" if n_div else ""), fontsize=11)
    return fig


def trace_rank_plot(bayes_fit: Any, max_params: int = 6) -> Figure:
    """Per variance-component parameter: trace plots of each chain and rank histograms (chains mixing well have
    flat, overlapping rank histograms)."""
    from scipy import stats

    frame, _ = _varcomp_draws(bayes_fit, max_params)
    S = len(frame)
    chains = chains_of(bayes_fit, S)
    k = frame.shape[1]
    fig = _figure(10.0, 1.7 * k + 0.8)
    axes = fig.subplots(k, 2, squeeze=False, width_ratios=[2.2, 1])
    for i, name in enumerate(frame.columns):
        v = frame[name].to_numpy(float).reshape(chains, -1)
        ranks = stats.rankdata(v.ravel()).reshape(v.shape)
        bins = np.linspace(0.5, S + 0.5, 21)
        for c in range(chains):
            colour = CHAIN_COLOURS[c % len(CHAIN_COLOURS)]
            axes[i, 0].plot(v[c], lw=0.5, color=colour, alpha=0.8)
            counts, _ = np.histogram(ranks[c], bins=bins)
            axes[i, 1].stairs(counts, bins, color=colour, lw=1.2, baseline=None)
        axes[i, 0].set_ylabel(name, fontsize=7)
        axes[i, 1].axhline(v.shape[1] / 20, color="#999999", lw=0.8, ls=":")
        axes[i, 1].set_yticks([])
        for ax in axes[i]:
            ax.tick_params(labelsize=6)
    axes[0, 0].set_title("trace (one colour per chain)", fontsize=9)
    axes[0, 1].set_title("rank histograms (flat = well mixed)", fontsize=9)
    return fig
