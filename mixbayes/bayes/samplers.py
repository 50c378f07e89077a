"""NUTS samplers behind one interface: blackjax (default), nutpie, PyMC's own and numpyro.

Each returns a :class:`RawSamples`: the draws of the model's free variables on their constrained scale,
(chains, draws, ...) arrays, and the sampler statistics under common names (``diverging``, ``tree_depth``,
``energy``, ``acceptance_rate``, ``n_steps``, ``lp``, ``step_size``).

The blackjax path (:class:`BlackjaxSampler`) runs warm-up (Stan's window adaptation of step size and diagonal
mass matrix) and sampling for all chains in one XLA program: the model's log density is translated from PyTensor
to JAX (``pymc.sampling.jax.get_jaxified_graph``) with the observed data as an *input*, so the compiled program
can be reused for new data of the same shape (simulation-based calibration).  Chains run on separate host
"devices" (``pmap``) when JAX was started with several of them (``XLA_FLAGS=--xla_force_host_platform_device_
count``, which :func:`configure_jax` sets before JAX is first imported), else one after another; each chain runs
the same unbatched program in either case, so a seed gives the same draws whatever the device count.  The compiled
program is kept on the :class:`~mixbayes.Model` (keyed by the sampler settings) and, across processes, in JAX's
persistent compilation cache (``$MIXBAYES_JAX_CACHE``, default ``~/.cache/mixbayes/jax``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .builder import BuiltModel
from .settings import SAMPLERS, SampleControl

__all__ = ["SAMPLERS", "BlackjaxSampler", "RawSamples", "blackjax_sampler", "configure_jax", "run_sampler",
           "single_blas_thread"]


@dataclass
class RawSamples:
    """Draws of the free variables (constrained) and the sampler statistics, all (chains, draws, ...)."""

    draws: dict[str, np.ndarray]
    stats: dict[str, np.ndarray]
    timings: dict[str, float] = field(default_factory=dict)
    reused: bool = False


def _cache_dir() -> str:
    return os.environ.get("MIXBAYES_JAX_CACHE") or str(Path.home() / ".cache" / "mixbayes" / "jax")


def single_blas_thread() -> Any:
    """A context in which BLAS/LAPACK (OpenBLAS, as loaded by SciPy and called by XLA's CPU LAPACK kernels and
    PyTensor's C linear algebra) runs on one thread.

    The matrices of a log density are small (a Cholesky factor of a few hundred rows at most) and the chains
    already run in parallel: OpenBLAS's own threads only spin and wait for each other there.  Measured on 2
    cores with other work running, one 128 x 128 Cholesky factorisation inside a compiled JAX gradient took
    90-140 ms with OpenBLAS's default threads and 0.3 ms with one (docs/bayes.md).
    """
    import scipy.linalg  # noqa: F401  (loads SciPy's OpenBLAS, so that the limit applies to it)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def configure_jax(chains: int) -> Any:
    """Import JAX configured for sampling: 64-bit floats, one host device per chain (only possible before JAX's
    first import; the user's own ``XLA_FLAGS`` are respected) and the persistent compilation cache."""
    from .progress import quiet_tqdm

    quiet_tqdm()
    if "jax" not in sys.modules:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_force_host_platform_device_count" not in flags:
            n = max(int(chains), 4)  # at least PyMC's default of 4 chains, so later fits can use them too
            os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}".strip()
    import jax

    jax.config.update("jax_enable_x64", True)
    if not jax.config.jax_compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", _cache_dir())
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return jax


def unconstrained_start(built: BuiltModel) -> dict[str, np.ndarray]:
    """The starting point on the unconstrained (value-variable) scale, from the builder's constrained starting
    values; falls back to PyMC's ``initial_point`` for transforms not handled here."""
    model = built.pm_model
    out = {}
    for rv in model.free_RVs:
        value = model.rvs_to_values[rv]
        tr = model.rvs_to_transforms.get(rv)
        x = built.start.get(rv.name)
        name = getattr(tr, "name", None)
        if x is None or (tr is not None and name not in ("log", "cholesky_corr")):
            return {k: np.asarray(v, dtype=float) for k, v in model.initial_point(random_seed=0).items()}
        if name == "log":
            x = np.log(x)
        elif name == "cholesky_corr":  # the identity correlation matrix
            q = x.shape[-1]
            x = np.zeros(q * (q - 1) // 2)
        out[value.name] = np.asarray(x, dtype=float)
    return out


def unconstrained_scales(built: BuiltModel, start: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """Guesses of the posterior SDs on the unconstrained scale by value variable (shaped as ``start``), or None
    when the builder has none (:mod:`mixbayes.bayes.warm_start`: partial form)."""
    if not built.scales:
        return None
    model = built.pm_model
    out = {}
    for rv in model.free_RVs:
        name = model.rvs_to_values[rv].name
        scale = built.scales.get(rv.name)
        out[name] = np.ones_like(start[name]) if scale is None else \
            np.broadcast_to(np.asarray(scale, dtype=float), np.shape(start[name])).copy()
    return out


def initial_points(built: BuiltModel, chains: int, rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    """Per chain: the starting point on the unconstrained scale with uniform(-1, 1) jitter (as PyMC), or, where
    the builder guessed posterior SDs, uniform(-1, 1) times min(1, 10 SDs)."""
    base = built.cache.get("initial_point")
    if base is None:
        base = unconstrained_start(built)
        built.cache["initial_point"] = base
    scales = unconstrained_scales(built, base)
    width = {k: np.ones_like(v) if scales is None else np.minimum(1.0, 10.0 * scales[k]) for k, v in base.items()}
    return [{k: v + rng.uniform(-1.0, 1.0, v.shape) * width[k] for k, v in base.items()} for _ in range(chains)]


class BlackjaxSampler:
    """blackjax NUTS with window adaptation for all chains, compiled once.

    Parameters
    ----------
    built : the model.
    chains, draws, tune : numbers of chains, kept draws and warm-up steps per chain.
    target_accept : the step-size adaptation's target acceptance rate.
    max_treedepth : the largest number of trajectory doublings.
    dense_mass : adapt a dense mass matrix (default: diagonal, as Stan and PyMC); helps when parameters are
        strongly correlated a posteriori (e.g. the intercept and non-centred random intercepts of a GLMM with
        informative groups) at a cost per step that grows with the square of the number of parameters.
    """

    def __init__(self, *, built: BuiltModel, chains: int, draws: int, tune: int, target_accept: float,
                 max_treedepth: int, dense_mass: bool = False) -> None:
        jax = configure_jax(chains)
        import jax.numpy as jnp
        import pytensor.tensor as pt
        from pymc.sampling.jax import get_jaxified_graph
        from pytensor.graph.replace import graph_replace

        self.built = built
        self.chains, self.draws, self.tune = chains, draws, tune
        model = built.pm_model
        value_vars = model.value_vars
        self.value_names = [v.name for v in value_vars]
        data_shared = model[built.data_name]
        data_in = pt.tensor("data_in", shape=(None,), dtype=data_shared.dtype)
        out_vars = [v for v in model.unobserved_value_vars if v.name in built.free_names]
        self.out_names = [v.name for v in out_vars]
        # one graph for the log density and the constrained values (one rewrite pass; XLA drops what is unused)
        outputs = graph_replace([model.logp(), *out_vars], {data_shared: data_in})
        joint_fn = get_jaxified_graph(inputs=[*value_vars, data_in], outputs=outputs)

        from blackjax.adaptation.mass_matrix import mass_matrix_adaptation
        from blackjax.adaptation.step_size import dual_averaging_adaptation
        from blackjax.adaptation.window_adaptation import build_schedule
        from blackjax.mcmc.nuts import build_kernel
        from blackjax.mcmc.nuts import init as nuts_init

        mm_init, mm_update, mm_final = mass_matrix_adaptation(not dense_mass)
        guesses = unconstrained_scales(built, unconstrained_start(built))
        # the first inverse mass matrix: the builder's guessed posterior variances, else the identity
        inv_mass0 = None if guesses is None else np.concatenate([guesses[n].ravel() ** 2 for n in self.value_names])
        da_init, da_update, da_final = dual_averaging_adaptation(target_accept)
        schedule = np.asarray(build_schedule(tune), dtype=np.int64).reshape(-1, 2) if tune else np.zeros((1, 2), int)
        stages, window_ends = jnp.asarray(schedule[:, 0]), jnp.asarray(schedule[:, 1].astype(bool))
        kernel = build_kernel()
        total = tune + draws

        # Warm-up (Stan's windowed adaptation of step size and diagonal mass matrix) and sampling run as one loop
        # around a single NUTS kernel, so that XLA compiles the kernel once.  The loop is advanced in chunks of a
        # fixed number of iterations by the same compiled program: between chunks the state stays on the device
        # and Python can update a progress bar.
        self.total = total
        self.chunk = max(1, -(-total // 20))

        def densities(data: Any) -> tuple[Any, Any]:
            def logdensity(pos: list[Any]) -> Any:
                return joint_fn(*pos, data)[0]

            def post_fn(*pos: Any) -> Any:
                return joint_fn(*pos, data)[1:]

            return logdensity, post_fn

        def init_chain(position: list[Any], data: Any) -> Any:
            logdensity, post_fn = densities(data)
            state = nuts_init(position, logdensity)
            ndim = sum(int(np.prod(p.shape)) for p in position)
            ss, mm = da_init(1.0), mm_init(ndim)
            if inv_mass0 is not None:
                inv0 = jnp.asarray(inv_mass0)
                mm = mm._replace(inverse_mass_matrix=jnp.diag(inv0) if dense_mass else inv0)
            post0 = post_fn(*position)
            out = [jnp.zeros((draws, *jnp.shape(v)), dtype=jnp.result_type(v)) for v in post0]
            stats = {k: jnp.zeros((draws,), dtype=dt) for k, dt in (
                ("diverging", bool), ("tree_depth", jnp.int64), ("energy", float), ("acceptance_rate", float),
                ("n_steps", jnp.int64), ("lp", float), ("step_size", float))}
            return (state, ss, mm, jnp.asarray(1.0), mm.inverse_mass_matrix, out, stats)

        def adapt(i: Any, info: Any, st: Any, ss: Any, mm: Any) -> tuple[Any, Any]:
            k = jnp.minimum(i, stages.shape[0] - 1)
            ss = da_update(ss, info.acceptance_rate)
            mm = jax.lax.cond(stages[k] == 1, lambda m: mm_update(m, st.position), lambda m: m, mm)
            return jax.lax.cond(window_ends[k], lambda a: (da_init(da_final(a[0])), mm_final(a[1])),
                                lambda a: a, (ss, mm))

        def advance(key: Any, carry: Any, start: Any, data: Any) -> Any:
            logdensity, post_fn = densities(data)

            def body(i: Any, carry: Any) -> Any:
                st, ss, mm, step_size, imm, out, stats = carry
                st, info = kernel(jax.random.fold_in(key, i), st, logdensity, step_size, imm,
                                  max_num_doublings=max_treedepth)
                warm = i < tune
                ss, mm = jax.lax.cond(warm, lambda a: adapt(i, info, st, *a), lambda a: a, (ss, mm))
                new_step = jnp.where(i == tune - 1, jnp.exp(ss.log_step_size_avg), jnp.exp(ss.log_step_size))
                j = jnp.maximum(i - tune, 0)
                values = post_fn(*st.position)
                out = [jax.lax.dynamic_update_index_in_dim(o, v, j, 0) for o, v in zip(out, values, strict=True)]
                rec = {"diverging": info.is_divergent, "tree_depth": info.num_trajectory_expansions,
                       "energy": info.energy, "acceptance_rate": info.acceptance_rate,
                       "n_steps": info.num_integration_steps, "lp": st.logdensity, "step_size": step_size}
                stats = {k: jax.lax.dynamic_update_index_in_dim(stats[k], jnp.asarray(rec[k], stats[k].dtype), j, 0)
                         for k in stats}
                return (st, ss, mm, jnp.where(warm, new_step, step_size),
                        jnp.where(warm, mm.inverse_mass_matrix, imm), out, stats)

            return jax.lax.fori_loop(start, jnp.minimum(start + self.chunk, total), body, carry)

        # Every chain runs the same unbatched program whatever the device layout, so that a seed gives the same
        # draws with 1 host device or 100 (a vmapped batch of chains, or a pmapped program, rounds differently
        # from one chain alone): chain c runs on host device c mod (number of devices), all dispatched at once.
        # at most one device per CPU core: more would compile more copies for no speed
        self.devices = jax.local_devices()[: max(1, min(jax.local_device_count(), chains, os.cpu_count() or 1))]
        self._init, self._advance = jax.jit(init_chain), jax.jit(advance)
        self._compiled: Any = None
        self._jax = jax

    def _arguments(self, seed: int, data: np.ndarray) -> list[tuple[Any, list[Any], Any]]:
        """Per chain: its key, starting point and the data, on the chain's device.  Keys and starting points are
        derived from the seed per chain, so they do not depend on the layout."""
        jax = self._jax
        keys = np.asarray(jax.random.split(jax.random.PRNGKey(seed % (2**32)), self.chains))
        starts = initial_points(self.built, self.chains, np.random.default_rng(seed))
        data = np.asarray(data, dtype=float)
        out = []
        for c in range(self.chains):
            dev = self.devices[c % len(self.devices)]
            out.append(jax.device_put((keys[c], [starts[c][name] for name in self.value_names], data), dev))
        return out

    def compile(self, seed: int = 0) -> float:
        """Trace and compile for each device used (or load from the persistent cache); returns the seconds."""
        if self._compiled is not None:
            return 0.0
        from concurrent.futures import ThreadPoolExecutor

        t0 = time.perf_counter()
        args = self._arguments(seed, self.built.observed)[: len(self.devices)]
        # XLA compiles the copies for the devices in parallel (it releases the GIL); tracing is done once
        with ThreadPoolExecutor(max_workers=len(args)) as pool:
            inits = list(pool.map(lambda low: low.compile(), [self._init.lower(i, d) for _, i, d in args]))
            carries = [c(i, d) for c, (_, i, d) in zip(inits, args, strict=True)]
            lowered = [self._advance.lower(k, c, np.int64(0), d) for c, (k, _, d) in zip(carries, args, strict=True)]
            advances = list(pool.map(lambda low: low.compile(), lowered))
        self._compiled = list(zip(inits, advances, strict=True))
        return time.perf_counter() - t0

    def run(self, seed: int, data: np.ndarray | None = None,
            progress: Callable[[int, int], None] | None = None) -> RawSamples:
        """Sample; ``data`` replaces the observed values (same shape) without recompiling.  ``progress`` is called
        with (iterations done, total iterations) after each chunk."""
        with single_blas_thread():
            return self._run(seed, data, progress)

    def _run(self, seed: int, data: np.ndarray | None,
             progress: Callable[[int, int], None] | None) -> RawSamples:
        t_compile = self.compile(seed)
        reused = t_compile == 0.0
        t0 = time.perf_counter()
        args = self._arguments(seed, self.built.observed if data is None else data)
        ndev = len(self.devices)
        carries = [self._compiled[c % ndev][0](init, d) for c, (_, init, d) in enumerate(args)]
        for start in range(0, self.total, self.chunk):
            carries = [self._compiled[c % ndev][1](key, carries[c], np.int64(start), d)
                       for c, (key, _, d) in enumerate(args)]
            if progress is not None:
                self._jax.block_until_ready(carries)
                progress(min(start + self.chunk, self.total), self.total)
        results = self._jax.device_get([(carry[5], carry[6]) for carry in carries])
        t_sample = time.perf_counter() - t0
        draws = {name: np.stack([np.asarray(post[i]) for post, _ in results])
                 for i, name in enumerate(self.out_names)}
        stats = {k: np.stack([np.asarray(st[k]) for _, st in results]) for k in results[0][1]}
        return RawSamples(draws, stats, {"compile": t_compile, "sample": t_sample}, reused)


def blackjax_sampler(built: BuiltModel, chains: int, draws: int, tune: int, target_accept: float,
                     max_treedepth: int, dense_mass: bool = False) -> BlackjaxSampler:
    """The sampler for these settings, cached on the model (its compiled program is reused)."""
    key = ("blackjax", chains, draws, tune, float(target_accept), int(max_treedepth), dense_mass)
    if key not in built.cache:
        built.cache[key] = BlackjaxSampler(built=built, chains=chains, draws=draws, tune=tune,
                                           target_accept=target_accept, max_treedepth=max_treedepth,
                                           dense_mass=dense_mass)
    return built.cache[key]


# ---- the other samplers ----------------------------------------------------------------------------------------

_STAT_NAMES = {
    "diverging": ("diverging",),
    "tree_depth": ("tree_depth", "depth"),
    "energy": ("energy",),
    "acceptance_rate": ("acceptance_rate", "mean_tree_accept"),
    "n_steps": ("n_steps",),
    "lp": ("lp", "logp"),
    "step_size": ("step_size",),
}


def _from_datatree(built: BuiltModel, idata: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    post = idata["posterior"]
    draws = {name: np.asarray(post[name].values) for name in built.free_names}
    ss = idata["sample_stats"]
    stats = {}
    for common, candidates in _STAT_NAMES.items():
        for c in candidates:
            if c in ss:
                stats[common] = np.asarray(ss[c].values)
                break
    return draws, stats


def _cores(chains: int, n_jobs: int | None) -> int:
    return int(n_jobs) if n_jobs else max(1, min(chains, os.cpu_count() or 1))


def _sample_nutpie(built: BuiltModel, chains: int, draws: int, tune: int, target_accept: float,
                   max_treedepth: int, seed: int, progressbar: bool, cores: int | None,
                   kwargs: dict[str, Any]) -> RawSamples:
    import nutpie

    kwargs = dict(kwargs)
    backend = kwargs.pop("backend", "numba")
    key = ("nutpie", backend)
    t0 = time.perf_counter()
    compiled = built.cache.get(key)
    reused = compiled is not None
    if compiled is None:
        opts = {"backend": backend}
        if backend == "jax":
            configure_jax(chains)
            opts["gradient_backend"] = "jax"
        compiled = nutpie.compile_pymc_model(built.pm_model, **opts)
        built.cache[key] = compiled
    t_compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    idata = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, cores=_cores(chains, cores), seed=seed,
                          progress_bar=progressbar, target_accept=target_accept, maxdepth=max_treedepth,
                          save_warmup=False, **kwargs)
    d, s = _from_datatree(built, idata)
    return RawSamples(d, s, {"compile": t_compile, "sample": time.perf_counter() - t0}, reused)


def _sample_pymc(built: BuiltModel, chains: int, draws: int, tune: int, target_accept: float, max_treedepth: int,
                 seed: int, progressbar: bool, cores: int | None, kwargs: dict[str, Any],
                 nuts_sampler: str = "pymc") -> RawSamples:
    import pymc as pm

    kwargs = dict(kwargs)
    nuts = {"target_accept": target_accept, **dict(kwargs.pop("nuts", {}))}
    if nuts_sampler == "pymc":
        nuts.setdefault("max_treedepth", max_treedepth)
        kwargs.setdefault("cores", _cores(chains, cores))
    else:
        nuts.setdefault("chain_method", "parallel")
        nuts.setdefault("max_tree_depth", max_treedepth)
        configure_jax(chains)
    t0 = time.perf_counter()
    with built.pm_model:
        idata = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed, progressbar=progressbar,
                          nuts_sampler=nuts_sampler, nuts=nuts, compute_convergence_checks=False, **kwargs)
    d, s = _from_datatree(built, idata)
    return RawSamples(d, s, {"compile": 0.0, "sample": time.perf_counter() - t0}, False)


DENSE_MASS_MAX_DIM = 100
"""Largest sampled dimension for which the blocked-Schur form adapts a dense mass matrix by default."""


def default_dense_mass(built: BuiltModel) -> bool:
    """Whether blackjax adapts a dense mass matrix when ``dense_mass`` is not given: for the blocked-Schur form
    with at most :data:`DENSE_MASS_MAX_DIM` sampled parameters.  Its posterior (fixed effects, SDs, correlations,
    sigma) is low-dimensional and correlated; on the maximal crossed design a dense mass matrix took 17.8 leapfrog
    steps per draw where the diagonal one took about 31 (docs/bayes.md), at a cost per step (d^2) that is negligible
    next to the gradient's."""
    if built.mode != "schur":
        return False
    ndim = sum(int(np.prod(np.shape(v))) for v in unconstrained_start(built).values())
    return ndim <= DENSE_MASS_MAX_DIM


def run_sampler(built: BuiltModel, settings: SampleControl, seed: int) -> RawSamples:
    """Sample ``built`` with the sampler and settings of ``settings``, from ``seed`` (BLAS on one thread:
    :func:`single_blas_thread`)."""
    s = settings
    with single_blas_thread():
        return _run_sampler(built, s.sampler, s.chains, s.draws, s.tune, s.target_accept, s.max_treedepth, seed,
                            s.progressbar, s.n_jobs, dict(s.sampler_kwargs))


def _run_sampler(built: BuiltModel, sampler: str, chains: int, draws: int, tune: int, target_accept: float,
                 max_treedepth: int, seed: int, progressbar: bool, cores: int | None,
                 sampler_kwargs: dict[str, Any] | None) -> RawSamples:
    kwargs = dict(sampler_kwargs or {})
    if sampler == "blackjax":
        dense = kwargs.pop("dense_mass", None)
        dense = default_dense_mass(built) if dense is None else bool(dense)
        if kwargs:
            from ..exceptions import NotSupportedError

            raise NotSupportedError(f"unknown blackjax option(s) {', '.join(kwargs)}; the option is dense_mass")
        t0 = time.perf_counter()
        compiled = blackjax_sampler(built, chains, draws, tune, target_accept, max_treedepth, dense)
        setup = time.perf_counter() - t0
        bar = None
        if progressbar:
            from .progress import ProgressBar

            bar = ProgressBar(tune, chains)
        raw = compiled.run(seed, progress=bar)
        if bar is not None:
            bar.close()
        if not raw.reused:
            raw.timings["compile"] += setup  # translation to JAX and tracing count as compilation
        return raw
    if sampler == "nutpie":
        return _sample_nutpie(built, chains, draws, tune, target_accept, max_treedepth, seed, progressbar, cores,
                              kwargs)
    if sampler in ("pymc", "numpyro"):
        return _sample_pymc(built, chains, draws, tune, target_accept, max_treedepth, seed, progressbar, cores,
                            kwargs, nuts_sampler=sampler)
    from ..exceptions import NotSupportedError

    raise NotSupportedError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
