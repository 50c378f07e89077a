"""A strategy for hard likelihood surfaces: restart after a suspicious stop and keep the best optimum.

Maximal random-effects structures (several correlated slopes per grouping factor) have objectives with ridges
and several local optima on the boundary of the parameter space.  A derivative-free optimiser (BOBYQA, Nelder-Mead)
or a gradient method started at lme4's identity start may stop on a face of the boundary (a zero diagonal entry of
a relative covariance factor), where the directions into the interior are nearly flat.  After such a stop, or one
where the Hessian of the variance parameters is degenerate, :func:`restart` tries again:

1. from the stopping point with each diagonal entry on (or within 1e-4 of) its bound moved into the interior, to
   0.3 times the largest diagonal entry; without boundary entries, from the stopping point scaled by seeded random
   factors in [0.7, 1.3];
2. when the first optimiser was not the gradient method, also from lme4's start with the gradient method;

and keeps the best point.  Each attempt and the choice are recorded in ``OptSummary.strategy`` (printed by the
fit's optimisation summary and by ``summary()``), so a stop short of the best optimum found is never silent.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .optimizers import OptSummary, minimize

__all__ = ["BOUNDARY_TOL", "needs_restart", "restart"]

BOUNDARY_TOL = 1e-4  # lme4's isSingular tolerance on diagonal entries of the relative factors
MAX_ATTEMPTS = 3
INTERIOR_FRACTION = 0.3


def needs_restart(theta: np.ndarray, lower: np.ndarray) -> bool:
    """Whether theta stopped on (or within BOUNDARY_TOL of) a bound."""
    bounded = np.isfinite(lower)
    return bool(np.any(bounded & (theta - lower <= BOUNDARY_TOL)))


def _start_point(theta: np.ndarray, lower: np.ndarray, attempt: int) -> tuple[np.ndarray, str]:
    bounded = np.isfinite(lower)
    near = bounded & (theta - lower <= BOUNDARY_TOL)
    x0 = theta.copy()
    if near.any():
        level = INTERIOR_FRACTION * max(float(np.max(theta[bounded])), 0.1) if bounded.any() else 0.1
        x0[near] = lower[near] + level
        return x0, f"theta[{', '.join(map(str, np.where(near)[0]))}] moved off the boundary to {level:.3g}"
    rng = np.random.default_rng(20261129 + attempt)
    x0 = np.maximum(theta * rng.uniform(0.7, 1.3, len(theta)), lower)
    return x0, "theta scaled by seeded random factors in [0.7, 1.3]"


def restart(objective: Callable[[np.ndarray], float], summary: OptSummary, lower: np.ndarray, x_start: np.ndarray,
            reason: str, grad: Callable[[np.ndarray], np.ndarray] | None, settings: dict[str, float]) -> OptSummary:
    """Restart the optimisation as the module describes; update ``summary`` in place with the best point.

    Parameters
    ----------
    objective : the objective of theta.
    summary : the record of the first optimisation (its ``final``/``fmin`` is the point to improve on).
    lower : lower bounds.
    x_start : the first optimisation's starting point (lme4's start).
    reason : why the strategy runs (for the record).
    grad : the analytic gradient, or None (restarts then use BOBYQA).
    settings : optimiser settings for the restarts.
    """
    method = "lbfgsb_grad" if grad is not None else "bobyqa"
    label = "L-BFGS-B with the analytic gradient" if grad is not None else "BOBYQA"
    best_x, best_f = summary.final.copy(), float(summary.fmin)
    first_f = best_f
    kept = "the first optimum"
    candidates: list[tuple[np.ndarray | None, str]] = [(None, "")]
    if grad is not None and summary.optimizer != method:
        candidates.append((np.asarray(x_start, dtype=float), "lme4's start"))
    attempt = 0
    for fixed, how_fixed in candidates:
        tries = MAX_ATTEMPTS if fixed is None else 1
        for _ in range(tries):
            attempt += 1
            x0, how = (fixed, how_fixed) if fixed is not None else _start_point(best_x, lower, attempt)
            s = minimize(objective, x0, lower, summary.upper, optimizer=method, settings=settings, grad=grad)
            summary.log += s.log
            summary.elapsed += s.elapsed
            note = f"restart {attempt} ({reason}; from {how}; {label}, {s.feval} evaluations): {s.fmin:.10g}"
            if s.fmin < best_f - 1e-10 * max(1.0, abs(best_f)):
                note += f", better by {best_f - s.fmin:.3g}"
                best_x, best_f = s.final.copy(), float(s.fmin)
                kept = f"the optimum of restart {attempt}"
                summary.converged, summary.message = s.converged, s.message
                summary.strategy.append(note)
                if fixed is None and not needs_restart(best_x, lower):
                    break
            else:
                summary.strategy.append(note + ", not better")
                break
    gain = first_f - best_f
    summary.strategy.append(f"kept {kept}" + (f" ({gain:.3g} below the first stop)" if gain > 0 else ""))
    summary.final, summary.fmin, summary.feval = best_x, best_f, len(summary.log)
    return summary
