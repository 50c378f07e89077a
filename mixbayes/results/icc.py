"""Intraclass correlation as ``performance::icc`` defines it, with design effects.

Random-effect variance: for each term, the mean over observations of z_i' Sigma z_i (Johnson's extension to
random slopes, as ``insight::get_variance``); residual variance: sigma^2 for Gaussian models and the
distribution-specific (latent) variance for GLMMs (pi^2/3 logit, 1 probit, pi^2/6 cloglog; log(1 + 1/lambda)
for the log link) plus the variance of observation-level terms (one level per observation); fixed-effect
variance: var(X beta).

adjusted ICC = var_random / (var_random + var_residual)
unadjusted ICC = var_random / (var_fixed + var_random + var_residual)

Per grouping factor k: rho_k = var_k / (var_random + var_residual), design effect 1 + (m_k - 1) rho_k with m_k the
mean number of observations per level, and effective sample size n / design effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ICC", "icc", "latent_residual_variance"]


@dataclass(frozen=True)
class ICC:
    """ICC estimates; ``groups`` has per grouping factor: variance, icc, mean_size, design_effect, n_eff."""

    adjusted: float
    unadjusted: float
    var_random: float
    var_residual: float
    var_fixed: float
    groups: pd.DataFrame

    def __str__(self) -> str:
        return (f"Intraclass Correlation Coefficient\n  Adjusted ICC:   {self.adjusted:.3f}\n"
                f"  Unadjusted ICC: {self.unadjusted:.3f}\n\n{self.groups.round(3).to_string()}")


def latent_residual_variance(fit: Any) -> float:
    fam = fit.design.family
    if fam.name == "gaussian":
        return float(fit.sigma**2)
    link = fam.link.name
    if fam.name == "binomial":
        return {"logit": np.pi**2 / 3, "probit": 1.0, "cloglog": np.pi**2 / 6}[link]
    # Poisson / negative binomial, log link: lognormal approximation log(1 + 1/lambda) (+ 1/theta for NB2),
    # lambda = exp(intercept of the null model), as insight (0.18, used by performance 0.10.2) does
    lam = _null_lambda(fit)
    extra = 0.0 if fam.theta is None else 1.0 / fam.theta
    return float(np.log1p(1.0 / lam + extra))


def _null_lambda(fit: Any) -> float:
    beta0 = getattr(fit, "_null_intercept", None)
    if beta0 is None:
        beta0 = fit.null_intercept()
        fit._null_intercept = beta0
    return float(np.exp(beta0))


def _observation_level(fit: Any, term: Any) -> bool:
    """A term with one level per observation (e.g. ``(1 | obs)`` for overdispersion) is residual variance, as in
    insight."""
    return fit.design.family.name != "gaussian" and term.n_levels == fit.nobs


def _random_variance(fit: Any, observation_level: bool = False) -> tuple[float, dict[str, float]]:
    vc = fit.varcorr
    total = 0.0
    per: dict[str, float] = {}
    for t, tc in zip(fit.design.terms, vc.terms, strict=True):
        if _observation_level(fit, t) != observation_level:
            continue
        v = float(np.mean(np.einsum("ij,jk,ik->i", t.z, tc.cov, t.z)))
        total += v
        per[t.group] = per.get(t.group, 0.0) + v
    return total, per


def icc(fit: Any) -> ICC:
    var_random, per = _random_variance(fit)
    var_resid = latent_residual_variance(fit) + _random_variance(fit, observation_level=True)[0]
    eta_fixed = fit.design.X @ fit.beta
    var_fixed = float(np.var(eta_fixed, ddof=1)) if fit.nobs > 1 else 0.0
    total = var_random + var_resid
    rows = []
    n = fit.nobs
    for t in fit.design.terms:
        if t.group in [r["group"] for r in rows] or t.group not in per:
            continue
        rho = per[t.group] / total
        size = n / t.n_levels
        deff = 1.0 + (size - 1.0) * rho
        rows.append({"group": t.group, "variance": per[t.group], "icc": rho, "mean_size": size,
                     "design_effect": deff, "n_eff": n / deff})
    return ICC(var_random / total, var_random / (var_fixed + total), var_random, var_resid, var_fixed,
               pd.DataFrame(rows).set_index("group"))
