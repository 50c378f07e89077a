"""Per-observation log-likelihood of a glmmTMB model: a family, optionally zero-inflated or with a hurdle.

``eta`` is the conditional linear predictor, ``zeta`` the zero-inflation one (logit of the probability of a
structural zero, or for a truncated family the hurdle probability of a zero), ``d`` the log dispersion.
:func:`loglik_eta` gives the log-likelihood and its analytic first and second derivatives in ``eta`` (what the
inner Newton iteration and the Laplace determinant need); :func:`loglik_all` adds the third derivative in ``eta``
and the mixed derivatives in ``zeta`` and ``d`` (for the outer gradient), by central differences of the
analytic ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..families.tmb import TmbFamily

__all__ = ["ObsDerivs", "Response", "loglik_all", "loglik_eta"]

Array = np.ndarray
_H = 1e-5  # central-difference step for the mixed and third derivatives


@dataclass(frozen=True)
class Response:
    """The response of a glmmTMB model: counts (or successes), trials for the beta-binomial, prior weights."""

    y: Array
    trials: Array | None
    weights: Array
    zero: Array  # y == 0


@dataclass(frozen=True)
class ObsDerivs:
    """Per-observation log-likelihood and derivatives (weights applied)."""

    ll: Array
    l_e: Array
    l_ee: Array
    l_eee: Array
    l_z: Array
    l_ez: Array
    l_eez: Array
    l_d: Array
    l_ed: Array
    l_eed: Array


def loglik_eta(fam: TmbFamily, resp: Response, eta: Array, zeta: Array | None, d: float
               ) -> tuple[Array, Array, Array]:
    """Log-likelihood per observation and its first two derivatives in ``eta``."""
    g, g_e, g_ee = fam.logpdf(resp.y, eta, d, resp.trials)
    if zeta is None:
        ll, l_e, l_ee = g, g_e, g_ee
    else:
        log_pi = -np.logaddexp(0.0, -zeta)
        log_1mpi = -np.logaddexp(0.0, zeta)
        zero = resp.zero
        if fam.truncated:  # hurdle: a zero has probability pi, a positive count (1 - pi) f(y) / (1 - f(0))
            ll = np.where(zero, log_pi, log_1mpi + g)
            l_e = np.where(zero, 0.0, g_e)
            l_ee = np.where(zero, 0.0, g_ee)
        else:  # zero-inflation: a zero is structural (pi) or a count zero ((1 - pi) f(0))
            with np.errstate(invalid="ignore"):
                l0 = np.logaddexp(log_pi, log_1mpi + g)
                w = np.exp(log_1mpi + g - l0)
            ll = np.where(zero, l0, log_1mpi + g)
            l_e = np.where(zero, w * g_e, g_e)
            l_ee = np.where(zero, w * g_ee + w * (1.0 - w) * g_e**2, g_ee)
    wt = resp.weights
    return ll * wt, l_e * wt, l_ee * wt


def loglik_all(fam: TmbFamily, resp: Response, eta: Array, zeta: Array | None, d: float) -> ObsDerivs:
    """All the per-observation derivatives that the gradient of the Laplace objective uses."""
    ll, l_e, l_ee = loglik_eta(fam, resp, eta, zeta, d)
    _, _, ee_p = loglik_eta(fam, resp, eta + _H, zeta, d)
    _, _, ee_m = loglik_eta(fam, resp, eta - _H, zeta, d)
    l_eee = (ee_p - ee_m) / (2 * _H)
    zeros = np.zeros_like(ll)
    l_z = l_ez = l_eez = zeros
    if zeta is not None:
        p = loglik_eta(fam, resp, eta, zeta + _H, d)
        m = loglik_eta(fam, resp, eta, zeta - _H, d)
        l_z, l_ez, l_eez = ((a - b) / (2 * _H) for a, b in zip(p, m, strict=True))
    l_d = l_ed = l_eed = zeros
    if fam.has_dispersion:
        p = loglik_eta(fam, resp, eta, zeta, d + _H)
        m = loglik_eta(fam, resp, eta, zeta, d - _H)
        l_d, l_ed, l_eed = ((a - b) / (2 * _H) for a, b in zip(p, m, strict=True))
    return ObsDerivs(ll, l_e, l_ee, l_eee, l_z, l_ez, l_eez, l_d, l_ed, l_eed)
