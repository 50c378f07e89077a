"""Per-observation log-density of glmmTMB's families in PyTensor (the Bayesian side of issue 13).

The same densities as :mod:`mixbayes.families.tmb` and :mod:`mixbayes.likelihood.zeroinfl` (the likelihood engine),
written with numerically stable primitives:

- zero-inflation: ``log P(0) = logaddexp(log pi, log(1 - pi) + log f(0))`` with ``log pi = -softplus(-zeta)``;
- truncation (hurdle): ``log f(y) - log1mexp(log f(0))`` for the positive counts, ``log pi`` for a zero;
- NB2: ``log(mu + theta)`` as ``logaddexp(eta, d)``; NB1: ``log(1 / (1 + phi)) = -softplus(d)``.

``eta`` is the conditional linear predictor, ``zeta`` the zero-inflation one (None without ``zi``), ``d`` the log
dispersion (glmmTMB's ``betad``; ignored by the Poisson families).  The observations with ``y = 0`` and ``y > 0``
are evaluated on separate index sets (the zero pattern is data), so that no branch that is not taken can put a NaN
into the gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..families.tmb import BetaBinomial, NBinom1, NBinom2, PoissonTMB, TmbFamily, Truncated
from ..likelihood.zeroinfl import Response

__all__ = ["family_logpdf", "obs_logp"]


def family_logpdf(fam: TmbFamily, y: np.ndarray, eta: Any, d: Any, n: np.ndarray | None) -> Any:
    """log f(y | eta, d) of the (untruncated or truncated) family, as a PyTensor expression."""
    import pytensor.tensor as pt

    lgy = pt.gammaln(y + 1.0)
    if isinstance(fam, Truncated):
        assert fam.base is not None
        g = family_logpdf(fam.base, y, eta, d, n)
        g0 = family_logpdf(fam.base, np.zeros_like(y), eta, d, n)
        return g - pt.log1mexp(g0)
    if isinstance(fam, PoissonTMB):
        return y * eta - pt.exp(eta) - lgy
    if isinstance(fam, NBinom2):
        th = pt.exp(d)
        return (pt.gammaln(y + th) - pt.gammaln(th) - lgy + th * d + y * eta
                - (y + th) * pt.logaddexp(eta, d))
    if isinstance(fam, NBinom1):
        r = pt.exp(eta - d)
        log_p = -pt.softplus(d)
        return pt.gammaln(y + r) - pt.gammaln(r) - lgy + r * log_p + y * (d + log_p)
    if isinstance(fam, BetaBinomial):
        assert n is not None
        phi = pt.exp(d)
        a = phi * pt.sigmoid(eta)
        b = phi * pt.sigmoid(-eta)
        const = pt.gammaln(n + 1.0) - lgy - pt.gammaln(n - y + 1.0)
        return (const + pt.gammaln(y + a) + pt.gammaln(n - y + b) - pt.gammaln(n + phi)
                - pt.gammaln(a) - pt.gammaln(b) + pt.gammaln(phi))
    from ..exceptions import NotSupportedError

    raise NotSupportedError(f"the {fam.name} family has no Bayesian (PyMC) density yet")


def obs_logp(fam: TmbFamily, resp: Response, eta: Any, zeta: Any | None, d: Any) -> Any:
    """Per-observation log-likelihood (prior weights applied) as a PyTensor vector of length ``n``.

    Equals :func:`mixbayes.likelihood.zeroinfl.loglik_eta`'s first output (tests/test_bayes_tmb.py checks 1e-10).
    """
    import pytensor.tensor as pt

    y = np.asarray(resp.y, float)
    w = np.asarray(resp.weights, float)
    n = None if resp.trials is None else np.asarray(resp.trials, float)
    if zeta is None:
        ll = family_logpdf(fam, y, eta, d, n)
    else:
        i0 = np.flatnonzero(resp.zero)
        i1 = np.flatnonzero(~resp.zero)
        sub = (lambda idx: None) if n is None else (lambda idx: n[idx])
        z0, z1 = zeta[i0], zeta[i1]
        log_pi0 = -pt.softplus(-z0)
        log_1mpi1 = -pt.softplus(z1)
        ll1 = log_1mpi1 + family_logpdf(fam, y[i1], eta[i1], d, sub(i1))
        if fam.truncated:  # hurdle: a zero has probability pi
            ll0 = log_pi0
        else:  # a structural zero, or a zero of the count distribution
            g0 = family_logpdf(fam, np.zeros(len(i0)), eta[i0], d, sub(i0))
            ll0 = pt.logaddexp(log_pi0, -pt.softplus(z0) + g0)
        ll = pt.zeros(len(y))
        ll = pt.set_subtensor(ll[i0], ll0)
        ll = pt.set_subtensor(ll[i1], ll1)
    return ll if np.allclose(w, 1.0) else ll * w
