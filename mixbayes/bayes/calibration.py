"""Simulation-based calibration (Talts et al. 2018): does the sampler recover the prior from data simulated
from it?

For each replication: draw the parameters from the priors, simulate a data set from the model, sample the
posterior, and record the rank of the true value among (thinned) posterior draws.  When the computation is
correct the ranks are uniform; :func:`sbc` tests that with a chi-square test per parameter.

The compiled blackjax program takes the observed values as an input, so every replication reuses it: the
cost per replication is the sampling alone.  The priors are fixed once (the defaults are scaled to the model's
own data) and only the response changes between replications.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..exceptions import ArgumentError

if TYPE_CHECKING:
    from ..priors.prior import Prior
    from ..protocols import ModelLike as Model

__all__ = ["SBCResult", "sbc"]


@dataclass
class SBCResult:
    """Ranks of the true parameter values among the posterior draws, per replication.

    ranks : (replications, parameters) DataFrame of ranks in 0..n_ranks-1.
    pvalues : chi-square uniformity test per parameter (``bins`` equal bins).
    divergences : divergent transitions per replication.
    """

    ranks: pd.DataFrame
    n_ranks: int
    bins: int
    pvalues: pd.Series
    divergences: np.ndarray

    def __str__(self) -> str:
        return (f"Simulation-based calibration: {len(self.ranks)} replications, ranks in 0..{self.n_ranks - 1}, "
                f"{self.bins} bins\n" + self.pvalues.to_frame("chi-square p-value").to_string()
                + f"\ndivergent transitions: {int(self.divergences.sum())} in total")


def _scalars(params: Any, design: Any) -> dict[str, np.ndarray]:
    """Scalar parameters (flattened draws) by name: fixed effects, SDs, correlations, sigma, dispersion."""
    from .output import pair_values

    out: dict[str, np.ndarray] = {}
    beta = params.flat(params.beta)
    for j, name in enumerate(design.fixef_names):
        out[f"beta[{name}]"] = beta[:, j]
    for k, t in enumerate(design.terms):
        sd = params.flat(params.sd[k])
        for i, col in enumerate(t.columns):
            out[f"sd[{t.group}:{col}]"] = sd[:, i]
        if t.q > 1:
            pairs = params.flat(pair_values(params.corr(k)))
            for m in range(pairs.shape[1]):
                out[f"cor[{t.group}:{m}]"] = pairs[:, m]
    if params.sigma is not None:
        out["sigma"] = params.flat(params.sigma)
    if params.dispersion is not None:
        out["dispersion"] = params.flat(params.dispersion)
    return out


def sbc(model: Model, replications: int = 100, draws: int = 500, tune: int = 500, chains: int = 4,
        n_ranks: int = 100, bins: int = 10, random_seed: int = 0, priors: Mapping[str, Prior] | None = None,
        target_accept: float = 0.8, marginalize: bool | str | None = None) -> SBCResult:
    """Simulation-based calibration of ``model`` under its priors (defaults, or overridden by ``priors``).

    Parameters
    ----------
    replications : number of simulated data sets.
    draws, tune, chains : sampler settings per replication (blackjax, compiled once).
    n_ranks : number of possible ranks: n_ranks - 1 evenly thinned posterior draws are kept per replication, so
        ranks run over 0..n_ranks - 1; must be a multiple of ``bins``.
    bins : bins of the chi-square uniformity test.
    marginalize : the form to sample (as :meth:`mixbayes.Model.sample`; None: the automatic choice).
    """
    import pymc as pm

    from .posterior import ParameterDraws, predictive_draws
    from .samplers import blackjax_sampler, configure_jax
    from .sampling import built_model, model_priors

    if n_ranks % bins:
        raise ArgumentError(f"n_ranks must be a multiple of bins (n_ranks={n_ranks}, bins={bins})")
    configure_jax(chains)
    design = model.design
    built = built_model(model, model_priors(model, priors), marginalize)
    names = built.parameter_names
    values = pm.draw([built.pm_model[n] for n in names], draws=replications, random_seed=random_seed,
                     mode="FAST_COMPILE")
    free = {n: np.asarray(v)[None] for n, v in zip(names, values, strict=True)}
    rng = np.random.default_rng([random_seed, 3])
    truth = ParameterDraws.from_free(built, free, design, rng, random_effects="prior")
    data = predictive_draws(design, built, truth, rng)[0]  # (replications, n)
    true_values = _scalars(truth, design)
    sampler = blackjax_sampler(built, chains, draws, tune, target_accept, 10)
    keep = np.linspace(0, chains * draws - 1, n_ranks - 1).round().astype(int)
    ranks = {name: np.zeros(replications, dtype=int) for name in true_values}
    divergences = np.zeros(replications, dtype=int)
    for r in range(replications):
        raw = sampler.run(random_seed * 100003 + r, data=data[r])
        divergences[r] = int(raw.stats["diverging"].sum())
        post = ParameterDraws.from_free(built, raw.draws, design, rng, random_effects="none")
        for name, draws_ in _scalars(post, design).items():
            ranks[name][r] = int(np.sum(draws_[keep] < true_values[name][r]))
    frame = pd.DataFrame(ranks)
    return SBCResult(frame, n_ranks, bins, uniformity_pvalues(frame, n_ranks, bins), divergences)


def uniformity_pvalues(ranks: pd.DataFrame, n_ranks: int, bins: int) -> pd.Series:
    """Chi-square test of uniformity of ranks in 0..n_ranks-1 over ``bins`` equal bins, per column."""
    from scipy import stats

    width = n_ranks // bins
    out = {}
    for name, col in ranks.items():
        counts = np.bincount(np.asarray(col) // width, minlength=bins)
        out[name] = float(stats.chisquare(counts).pvalue)
    return pd.Series(out, name="p")
