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

from ..arguments import check_int, check_number, closest
from ..exceptions import ArgumentError, NotSupportedError
from ..priors.prior import Prior, PriorSet
from .compiled import built_model, model_priors

if TYPE_CHECKING:
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
                   max_treedepth: Any = 10, cores: Any = None, random_seed: Any = None) -> None:
    """Check the sampling arguments (integers where integers are meant, in range), before anything is built.

    Raises
    ------
    ArgumentError
        Naming the argument and the value (``draws=2.5``, ``chains=0``, ``max_treedepth=0``...).
    NotSupportedError
        For an unknown sampler.
    """
    from .samplers import SAMPLERS

    if not isinstance(sampler, str) or sampler not in SAMPLERS:
        raise NotSupportedError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}"
                                + (closest(sampler, SAMPLERS) if isinstance(sampler, str) else ""))
    check_int(draws, "draws", 1)
    check_int(tune, "tune", 0)
    check_int(chains, "chains", 1)
    check_int(max_treedepth, "max_treedepth", 1)
    if cores is not None:
        check_int(cores, "cores", 1)
    check_number(target_accept, "target_accept", 0.0, 1.0)
    _seed(random_seed)


def sample(model: Model, draws: int = 1000, tune: int = 1000, chains: int = 4, sampler: str = "blackjax",
           target_accept: float = 0.8, random_seed: int | None = None,
           priors: Mapping[str, Prior] | PriorSet | None = None, progressbar: bool = True,
           posterior_predictive: bool = False, max_treedepth: int = 10, marginalize: bool | str | None = None,
           cores: int | None = None, sampler_kwargs: dict[str, Any] | None = None,
           emit_warnings: bool = True) -> BayesFit:
    """Sample the posterior of ``model`` with NUTS; see :meth:`mixbayes.Model.sample`."""
    t_start = time.perf_counter()
    check_sampling(draws, tune, chains, target_accept, sampler, max_treedepth, cores, random_seed)
    if sampler_kwargs is not None and not isinstance(sampler_kwargs, Mapping):
        raise ArgumentError(f"sampler_kwargs must be a dict, not {type(sampler_kwargs).__name__}")
    from .progress import Progress, quiet_tqdm

    quiet_tqdm()
    progress = Progress(progressbar)
    seed = _seed(random_seed)
    prior_set = model_priors(model, priors)  # a bad prior fails before JAX or PyMC are imported
    if sampler == "blackjax":
        from .samplers import configure_jax

        configure_jax(chains)  # before PyMC can import JAX, so that the chains get their own host devices
    with progress.phase("build", "building the PyMC model"):
        built = built_model(model, prior_set, marginalize)
    from .samplers import run_sampler

    message = (f"sampling {chains} chains x ({tune} warm-up + {draws} draws) with {sampler}"
               + (" (first use compiles; reused afterwards)" if sampler == "blackjax" else ""))
    with progress.phase("sample_total", message):
        raw = run_sampler(built, sampler, int(chains), int(draws), int(tune), float(target_accept), int(max_treedepth),
                          seed, progressbar, cores, sampler_kwargs)
    with progress.phase("postprocess", "post-processing and diagnostics"):
        fit = _finish(model, built, raw, seed, sampler, chains, draws, tune, target_accept, max_treedepth,
                      posterior_predictive)
    timings = {"build": progress.timings.get("build", 0.0), "compile": raw.timings.get("compile", 0.0),
               "sample": raw.timings.get("sample", 0.0), "postprocess": progress.timings.get("postprocess", 0.0)}
    timings["total"] = time.perf_counter() - t_start
    fit.sampler_info.timings = timings
    if emit_warnings:
        fit.diagnose().emit(stacklevel=5)
    return fit


def _finish(model: Model, built: BuiltModel, raw: Any, seed: int, sampler: str, chains: int, draws: int, tune: int,
            target_accept: float, max_treedepth: int, posterior_predictive: bool) -> BayesFit:
    from .diagnostics import diagnose
    from .output import posterior_variables, response_variable, to_datatree
    from .posterior import ParameterDraws, log_likelihood, predictive_draws
    from .results import BayesFit, SamplerInfo

    design = model.design
    rng = np.random.default_rng([seed, 1])
    params = ParameterDraws.from_free(built, raw.draws, design, rng)
    post, dims, coords = posterior_variables(built, design, params)
    resp = response_variable(design)
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
    report = diagnose(diag_params, raw.stats, max_treedepth, built.mode)
    info = SamplerInfo(sampler, seed, int(chains), int(draws), int(tune), float(target_accept), int(max_treedepth),
                       built.mode, raw.reused, form_costs=dict(built.form_costs))
    return BayesFit(model, built, params, idata, info, report, unit)


def sample_prior_predictive(model: Model, draws: int = 500, random_seed: int | None = None,
                            priors: Mapping[str, Prior] | PriorSet | None = None,
                            marginalize: bool | str | None = None) -> Any:
    """Draws from the priors and the prior predictive distribution, as a DataTree with ``prior``,
    ``prior_predictive`` and ``observed_data`` groups (the random effects of each level are drawn from N(0, Sigma)
    of each prior draw; observed values are responses, or binomial counts of successes)."""
    import pymc as pm

    from .output import posterior_variables, response_variable, to_datatree
    from .posterior import ParameterDraws, predictive_draws

    check_int(draws, "draws", 1)
    seed = _seed(random_seed)
    design = model.design
    built = built_model(model, model_priors(model, priors), marginalize)
    m = built.pm_model
    names = [n for n in built.free_names if not n.startswith("z__")]
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
