"""The Bayesian fit from end to end: priors -> PyMC model -> NUTS -> post-processing -> :class:`BayesFit`.

Compiled artefacts are cached on the :class:`~mixbayes.Model` (``model.bayes_cache``): the PyMC model per
(priors, parameterisation), and inside it the compiled sampler per sampler settings, so a second ``sample()``
with the same settings reuses them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..arguments import check_int
from ..exceptions import ArgumentError
from ..priors.prior import Prior, PriorSet
from .compiled import built_model, model_priors
from .settings import SampleControl

if TYPE_CHECKING:
    from xarray import DataTree

    from ..protocols import ModelLike as Model
    from .builder import BuiltModel
    from .results import BayesFit

__all__ = ["built_model", "check_sampling", "sample", "sample_prior_predictive"]


def _seed(random_seed: int | None) -> int:
    if random_seed is None:
        return int(np.random.SeedSequence().entropy % (2**31))
    if isinstance(random_seed, (int, np.integer)) and not isinstance(random_seed, bool) and random_seed >= 0:
        return int(random_seed)
    raise ArgumentError(f"random_seed must be a non-negative integer or None, not {random_seed!r}")


def check_sampling(draws: Any, tune: Any, chains: Any, target_accept: Any = 0.8, sampler: Any = "blackjax",
                   max_treedepth: Any = 10, n_jobs: Any = None, random_seed: Any = None) -> SampleControl:
    """Check the sampling arguments (integers where integers are meant, in range), before anything is built; the
    checked settings as a :class:`~mixbayes.bayes.settings.SampleControl`.

    Raises
    ------
    ArgumentError
        Naming the argument and the value (``draws=2.5``, ``chains=0``, ``max_treedepth=0``...).
    NotSupportedError
        For an unknown sampler.
    """
    return SampleControl(draws=draws, tune=tune, chains=chains, target_accept=target_accept, sampler=sampler,
                         max_treedepth=max_treedepth, n_jobs=n_jobs, random_seed=random_seed)


def sample(model: Model, settings: SampleControl | None = None,
           priors: Mapping[str, Prior] | PriorSet | None = None) -> BayesFit:
    """Sample the posterior of ``model`` with NUTS under ``settings`` (parsed by :meth:`mixbayes.Model.sample`)."""
    t_start = time.perf_counter()
    s = settings if settings is not None else SampleControl()
    if not isinstance(s, SampleControl):
        raise ArgumentError(f"settings must be a SampleControl, not {type(s).__name__}")
    if model.is_out_of_core and s.posterior_predictive:
        from ..outofcore.design import DaskDataNotSupportedError

        raise DaskDataNotSupportedError(
            "posterior_predictive=True draws a new value for every row; with Dask data the posterior is sampled "
            "from the summed blocks. Use fit.predict() (posterior means by partition, a Dask series), or sample "
            "an in-memory sample of the data")
    from .progress import Progress, quiet_tqdm

    quiet_tqdm()
    progress = Progress(s.progressbar)
    seed = _seed(s.random_seed)
    prior_set = model_priors(model, priors)  # a bad prior fails before JAX or PyMC are imported
    if s.sampler == "blackjax":
        from .samplers import configure_jax

        configure_jax(s.chains)  # before PyMC can import JAX, so that the chains get their own host devices
    with progress.phase("build", "building the PyMC model"):
        built = built_model(model, prior_set, s.marginalize)
    from .samplers import run_sampler

    message = (f"sampling {s.chains} chains x ({s.tune} warm-up + {s.draws} draws) with {s.sampler}"
               + (" (first use compiles; reused afterwards)" if s.sampler == "blackjax" else ""))
    with progress.phase("sample_total", message):
        raw = run_sampler(built, s, seed)
    with progress.phase("postprocess", "post-processing and diagnostics"):
        fit = _finish(model, built, raw, seed, s)
    timings = {"build": progress.timings.get("build", 0.0), "compile": raw.timings.get("compile", 0.0),
               "sample": raw.timings.get("sample", 0.0), "postprocess": progress.timings.get("postprocess", 0.0)}
    timings["total"] = time.perf_counter() - t_start
    fit.sampler_info.timings = timings
    return fit


def _finish(model: Model, built: BuiltModel, raw: Any, seed: int, settings: SampleControl) -> BayesFit:
    from .diagnostics import diagnose
    from .output import posterior_variables, response_variable, to_datatree
    from .posterior import ParameterDraws, log_likelihood, predictive_draws
    from .results import BayesFit, SamplerInfo

    design = model.design
    sampler, posterior_predictive = settings.sampler, settings.posterior_predictive
    rng = np.random.default_rng([seed, 1])
    params = ParameterDraws.from_free(built, raw.draws, design, rng)
    post, dims, coords = posterior_variables(built, design, params)
    resp = response_variable(design)
    if built.from_blocks:
        return _finish_blocks(model, built, raw, params, seed, settings, (post, dims, coords))
    ll, unit = log_likelihood(built, design, params)
    obs_dim = "obs"
    obs_coords = {obs_dim: np.asarray(design.row_index)[built.rows]}
    ll_dims = [design.terms[0].group] if unit == "group" else [obs_dim]
    ll_coords = {design.terms[0].group: list(design.terms[0].levels)} if unit == "group" else obs_coords
    groups: dict[str, Any] = {
        "posterior": (post, dims, coords),
        "sample_stats": (raw.stats, {}, {}),
        "log_likelihood": ({resp: ll}, {resp: ll_dims}, ll_coords),
        "observed_data": ({resp: built.observed}, {resp: [obs_dim]}, obs_coords),
    }
    if posterior_predictive:
        groups["posterior_predictive"] = ({resp: predictive_draws(design, built, params, rng)}, {resp: [obs_dim]},
                                          obs_coords)
    attrs = {"inference_library": f"mixbayes ({sampler})", "parameterisation": built.mode,
             "log_likelihood_unit": unit, "random_seed": seed}
    idata = to_datatree(groups, attrs)
    diag_params: dict[str, tuple[np.ndarray, list[str] | None]] = {}
    for name, arr in post.items():
        if name.startswith("r_"):
            continue
        d = dims.get(name)
        diag_params[name] = (arr, [str(c) for c in coords[d[0]]] if d else None)
    report = diagnose(diag_params, raw.stats, settings.max_treedepth, built.mode)
    info = SamplerInfo(sampler=sampler, random_seed=seed, chains=settings.chains, draws=settings.draws,
                       tune=settings.tune, target_accept=settings.target_accept, max_treedepth=settings.max_treedepth,
                       parameterisation=built.mode, reused=raw.reused, form_costs=dict(built.form_costs),
                       centred=built.centred_groups)
    return BayesFit(model, built=built, params=params, idata=idata, sampler_info=info, report=report,
                    log_likelihood_unit=unit, settings=settings)


def _finish_blocks(model: Model, built: BuiltModel, raw: Any, params: Any, seed: int, settings: SampleControl,
                   posterior: tuple[Any, Any, Any]) -> BayesFit:
    """:func:`_finish` for out-of-core data: no per-observation groups (log-likelihood, observed data)."""
    from .dask_fit import DaskBayesFit
    from .diagnostics import diagnose
    from .output import to_datatree
    from .results import SamplerInfo

    post, dims, coords = posterior
    groups: dict[str, Any] = {"posterior": (post, dims, coords), "sample_stats": (raw.stats, {}, {})}
    attrs = {"inference_library": f"mixbayes ({settings.sampler})", "parameterisation": built.mode,
             "log_likelihood_unit": "none", "random_seed": seed, "data": "out of core (summed blocks)"}
    idata = to_datatree(groups, attrs)
    diag_params = {name: (arr, [str(c) for c in coords[dims[name][0]]] if dims.get(name) else None)
                   for name, arr in post.items() if not name.startswith("r_")}
    report = diagnose(diag_params, raw.stats, settings.max_treedepth, built.mode)
    info = SamplerInfo(sampler=settings.sampler, random_seed=seed, chains=settings.chains, draws=settings.draws,
                       tune=settings.tune, target_accept=settings.target_accept, max_treedepth=settings.max_treedepth,
                       parameterisation=built.mode, reused=raw.reused, form_costs=dict(built.form_costs),
                       centred=built.centred_groups)
    return DaskBayesFit(model, built=built, params=params, idata=idata, sampler_info=info, report=report,
                        log_likelihood_unit="none", settings=settings)


def sample_prior_predictive(model: Model, draws: int = 500, random_seed: int | None = None,
                            priors: Mapping[str, Prior] | PriorSet | None = None,
                            marginalize: bool | str | None = None) -> DataTree:
    """Draws from the priors and the prior predictive distribution, as a DataTree with ``prior``,
    ``prior_predictive`` and ``observed_data`` groups (the random effects of each level are drawn from N(0, Sigma)
    of each prior draw; observed values are responses, or binomial counts of successes)."""
    import pymc as pm

    from .output import posterior_variables, response_variable, to_datatree
    from .posterior import ParameterDraws, predictive_draws

    check_int(draws, "draws", 1)
    if model.is_out_of_core:
        from ..outofcore.design import DaskDataNotSupportedError

        raise DaskDataNotSupportedError("the prior predictive distribution draws a value for every row; with Dask "
                                        "data, run it on an in-memory sample of the data")
    seed = _seed(random_seed)
    design = model.design
    built = built_model(model, model_priors(model, priors), marginalize)
    m = built.pm_model
    names = built.parameter_names
    values = pm.draw([m[n] for n in names], draws=int(draws), random_seed=seed, mode="FAST_COMPILE")
    free = {n: np.asarray(v)[None] for n, v in zip(names, values, strict=True)}
    rng = np.random.default_rng([seed, 2])
    params = ParameterDraws.from_free(built, free, design, rng, random_effects="prior")
    prior, dims, coords = posterior_variables(built, design, params)
    resp = response_variable(design)
    obs = {"obs": np.asarray(design.row_index)[built.rows]}
    groups = {
        "prior": (prior, dims, coords),
        "prior_predictive": ({resp: predictive_draws(design, built, params, rng)}, {resp: ["obs"]}, obs),
        "observed_data": ({resp: built.observed}, {resp: ["obs"]}, obs),
    }
    return to_datatree(groups, {"inference_library": "mixbayes (prior)", "random_seed": seed})
