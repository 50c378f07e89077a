"""Parametric bootstrap of GLMMs: lme4's ``bootMer`` (:func:`bootstrap_glmm`) and pbkrtest's ``PBmodcomp``
(:func:`pbtest_glmm`).

Each replicate draws a response from the fitted model (new random effects, then binomial or Poisson responses;
:meth:`~mixbayes.results.glmm.GlmmFit.simulate`) and refits the design to it
(:meth:`~mixbayes.results.glmm.GlmmFit.refit`).  Replicate i uses the random stream
``SeedSequence(seed).spawn(nsim)[i]``, as the LMM bootstrap does; a refit that fails is recorded (NaN row, its
message counted) instead of stopping the run.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..arguments import renamed_kwargs
from ..exceptions import BootstrapError, MixbayesError, NotSupportedError
from .bootstrap_results import BootstrapResult, PBTest, _user_names, _user_values
from .parallel import replicate_seeds
from .parameters import sdcor_from_theta, varpar_names

if TYPE_CHECKING:
    from ..protocols import GlmmFitLike as GlmmFit

__all__ = ["bootstrap_glmm", "glmm_statistic", "pbtest_glmm"]


def glmm_statistic(fit: GlmmFit) -> pd.Series:
    """The random-effect SDs and correlations (lme4's names) and the fixed effects."""
    design = fit.design
    values = np.concatenate([sdcor_from_theta(design, fit.theta, 1.0)[:-1], fit.beta])
    return pd.Series(values, index=varpar_names(design, sigma=False) + list(design.fixef_names))


def _replicates(nsim: int, seed: Any, one: Callable[[np.random.Generator], np.ndarray], width: int,
                progress: bool | None) -> tuple[np.ndarray, dict[str, int], Any]:
    seeds, entropy = replicate_seeds(seed, nsim)
    values = np.full((nsim, width), np.nan)
    failures: Counter[str] = Counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, ss in enumerate(seeds):
            try:
                values[i] = one(np.random.default_rng(ss))
            except (MixbayesError, ArithmeticError, ValueError, np.linalg.LinAlgError) as exc:
                failures[f"{type(exc).__name__}: {exc}"] += 1
    return values, dict(failures), entropy


@renamed_kwargs(seed="random_seed", progress="progressbar")
def bootstrap_glmm(fit: GlmmFit, nsim: int = 200, statistic: Callable[[GlmmFit], Any] | str | None = None,
                   random_seed: Any = None, progressbar: bool | None = None) -> BootstrapResult:
    """Parametric bootstrap of a GLMM (lme4's ``bootMer``).

    Parameters
    ----------
    nsim : number of simulated responses, each refitted as the fit was (Laplace or AGQ).
    statistic : None (SDs, correlations and fixed effects, lme4's names), ``"fixef"``, or a function of a fitted
        model returning numbers (a Series or dict names them).
    random_seed : seed of the replicates' random streams (formerly ``seed``).
    """
    if nsim < 1:
        raise ValueError("nsim must be at least 1")
    t_start = time.perf_counter()
    if statistic is None or statistic == "default":
        fun: Callable[[Any], Any] = glmm_statistic
    elif statistic == "fixef":
        def fun(f: Any) -> pd.Series:
            return f.fixef
    elif callable(statistic):
        fun = statistic
    else:
        raise NotSupportedError(f"statistic must be None, 'fixef' or a function, not {statistic!r}")
    value = fun(fit)
    t0 = _user_values(value)
    names = _user_names(value, len(t0))

    def one(rng: np.random.Generator) -> np.ndarray:
        y = fit.simulate(1, random_seed=rng).to_numpy()[:, 0]
        out = _user_values(fun(fit.refit(y)))
        if out.shape != t0.shape:
            raise ValueError(f"the statistic returned {out.size} values, expected {t0.size}")
        return out

    values, failures, entropy = _replicates(nsim, random_seed, one, len(t0), progressbar)
    n_failed = sum(failures.values())
    if n_failed == nsim:
        raise BootstrapError(f"all {nsim} bootstrap refits failed: {failures}")
    return BootstrapResult(t0=pd.Series(t0, index=names), replicates=pd.DataFrame(values, columns=names), nsim=nsim,
                           n_failed=n_failed, failures=failures, seed_entropy=entropy,
                           elapsed=time.perf_counter() - t_start)


@renamed_kwargs(seed="random_seed", progress="progressbar")
def pbtest_glmm(small: GlmmFit, large: GlmmFit, nsim: int = 200, random_seed: Any = None,
                progressbar: bool | None = None) -> PBTest:
    """Parametric bootstrap likelihood-ratio test of two nested GLMMs (pbkrtest's ``PBmodcomp``): responses
    simulated from the small model are refitted by both; the p-value is (1 + #{LRT* > LRT}) / (1 + #{LRT* > 0})."""
    t0 = time.perf_counter()
    if small.npar > large.npar:
        small, large = large, small
    stat = 2.0 * (large.loglik - small.loglik)
    df = large.npar - small.npar

    def one(rng: np.random.Generator) -> np.ndarray:
        y = small.simulate(1, random_seed=rng).to_numpy()[:, 0]
        return np.array([2.0 * (large.refit(y).loglik - small.refit(y).loglik)])

    values, failures, entropy = _replicates(nsim, random_seed, one, 1, progressbar)
    return PBTest.from_simulated(stat, df, values[:, 0], failures, entropy, t0)
