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

from ..inference.icc_draws import ICCDraws, icc_draws

__all__ = ["ICC", "ICCDraws", "icc", "icc_draws", "latent_residual_variance"]


@dataclass(kw_only=True, frozen=True, repr=False)
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

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        from ..tables import frame_html

        return (f"<div class='mixbayes-summary'><p><b>Intraclass Correlation Coefficient</b><br>"
                f"Adjusted ICC: {self.adjusted:.3f}<br>Unadjusted ICC: {self.unadjusted:.3f}</p>"
                f"{frame_html(self.groups)}</div>")


def latent_residual_variance(fit: Any, theta_nb: float | np.ndarray | None = None,
                             sigma: float | np.ndarray | None = None) -> float | np.ndarray:
    """Residual variance on the latent scale (:meth:`~mixbayes.families.Family.latent_residual_variance`);
    ``theta_nb`` overrides the negative binomial's dispersion and ``sigma`` the residual SD (one value per
    posterior draw for Bayesian fits)."""
    fam = fit.design.family
    out = fam.latent_residual_variance(sigma=sigma if sigma is not None or not fam.has_scale else fit.sigma,
                                       null_lambda=lambda: _null_lambda(fit), dispersion=theta_nb)
    return float(out) if np.ndim(out) == 0 else out


def _null_lambda(fit: Any) -> float:
    return float(np.exp(fit.null_intercept()))  # each fit computes it once


def icc(fit: Any) -> ICC:
    covs = [tc.cov[None] for tc in fit.varcorr.terms]
    d = icc_draws(fit.design, covs, np.asarray(fit.beta, dtype=float)[None],
                  np.atleast_1d(latent_residual_variance(fit)))
    rows = [{"group": g, **{k: float(np.asarray(v).ravel()[0]) for k, v in vals.items()}}
            for g, vals in d.groups.items()]
    return ICC(adjusted=float(d.adjusted[0]), unadjusted=float(d.unadjusted[0]), var_random=float(d.var_random[0]),
               var_residual=float(d.var_residual[0]), var_fixed=float(d.var_fixed[0]),
               groups=pd.DataFrame(rows).set_index("group"))
