"""The ICC and its pieces (variance of the random effects, of the fixed part and residual, per-group design
effects) for a set of parameter values: a point estimate, bootstrap refits or posterior draws.  Computation only:
:mod:`mixbayes.results.icc` (``fit.icc()``), the bootstrap and the Bayesian fit import it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ICCDraws", "icc_draws"]


def _observation_level(design: Any, term: Any) -> bool:
    """A term with one level per observation (e.g. ``(1 | obs)`` for overdispersion) is residual variance, as in
    insight."""
    return not design.family.normal_residual and term.n_levels == design.n_obs


@dataclass(kw_only=True, frozen=True)
class ICCDraws:
    """ICC pieces for a set of parameter values (arrays over draws; length 1 for a point estimate)."""

    adjusted: np.ndarray
    unadjusted: np.ndarray
    var_random: np.ndarray
    var_residual: np.ndarray
    var_fixed: np.ndarray
    groups: dict[str, dict[str, np.ndarray | float]]


def icc_draws(design: Any, covs: list[np.ndarray], beta: np.ndarray, var_residual: np.ndarray) -> ICCDraws:
    """The ICC for S sets of parameter values.

    Parameters
    ----------
    design : the model's design.
    covs : per term, (S, q, q) random-effects covariance matrices.
    beta : (S, p) fixed effects.
    var_residual : (S,) residual variance on the latent scale (observation-level terms are added here).
    """
    n = design.n_obs
    S = beta.shape[0]
    var_random = np.zeros(S)
    var_obs = np.zeros(S)
    per: dict[str, np.ndarray] = {}
    blocks = getattr(design, "blocks", None)  # out-of-core data: moments summed over the partitions
    for k, (t, cov) in enumerate(zip(design.terms, covs, strict=True)):
        M = (blocks.zz[k] if blocks is not None else t.z.T @ t.z) / n  # mean over observations of z_i z_i'
        v = np.einsum("sab,ab->s", cov, M)
        if _observation_level(design, t):
            var_obs += v
            continue
        var_random += v
        per[t.group] = per.get(t.group, 0.0) + v
    resid = np.asarray(var_residual, dtype=float) + var_obs
    if blocks is not None:
        mean = beta @ blocks.xsum / n
        var_fixed = (np.einsum("sa,ab,sb->s", beta, blocks.xtx, beta) - n * mean**2) / (n - 1)
    else:
        eta_fixed = beta @ design.X.T
        var_fixed = np.var(eta_fixed, axis=1, ddof=1) if n > 1 else np.zeros(S)
    total = var_random + resid
    groups: dict[str, dict[str, np.ndarray | float]] = {}
    for t in design.terms:
        if t.group in groups or t.group not in per:
            continue
        rho = per[t.group] / total
        size = n / t.n_levels
        deff = 1.0 + (size - 1.0) * rho
        groups[t.group] = {"variance": per[t.group], "icc": rho, "mean_size": size, "design_effect": deff,
                           "n_eff": n / deff}
    return ICCDraws(adjusted=var_random / total, unadjusted=var_random / (var_fixed + total), var_random=var_random,
                    var_residual=resid, var_fixed=var_fixed, groups=groups)
