"""The Bayesian side of glmmTMB's families (issue 13): the PyTensor per-observation log-density against the
likelihood engine's, and NUTS posteriors against the Laplace ML estimates."""

from __future__ import annotations

import numpy as np
import pytest

from mixbayes.families_tmb import get_tmb_family
from mixbayes.likelihood.zeroinfl import Response, loglik_eta

FAMILIES = ["poisson", "nbinom2", "nbinom1", "betabinomial", "truncated_poisson", "truncated_nbinom2"]


def _response(fam_name: str, rng: np.random.Generator, n: int, weights: bool) -> Response:
    fam = get_tmb_family(fam_name)
    trials = rng.integers(1, 30, n).astype(float) if fam.binomial else None
    if fam.binomial:
        y = np.floor(rng.uniform(0, 1, n) * (trials + 1))
        y[:5] = 0.0
        y[5:8] = trials[5:8]
    else:
        y = rng.poisson(rng.gamma(0.7, 4.0, n)).astype(float)
        y[:6] = 0.0
        y[6] = 250.0
    w = rng.uniform(0.5, 2.0, n) if weights else np.ones(n)
    return Response(y=y, trials=trials, weights=w, zero=y == 0)


CASES = [(f, zi) for f in FAMILIES for zi in (False, True) if zi or not get_tmb_family(f).truncated]


@pytest.mark.parametrize(("fam_name", "zi"), CASES)
def test_obs_logp_equals_likelihood_engine(fam_name: str, zi: bool) -> None:
    """At random parameter values (including extreme linear predictors) the PyTensor log-density of every
    observation equals the likelihood engine's (mixbayes.likelihood.zeroinfl.loglik_eta) to 1e-10."""
    import pytensor
    import pytensor.tensor as pt

    from mixbayes.bayes.tmb_logp import obs_logp

    fam = get_tmb_family(fam_name)
    rng = np.random.default_rng([FAMILIES.index(fam_name), int(zi)])
    n = 60
    resp = _response(fam_name, rng, n, weights=zi)
    eta_v, zeta_v, d_v = pt.dvector("eta"), pt.dvector("zeta"), pt.dscalar("d")
    ll = obs_logp(fam, resp, eta_v, zeta_v if zi else None, d_v)
    f = pytensor.function([eta_v, zeta_v, d_v], ll, on_unused_input="ignore", mode="FAST_COMPILE")
    for _ in range(5):
        eta = rng.normal(0.5, 2.0, n)
        eta[-3:] = [-12.0, 8.0, 0.0] if not fam.binomial else [-15.0, 15.0, 0.0]
        zeta = rng.normal(0.0, 3.0, n)
        d = float(rng.normal(0.0, 1.5))
        ours = f(eta, zeta, d)
        ref = loglik_eta(fam, resp, eta, zeta if zi else None, d)[0]
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10)
