"""Bound-constrained derivative-free optimisers behind one interface, and the optimisation record.

``bobyqa`` (NLopt's BOBYQA, lme4's default ``nloptwrap``) is the default.  The others exist for ``allfit``
(lme4's ``allFit``): NLopt's Nelder-Mead, Sbplx and COBYLA, and SciPy's L-BFGS-B (finite-difference
gradient), Powell and COBYQA.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["GRADIENT_OPTIMIZERS", "OPTIMIZERS", "OptSummary", "minimize", "snap_to_bounds"]

Objective = Callable[[np.ndarray], float]


@dataclass
class OptSummary:
    """What the optimiser did (cf. MixedModels.jl's ``OptSummary``).

    Attributes
    ----------
    optimizer : registry name.
    initial, final : starting and final parameter vectors.
    lower, upper : bounds.
    fmin : objective at ``final``.
    feval : number of objective evaluations.
    converged : whether the optimiser reports success.
    message : the optimiser's own return message.
    log : every evaluation as (parameters, objective), in order.
    restarts : notes on restarts (boundary restarts, boundary snaps).
    strategy : notes of the robust strategy for hard surfaces: each restart after a stop on the boundary or with a
        degenerate Hessian, where it started, what it reached and which optimum was kept (empty when none ran).
    elapsed : seconds.
    settings : tolerances and limits used.
    """

    optimizer: str
    initial: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    final: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fmin: float = np.inf
    feval: int = 0
    converged: bool = False
    message: str = ""
    log: list[tuple[np.ndarray, float]] = field(default_factory=list, repr=False)
    restarts: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    settings: dict[str, float] = field(default_factory=dict)
    strategy: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"optimizer {self.optimizer}: {self.feval} evaluations in {self.elapsed:.3g}s, "
            f"objective {self.fmin:.10g}, {'converged' if self.converged else 'NOT converged'} ({self.message})"
            + (f"; {'; '.join(self.restarts)}" if self.restarts else "")
            + (f"; {'; '.join(self.strategy)}" if self.strategy else "")
        )


# x tolerance only: f-based stopping ends too early on the flat directions of variance parameters
DEFAULTS = {"ftol_rel": 0.0, "ftol_abs": 0.0, "xtol_rel": 0.0, "xtol_abs": 1e-8, "maxeval": 100000}


def _nlopt(algorithm_name: str) -> Callable[..., tuple[np.ndarray, float, bool, str]]:
    def run(fun: Objective, x0: np.ndarray, lower: np.ndarray, upper: np.ndarray,
            settings: dict[str, float]) -> tuple[np.ndarray, float, bool, str]:
        import nlopt

        n = len(x0)
        opt = nlopt.opt(getattr(nlopt, algorithm_name), n)
        opt.set_min_objective(lambda x, grad: fun(np.asarray(x)))
        opt.set_lower_bounds(np.where(np.isfinite(lower), lower, -1e300).tolist())
        opt.set_upper_bounds(np.where(np.isfinite(upper), upper, 1e300).tolist())
        opt.set_ftol_rel(settings["ftol_rel"])
        opt.set_ftol_abs(settings["ftol_abs"])
        opt.set_xtol_rel(settings["xtol_rel"])
        xtol_abs = np.broadcast_to(np.asarray(settings["xtol_abs"], dtype=float), (n,))
        opt.set_xtol_abs(xtol_abs.tolist())
        opt.set_maxeval(int(settings["maxeval"]))
        step = np.maximum(np.abs(x0) * 0.2, 0.1) if "initial_step" not in settings else np.full(
            n, settings["initial_step"])
        opt.set_initial_step(step.tolist())
        codes = {1: "success", 2: "stopval reached", 3: "ftol reached", 4: "xtol reached",
                 5: "maxeval reached", 6: "maxtime reached", -1: "failure", -2: "invalid arguments",
                 -3: "out of memory", -4: "roundoff limited", -5: "forced stop"}
        try:
            x = opt.optimize(np.asarray(x0, dtype=float).tolist())
            code = opt.last_optimize_result()
        except nlopt.RoundoffLimited:
            # progress limited by rounding: the optimum is as precise as the objective allows
            code = -4
            x = None
        fbest = opt.last_optimum_value()
        ok = (code > 0 and code != 5) or code == -4
        return (np.asarray(x0) if x is None else np.asarray(x)), float(fbest), ok, \
            f"NLopt {algorithm_name}: {codes.get(code, code)}"

    return run


def _scipy(method: str) -> Callable[..., tuple[np.ndarray, float, bool, str]]:
    def run(fun: Objective, x0: np.ndarray, lower: np.ndarray, upper: np.ndarray,
            settings: dict[str, float]) -> tuple[np.ndarray, float, bool, str]:
        from scipy import optimize

        bounds = optimize.Bounds(np.where(np.isfinite(lower), lower, -np.inf),
                                 np.where(np.isfinite(upper), upper, np.inf))
        options: dict[str, float] = {"maxiter": int(settings["maxeval"])}
        if method == "L-BFGS-B":
            options.update({"ftol": 1e-14, "gtol": 1e-9})
        elif method == "Powell":
            options.update({"xtol": 1e-8, "ftol": 1e-13})
        res = optimize.minimize(fun, np.asarray(x0, dtype=float), method=method, bounds=bounds, options=options)
        return np.asarray(res.x), float(res.fun), bool(res.success), f"scipy {method}: {res.message}"

    return run


def _lbfgsb_gradient(fun: Objective, x0: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                     settings: dict[str, float], grad: Callable[[np.ndarray], np.ndarray]) -> tuple[
                         np.ndarray, float, bool, str]:
    """SciPy's L-BFGS-B with an analytic gradient (``grad``), stopped by a projected gradient of 1e-8 or a
    relative change of the objective at machine precision."""
    from scipy import optimize

    def fg(x: np.ndarray) -> tuple[float, np.ndarray]:
        value = fun(x)
        if value >= 1e300:
            return value, np.zeros(len(x))
        g = np.asarray(grad(np.clip(x, lower, upper)), dtype=float)
        return value, np.where(np.isfinite(g), g, 0.0)

    bounds = list(zip(np.where(np.isfinite(lower), lower, None), np.where(np.isfinite(upper), upper, None),
                      strict=True))
    res = optimize.minimize(fg, np.asarray(x0, dtype=float), jac=True, method="L-BFGS-B", bounds=bounds,
                            options={"maxiter": int(settings["maxeval"]), "maxfun": int(settings["maxeval"]),
                                     "ftol": 1e-15, "gtol": 1e-8, "maxcor": 20})
    ok = bool(res.success) or "ABNORMAL" in str(res.message)  # ABNORMAL: no descent left at rounding level
    return np.asarray(res.x), float(res.fun), ok, f"scipy L-BFGS-B (analytic gradient): {res.message}"


def _none(fun: Objective, x0: np.ndarray, lower: np.ndarray, upper: np.ndarray,
          settings: dict[str, float]) -> tuple[np.ndarray, float, bool, str]:
    """No optimisation: evaluate at the start (lme4's ``optimizer = NULL``)."""
    return np.asarray(x0, dtype=float), float(fun(x0)), True, "no optimisation: evaluated at the start"


OPTIMIZERS: dict[str, Callable[..., tuple[np.ndarray, float, bool, str]]] = {
    "none": _none,
    "bobyqa": _nlopt("LN_BOBYQA"),
    "nelder_mead": _nlopt("LN_NELDERMEAD"),
    "sbplx": _nlopt("LN_SBPLX"),
    "cobyla": _nlopt("LN_COBYLA"),
    "lbfgsb": _scipy("L-BFGS-B"),
    "powell": _scipy("Powell"),
    "cobyqa": _scipy("COBYQA"),
}


#: optimisers that need the objective's gradient (``minimize(..., grad=...)``); not part of ``allfit``'s set
GRADIENT_OPTIMIZERS = {"lbfgsb_grad": _lbfgsb_gradient}


def minimize(
    fun: Objective,
    x0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray | None = None,
    optimizer: str = "bobyqa",
    settings: dict[str, float] | None = None,
    summary: OptSummary | None = None,
    grad: Callable[[np.ndarray], np.ndarray] | None = None,
) -> OptSummary:
    """Minimise ``fun`` within bounds, logging every evaluation into an :class:`OptSummary`; ``grad`` (the
    gradient of ``fun``) is required by the optimisers in ``GRADIENT_OPTIMIZERS``."""
    if optimizer not in OPTIMIZERS and not (optimizer in GRADIENT_OPTIMIZERS and grad is not None):
        from ..exceptions import NotSupportedError

        raise NotSupportedError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    x0 = np.asarray(x0, dtype=float)
    lower = np.asarray(lower, dtype=float)
    upper = np.full_like(x0, np.inf) if upper is None else np.asarray(upper, dtype=float)
    opts = {**DEFAULTS, **(settings or {})}
    if summary is None:
        summary = OptSummary(optimizer, x0.copy(), lower, upper, settings=opts)
    start_evals = len(summary.log)
    best = [np.inf, x0.copy()]

    def logged(x: np.ndarray) -> float:
        x = np.clip(np.asarray(x, dtype=float), lower, upper)
        try:
            value = float(fun(x))
        except ArithmeticError:
            value = np.inf
        if not np.isfinite(value):
            value = 1e300
        summary.log.append((x.copy(), value))
        if value < best[0]:
            best[0] = value
            best[1] = x.copy()
        if summary.settings.get("maxeval") and len(summary.log) - start_evals > summary.settings["maxeval"]:
            raise _MaxEval
        return value

    t0 = time.perf_counter()
    try:
        if optimizer in GRADIENT_OPTIMIZERS:
            x, f, ok, message = GRADIENT_OPTIMIZERS[optimizer](logged, x0, lower, upper, opts, grad)
        else:
            x, f, ok, message = OPTIMIZERS[optimizer](logged, x0, lower, upper, opts)
    except _MaxEval:
        x, f, ok, message = best[1], best[0], False, f"{optimizer}: evaluation limit reached"
    if best[0] <= f:  # keep the best point ever evaluated
        x, f = best[1], best[0]
    summary.elapsed += time.perf_counter() - t0
    summary.final = np.clip(np.asarray(x, dtype=float), lower, upper)
    summary.fmin = float(f)
    summary.feval = len(summary.log)
    summary.converged = ok
    summary.message = message
    return summary


class _MaxEval(Exception):
    pass


def snap_to_bounds(fun: Objective, summary: OptSummary, lower: np.ndarray, tol: float,
                   label: str = "parameter {i}") -> OptSummary:
    """lme4's ``check.boundary``: move each parameter within ``tol`` of its lower bound onto the bound when the
    objective is no worse there (noted in ``summary.restarts`` as ``label`` formatted with the index ``i``)."""
    if tol <= 0:
        return summary
    x = summary.final.copy()
    diff = x - lower
    for i in np.where(np.isfinite(lower) & (diff > 0) & (diff < tol))[0]:
        trial = x.copy()
        trial[i] = lower[i]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = fun(trial)
        if value < summary.fmin:
            x, summary.fmin = trial, value
            summary.restarts.append(f"{label.format(i=i)} snapped to its bound")
    summary.final = x
    return summary
