"""Penalised quasi-likelihood (PQL), as ``MASS::glmmPQL`` fits it (Breslow & Clayton 1993).

The algorithm, step by step as MASS does it:

1. Fit the GLM without random effects (R's ``glm.fit``: IRLS from the family's starting values, stopped when the
   deviance changes by less than 1e-8 relative).  Its linear predictor eta, working response
   z = eta + (y - mu) / mu_eta - offset and working weights w = wt mu_eta^2 / V(mu) (those of the last IRLS
   step, as glm returns them) start the iteration.
2. Fit the weighted linear mixed model z ~ X beta + Z b by maximum likelihood, with residual variance
   sigma^2 / w (nlme's ``lme(method = "ML", weights = varFixed(~ 1/w))``; here the LMM engine with prior weights
   w, which has the same likelihood).
3. eta = X beta + Z b + offset (the fitted values at the innermost level).  Stop when
   sum((eta - eta_old)^2) < 1e-6 sum(eta^2); else recompute z and w at the new eta and go to 2.  At most
   ``niter`` (10) fits; the last LMM fit is the result.

The residual scale sigma is estimated (a quasi-likelihood dispersion), not held at 1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..design.matrices import ModelMatrices
from ..design.terms import relative_effects
from ..exceptions import FitError, NotSupportedError
from ..families import Family, get_family
from .lmm import LmmEstimate, fit_lmm

__all__ = ["PqlEstimate", "fit_pql", "glm_irls"]


@dataclass(kw_only=True)
class PqlEstimate:
    """Raw output of :func:`fit_pql`: the last working LMM, its working data, and the iteration record."""

    lmm: LmmEstimate
    working_design: ModelMatrices
    eta: np.ndarray
    iterations: int
    converged: bool
    eta_changes: list[float]


def glm_irls(X: np.ndarray, y: np.ndarray, wt: np.ndarray, offset: np.ndarray, family: Family,
             epsilon: float = 1e-8, maxit: int = 25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R's ``glm.fit`` for a GLM without random effects: (eta, working residuals, working weights), the weights
    being those of the last IRLS step (computed before its update, as glm.fit returns them)."""
    link = family.link
    mu = family.mustart(y, wt)
    eta = link.link(mu)
    devold = float(np.sum(family.dev_resids(y, mu, wt)))
    w2 = np.zeros_like(y)
    for _ in range(maxit):
        mu_eta = link.mu_eta(eta)
        good = (wt > 0) & (mu_eta != 0)
        z = (eta - offset)[good] + (y - mu)[good] / mu_eta[good]
        w = np.sqrt(wt[good] * mu_eta[good] ** 2 / family.variance(mu)[good])
        coef, *_ = np.linalg.lstsq(X[good] * w[:, None], z * w, rcond=None)
        eta = X @ coef + offset
        mu = link.inverse(eta)
        dev = float(np.sum(family.dev_resids(y, mu, wt)))
        w2 = np.zeros_like(y)
        w2[good] = w**2
        if abs(dev - devold) / (abs(dev) + 0.1) < epsilon:
            break
        devold = dev
    return eta, (y - mu) / link.mu_eta(eta), w2


def fit_pql(design: ModelMatrices, niter: int = 10, control: object = None) -> PqlEstimate:
    """Fit a binomial or Poisson GLMM by PQL (see the module notes); ``control`` goes to the LMM fits."""
    family = design.family
    if family.has_scale or family.dispersion_parameter is not None:
        # PQL estimates a dispersion of its own: it is for families without one (glmmPQL's binomial and Poisson)
        raise NotSupportedError(f"method='pql' fits binomial and Poisson GLMMs (as MASS::glmmPQL is used with "
                                f"them), not the {family.name} family; use the Laplace approximation")
    if not design.terms:
        raise NotSupportedError("method='pql' needs random effects; without them fit a GLM")
    y, wt, off, X = design.y, design.weights, design.offset, design.X
    eta, resid, wz = glm_irls(X, y, wt, off, family)
    zz = eta + resid - off
    gaussian = get_family("gaussian")
    changes: list[float] = []
    converged = False
    est: LmmEstimate | None = None
    wdesign = design
    iterations = 0
    for iterations in range(1, niter + 1):  # noqa: B007 (the count is returned)
        if np.any(~np.isfinite(zz)) or np.any(~np.isfinite(wz)) or np.any(wz <= 0):
            raise FitError("PQL: the working response or weights are not finite and positive (the fitted means "
                           "reached 0 or 1); use the Laplace approximation (method='laplace')")
        wdesign = replace(design, y=zz, weights=wz, family=gaussian, offset=np.zeros_like(zz), trials=None,
                          successes=None, has_prior_weights=True)
        est = fit_lmm(wdesign, reml=False, control=control, emit_warnings=False)
        etaold = eta
        eta = X @ est.beta + _random_part(wdesign, est) + off
        change = float(np.sum((eta - etaold) ** 2))
        changes.append(change / float(np.sum(eta**2)))
        if change < 1e-6 * float(np.sum(eta**2)):
            converged = True
            break
        mu = family.link.inverse(eta)
        mu_eta = family.link.mu_eta(eta)
        zz = eta + (y - mu) / mu_eta - off
        wz = wt * mu_eta**2 / family.variance(mu)
    assert est is not None
    return PqlEstimate(lmm=est, working_design=wdesign, eta=eta, iterations=iterations, converged=converged,
                       eta_changes=changes)


def _random_part(design: ModelMatrices, est: LmmEstimate) -> np.ndarray:
    """Z b at the LMM's conditional modes."""
    out = np.zeros(design.n_obs)
    for t, b in zip(design.terms, relative_effects(design.terms, est.theta, est.u), strict=True):
        out += t.z_times(b)
    return out
