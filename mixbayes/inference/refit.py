"""Fast refits of one design to many responses (parametric bootstrap, profiles), and simulation.

A :class:`Refitter` keeps one objective (its cross-product plan and factor workspace) and only recomputes the
cross-products for each new response; the optimisation is the one :func:`~mixbayes.likelihood.lmm.fit_lmm`
runs (same optimiser, starting point and boundary handling), without the derivative-based convergence checks.
:func:`portable_design` strips a design down to what a refit needs, so it pickles with the standard pickler
(for process pools and Dask workers).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..design.matrices import ModelMatrices
from ..design.terms import add_simulated_effects
from ..likelihood.lmm import LmmControl, LmmObjective, optimize_theta

__all__ = ["RefitEstimate", "Refitter", "ml_fit", "portable_design", "restore_design", "same_data",
           "simulate_response"]


@dataclass(kw_only=True, frozen=True)
class RefitEstimate:
    """theta, beta, sigma and the objective (REML criterion or deviance) of one refit."""

    theta: np.ndarray
    beta: np.ndarray
    sigma: float
    objective: float
    converged: bool
    message: str

    @property
    def loglik(self) -> float:
        return -0.5 * self.objective


def ml_fit(fit: Any) -> Any:
    """A linear mixed model's ML fit: the fit itself, or for a REML fit an ML refit starting from its theta (as
    lme4 refits before likelihood-ratio tests and profiles)."""
    return fit.model.fit("ml", emit_warnings=False, control=fit.control, start=fit.theta) if fit.reml else fit


def portable_design(design: ModelMatrices) -> ModelMatrices:
    """The design without the data frame, formula, formulaic specs and family (restored by
    :func:`restore_design`)."""
    terms = tuple(replace(t, spec=None) for t in design.terms)
    return replace(design, terms=terms, frame=None, fixed_spec=None, formula=None, family=None)  # type: ignore[arg-type]


def restore_design(design: ModelMatrices) -> ModelMatrices:
    """Give a portable design its (Gaussian, identity) family back."""
    if design.family is not None:
        return design
    from ..families import get_family

    return replace(design, family=get_family("gaussian"))


class Refitter:
    """Refit one design (by REML or ML) to new responses, reusing the objective's workspace."""

    def __init__(self, design: ModelMatrices, reml: bool, control: Any = None) -> None:
        ctl = LmmControl.from_any(control)
        self.control = replace(ctl, calc_derivs=False)
        self.design = design
        self.reml = reml
        self.objective = LmmObjective(design, reml)

    def fit(self, y: np.ndarray, start: np.ndarray | None = None) -> RefitEstimate:
        obj = self.objective
        obj.set_response(y)
        summary = optimize_theta(obj, self.design, self.control, start)
        theta = summary.final
        value = obj(theta)
        beta, _ = obj.factor.solve()
        return RefitEstimate(theta=theta.copy(), beta=beta, sigma=obj.sigma(), objective=float(value),
                             converged=bool(summary.converged), message=summary.message)


def simulate_response(design: ModelMatrices, beta: np.ndarray, theta: np.ndarray, sigma: float,
                      rng: np.random.Generator, include_random: bool = True) -> np.ndarray:
    """One response drawn from a linear mixed model: new random effects (unless ``include_random`` is False)
    and residuals (``LmmFit.simulate`` draws each column this way)."""
    y = design.X @ beta + design.offset
    if include_random:
        y = add_simulated_effects(y, design.terms, theta, rng, sigma)
    return design.family.simulate(y, rng, sigma=sigma, weights=design.weights)


def same_data(fits: list[Any]) -> bool:
    """Whether the fits were fitted to the same observations, response and family (what a likelihood-ratio
    test of them needs)."""
    ref = fits[0]
    for f in fits[1:]:
        if f.nobs != ref.nobs or not np.array_equal(f.design.row_index, ref.design.row_index):
            return False
        if not np.allclose(f.design.y, ref.design.y) or type(f.design.family) is not type(ref.design.family):
            return False
    return True
