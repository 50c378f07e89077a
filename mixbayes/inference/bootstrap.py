"""Parametric bootstrap: pbkrtest's ``PBmodcomp`` (:func:`pbtest`) and lme4's ``bootMer`` (:func:`bootstrap`).

Every replicate draws a response from the fitted model (new random effects and residuals) and refits the same
design to it, starting from the fitted estimates.  Replicate i uses the random stream
``SeedSequence(seed).spawn(nsim)[i]``, so results are identical for any number of workers and any joblib backend
(see :mod:`.parallel`).  A refit that raises is recorded (NaN values, its message counted) instead of stopping the
run.
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
from ..exceptions import ArgumentError, BootstrapError, MixbayesError, NotSupportedError
from .bootstrap_results import BootstrapResult, PBTest, _user_names, _user_values, percentile_interval
from .parallel import ChunkResult, replicate_seeds, run_replicates

if TYPE_CHECKING:
    from ..design.matrices import ModelMatrices
    from ..protocols import LmmFitLike as LmmFit

__all__ = ["BootstrapResult", "PBTest", "bootstrap", "default_statistic", "pbtest", "percentile_interval"]


# ---- workers -------------------------------------------------------------------------------------------------

def _blas_one_thread() -> Any:
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _pb_chunk(payload: dict[str, Any], indices: np.ndarray, seeds: list[np.random.SeedSequence]) -> ChunkResult:
    """LRT of the large against the small model (both ML) for responses simulated from the small model."""
    from .refit import Refitter, restore_design, simulate_response

    out: ChunkResult = []
    with warnings.catch_warnings(), _blas_one_thread():
        warnings.simplefilter("ignore")
        small = Refitter(restore_design(payload["small_design"]), False, payload["control"])
        large = Refitter(restore_design(payload["large_design"]), False, payload["control"])
        for i, ss in zip(indices, seeds, strict=True):
            try:
                y = simulate_response(small.design, payload["beta"], payload["theta"], payload["sigma"],
                                      np.random.default_rng(ss))
                s = small.fit(y, payload["small_start"])
                g = large.fit(y, payload["large_start"])
                out.append((int(i), np.array([2.0 * (g.loglik - s.loglik)]), None))
            except (MixbayesError, ArithmeticError, ValueError, np.linalg.LinAlgError) as exc:
                out.append((int(i), None, f"{type(exc).__name__}: {exc}"))
    return out


def default_statistic(design: ModelMatrices, theta: np.ndarray, beta: np.ndarray, sigma: float) -> np.ndarray:
    """SDs and correlations (lme4's order), sigma, the fixed effects and the adjusted ICC."""
    from .icc_draws import icc_draws
    from .parameters import sdcor_from_theta

    covs = [(sigma**2 * (t.factor(theta) @ t.factor(theta).T))[None] for t in design.terms]
    icc = icc_draws(design, covs, np.asarray(beta, dtype=float)[None], np.array([sigma**2])).adjusted
    return np.concatenate([sdcor_from_theta(design, theta, sigma), beta, icc])


def _named_statistic(name: str, design: ModelMatrices, est: Any) -> np.ndarray:
    if name == "fixef":
        return np.asarray(est.beta, dtype=float)
    return default_statistic(design, est.theta, est.beta, est.sigma)


def _boot_chunk(payload: dict[str, Any], indices: np.ndarray, seeds: list[np.random.SeedSequence]) -> ChunkResult:
    """Statistic of the refit to each simulated response."""
    from .refit import Refitter, restore_design, simulate_response

    design = restore_design(payload["design"])
    statistic = payload["statistic"]
    out: ChunkResult = []
    with warnings.catch_warnings(), _blas_one_thread():
        warnings.simplefilter("ignore")
        refitter = Refitter(design, payload["reml"], payload["control"]) if isinstance(statistic, str) else None
        for i, ss in zip(indices, seeds, strict=True):
            try:
                y = simulate_response(design, payload["beta"], payload["theta"], payload["sigma"],
                                      np.random.default_rng(ss))
                if refitter is not None:
                    values = _named_statistic(statistic, design, refitter.fit(y, payload["theta"]))
                else:
                    values = _user_values(statistic(_full_refit(payload, y)))
                if values.shape != (payload["n_values"],):
                    raise BootstrapError(f"the statistic returned {values.size} values, expected {payload['n_values']}")
                out.append((int(i), values, None))
            except Exception as exc:  # a user statistic may raise anything: record it, as bootMer does
                out.append((int(i), None, f"{type(exc).__name__}: {exc}"))
    return out


def _full_refit(payload: dict[str, Any], y: np.ndarray) -> LmmFit:
    control = dict(payload["control_dict"], calc_derivs=False)
    return payload["model"].with_response(y).fit("reml" if payload["reml"] else "ml", control=control,
                                                  start=payload["theta"], emit_warnings=False)


def _control(fit: LmmFit) -> Any:
    from ..likelihood.lmm import LmmControl

    return LmmControl.from_any(fit.control)


def _failures(results: ChunkResult) -> dict[str, int]:
    return dict(Counter(msg for _, v, msg in results if v is None and msg is not None))


# ---- pbtest ----------------------------------------------------------------------------------------------------

@renamed_kwargs(seed="random_seed", progress="progressbar")
def pbtest(small: LmmFit, large: LmmFit, nsim: int = 1000, random_seed: Any = None, backend: str | None = None,
           n_jobs: int | None = None, progressbar: bool | None = None, chunk_size: int | None = None) -> PBTest:
    """Parametric bootstrap likelihood-ratio test of ``small`` against ``large`` (pbkrtest's ``PBmodcomp``).

    Both fits are refitted by ML when fitted by REML.  Responses are simulated from the small (null) model; each
    is refitted by both models, giving LRT* = 2 (logLik_large - logLik_small).

    Parameters
    ----------
    small, large : nested linear mixed models fitted to the same data; or two GLMMs (see
        :func:`~mixbayes.inference.glmm_bootstrap.pbtest_glmm`, refitted serially).
    nsim : number of simulated responses.
    random_seed : seed of the replicates' random streams (int, sequence of ints or SeedSequence; formerly ``seed``).
    backend : joblib backend (``"loky"``, ``"threading"``, ``"dask"``...); None keeps the active
        ``joblib.parallel_config``.
    n_jobs : joblib's ``n_jobs``.
    progressbar : progress bar on stderr (None: when stderr is a terminal; formerly ``progress``).

    Examples
    --------
    >>> import mixbayes as mb
    >>> ss = mb.load_dataset("sleepstudy")
    >>> m0 = mb.lmer("Reaction ~ Days + (Days || Subject)", ss)
    >>> m1 = mb.lmer("Reaction ~ Days + (Days | Subject)", ss)
    >>> res = mb.pbtest(m0, m1, nsim=20, random_seed=1)
    >>> round(res.stat, 4), round(res.p_chisq, 3)
    (0.0639, 0.8)
    """
    from .refit import ml_fit, portable_design
    from .refit import same_data as _same_data

    if not hasattr(small, "reml") and not hasattr(large, "reml"):
        if not _same_data([small, large]):
            raise MixbayesError("the models were not fitted to the same data (different observations or response)")
        from .glmm_bootstrap import pbtest_glmm

        return pbtest_glmm(small, large, nsim=nsim, random_seed=random_seed, progressbar=progressbar)
    for f in (small, large):
        if getattr(f, "reml", None) is None:
            raise NotSupportedError("pbtest compares linear mixed models fitted with mb.lmer")
    if not _same_data([small, large]):
        raise MixbayesError("the models were not fitted to the same data (different observations or response)")
    if nsim < 1:
        raise ArgumentError(f"nsim must be at least 1, not {nsim!r}")
    t0 = time.perf_counter()
    s_ml, l_ml = ml_fit(small), ml_fit(large)
    if s_ml.npar > l_ml.npar:
        s_ml, l_ml = l_ml, s_ml
    stat = 2.0 * (l_ml.loglik - s_ml.loglik)
    df = l_ml.npar - s_ml.npar
    seeds, entropy = replicate_seeds(random_seed, nsim)
    payload = {"small_design": portable_design(s_ml.design), "large_design": portable_design(l_ml.design),
               "control": _control(s_ml), "beta": s_ml.beta, "theta": s_ml.theta, "sigma": s_ml.sigma,
               "small_start": s_ml.theta, "large_start": l_ml.theta}
    results = run_replicates(_pb_chunk, payload, seeds, n_jobs=n_jobs, backend=backend, progress=progressbar,
                             chunk_size=chunk_size, label="LRT refits")
    sim = np.array([np.nan if v is None else v[0] for _, v, _ in results])
    return PBTest.from_simulated(stat, df, sim, _failures(results), entropy, t0)


# ---- bootMer --------------------------------------------------------------------------------------------------

def bootstrap(fit: LmmFit, nsim: int = 1000, statistic: str | Callable[[LmmFit], Any] | None = None,
              random_seed: Any = None, n_jobs: int | None = None, backend: str | None = None,
              progressbar: bool | None = None, chunk_size: int | None = None) -> BootstrapResult:
    """Parametric bootstrap of a fit, as lme4's ``bootMer``.

    Parameters
    ----------
    nsim : number of simulated responses (each refitted, by REML or ML as the fit was).
    statistic : None (default): SDs and correlations (lme4's names), sigma, the fixed effects and the adjusted
        ICC; ``"fixef"``: the fixed effects; or a function of a fitted model returning numbers (a scalar,
        array, Series or dict; a Series/dict names the statistics).
    random_seed, n_jobs, backend, progressbar : as for :func:`pbtest`.
    """
    from .parameters import varpar_names
    from .refit import portable_design

    if nsim < 1:
        raise ArgumentError(f"nsim must be at least 1, not {nsim!r}")
    t_start = time.perf_counter()
    design = fit.design
    if statistic is None or statistic == "default":
        stat_name: str | Callable[[LmmFit], Any] = "default"
        names = varpar_names(design) + list(design.fixef_names) + ["icc"]
        t0 = default_statistic(design, fit.theta, fit.beta, fit.sigma)
    elif statistic == "fixef":
        stat_name = "fixef"
        names = list(design.fixef_names)
        t0 = fit.beta.copy()
    elif callable(statistic):
        stat_name = statistic
        value = statistic(fit)
        t0 = _user_values(value)
        names = _user_names(value, len(t0))
    else:
        raise NotSupportedError(f"statistic must be None, 'fixef' or a function, not {statistic!r}")
    seeds, entropy = replicate_seeds(random_seed, nsim)
    payload: dict[str, Any] = {"design": portable_design(design), "reml": fit.reml, "control": _control(fit),
                               "beta": fit.beta, "theta": fit.theta, "sigma": fit.sigma, "statistic": stat_name,
                               "n_values": len(t0)}
    if not isinstance(stat_name, str):
        payload["model"] = fit.model
        payload["control_dict"] = dict(vars(_control(fit)))
    results = run_replicates(_boot_chunk, payload, seeds, n_jobs=n_jobs, backend=backend, progress=progressbar,
                             chunk_size=chunk_size, label="refits")
    values = np.full((nsim, len(t0)), np.nan)
    for i, v, _ in results:
        if v is not None:
            values[i] = v
    n_failed = sum(1 for _, v, _ in results if v is None)
    if n_failed == nsim:
        raise BootstrapError(f"all {nsim} bootstrap refits failed: {_failures(results)}")
    return BootstrapResult(t0=pd.Series(t0, index=names), replicates=pd.DataFrame(values, columns=names), nsim=nsim,
                           n_failed=n_failed, failures=_failures(results), seed_entropy=entropy,
                           elapsed=time.perf_counter() - t_start)
