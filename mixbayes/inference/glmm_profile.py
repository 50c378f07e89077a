"""Likelihood profiles and profile intervals of a GLMM, as lme4's ``profile.merMod`` for ``glmer`` fits.

For a GLMM lme4 profiles every parameter (the random-effect SDs and correlations, then the fixed effects) the same
way: with the parameter held fixed, the fit's objective (-2 logLik as a function of theta and beta, lme4's
``devfun``; :meth:`~mixbayes.results.glmm.GlmmFit.deviance_function`) is minimised over all the others by BOBYQA,
starting from the previous point's values.  Points, cutoff (sqrt(qchisq(1 - alphamax, npar)) with npar all the
parameters), splines and intervals are those of :mod:`.profile`, which this module reuses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from ..exceptions import NotSupportedError, ProfileError
from ..likelihood.optimizers import minimize
from .parameters import sdcor_from_theta, theta_from_sdcor, varpar_bounds, varpar_names
from .profile import LikelihoodProfile, ParameterProfile, _profile_one, _select, _Settings

if TYPE_CHECKING:
    from ..protocols import GlmmFitLike as GlmmFit

__all__ = ["profile_glmm"]


def profile_glmm(fit: GlmmFit, which: list[str] | str | None = None, alphamax: float = 0.01, maxpts: int = 100,
                 delta_cutoff: float = 1 / 8, maxmult: float = 10.0, devtol: float = 1e-9) -> LikelihoodProfile:
    """Profile the deviance of a GLMM (lme4's ``profile.merMod``, ``prof.scale = "sdcor"``).

    Parameters
    ----------
    fit : a Laplace or AGQ fit of a binomial or Poisson GLMM (lme4 cannot profile GLMMs with a scale
        parameter either, so the negative binomial is refused).
    which : parameter names (``"sd_(Intercept)|herd"``, ``"period2"``), ``"theta_"`` for every variance
        parameter, ``"beta_"`` for every fixed effect; default all.
    alphamax, maxpts, delta_cutoff, maxmult, devtol : as for :func:`mixbayes.inference.profile.profile`.

    Returns
    -------
    LikelihoodProfile
        ``.confint(level)`` gives lme4's ``confint(profile(fit))``; ``.plot()`` the zeta traces.
    """
    if fit.dispersion is not None:
        raise NotSupportedError("GLMMs with a scale or dispersion parameter cannot be profiled (lme4 refuses "
                                "too); use confint(method='boot') or method='wald'")
    design = fit.design
    devfun = fit.deviance_function()
    vnames = varpar_names(design, sigma=False)
    fnames = list(design.fixef_names)
    names = vnames + fnames
    nvp, p = len(vnames), len(fnames)
    npar = nvp + p
    opt = np.concatenate([sdcor_from_theta(design, fit.theta, 1.0)[:-1], fit.beta])
    lo_vp, hi_vp = varpar_bounds(design)
    lower = np.concatenate([lo_vp[:-1], np.full(p, -np.inf)])
    upper = np.concatenate([hi_vp[:-1], np.full(p, np.inf)])

    def dd(pars: np.ndarray) -> float:
        theta = theta_from_sdcor(design, np.append(pars[:nvp], 1.0))
        return devfun(np.concatenate([theta, pars[nvp:]]))

    base = float(fit.objective_value)
    if abs(dd(opt) - base) > 1e-5 * max(abs(base), 1.0):
        raise ProfileError("the deviance function does not reproduce the fit's deviance at its estimates")
    selected = _select(which, vnames, fnames)
    cutoff = float(np.sqrt(stats.chi2.ppf(1 - alphamax, npar)))
    s = _Settings(cutoff, cutoff * delta_cutoff, maxpts, maxmult, devtol, base)
    columns = [".zeta", *names]
    start_row = np.concatenate([[0.0], opt])
    profiles: dict[str, ParameterProfile] = {}
    for w in [k for k in range(npar) if names[k] in selected]:
        others = [k for k in range(npar) if k != w]
        pw = float(opt[w])

        def zeta(xx: float, start: np.ndarray, w: int = w, others: list[int] = others, pw: float = pw) -> np.ndarray:
            pars = np.empty(npar)
            pars[w] = xx

            def fn(x: np.ndarray) -> float:
                pars[others] = x
                return dd(pars)

            res = minimize(fn, np.clip(start, lower[others], upper[others]), lower[others], upper[others],
                           optimizer="bobyqa")
            pars[others] = res.final
            devdiff = dd(pars) - base
            if not np.isfinite(devdiff):
                return np.concatenate([[np.nan], pars])
            if devdiff < -devtol:
                raise ProfileError(f"profiling {names[w]} found a deviance {-devdiff:.3g} below the fit's: the fit "
                                   "is not at the optimum; refit (e.g. from the profile's parameters)")
            devdiff = max(devdiff, devtol)
            return np.concatenate([[np.sign(xx - pw) * np.sqrt(devdiff)], pars])

        profiles[names[w]] = _profile_one(
            w, pw, zeta, others, s, start_row, columns, lower[w], upper[w],
            shift=0.001 if pw == 0 else pw * 1.01, maxpts=maxpts,
            nextstart=lambda mat, r, others=others: mat[r, 1 + np.asarray(others)])
    return LikelihoodProfile(profiles, base, fit)
