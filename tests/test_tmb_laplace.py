"""The Laplace engine of the glmmTMB families: analytic derivatives against finite differences (per observation
and of the whole objective, diagonal and dense random-effects paths)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mixbayes.families.tmb import TMB_FAMILIES
from mixbayes.likelihood import tmb_laplace as tl
from mixbayes.likelihood.tmb_design import build_tmb_design
from mixbayes.likelihood.zeroinfl import Response, loglik_eta


def _data(seed: int = 1, n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 8, n)
    x = rng.normal(size=n)
    mu = np.exp(0.5 + 0.4 * x + rng.normal(0, 0.5, 8)[g])
    y = rng.poisson(rng.gamma(2.0, mu / 2.0)) * (rng.random(n) > 0.2)
    trials = y + rng.integers(1, 6, n)
    return pd.DataFrame({"y": y, "fail": trials - y, "x": x, "z": rng.normal(size=n),
                         "g": pd.Categorical([f"g{i}" for i in g])})


@pytest.mark.parametrize("name", list(TMB_FAMILIES))
@pytest.mark.parametrize("zi", [False, True])
def test_observation_derivatives(name: str, zi: bool) -> None:
    fam = TMB_FAMILIES[name]
    rng = np.random.default_rng(3)
    n = 50
    y = rng.integers(0 if zi or not fam.truncated else 1, 6, n).astype(float)
    trials = y + rng.integers(0, 4, n) if fam.binomial else None
    resp = Response(y=y, trials=trials, weights=np.ones(n), zero=y == 0)
    eta = rng.normal(0.3, 0.8, n)
    zeta = rng.normal(-0.5, 0.5, n) if zi else None
    h = 1e-5
    ll, le, lee = loglik_eta(fam, resp, eta, zeta, 0.4)
    lp, lep, _ = loglik_eta(fam, resp, eta + h, zeta, 0.4)
    lm, lem, _ = loglik_eta(fam, resp, eta - h, zeta, 0.4)
    assert np.all(np.isfinite(ll))
    np.testing.assert_allclose(le, (lp - lm) / (2 * h), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(lee, (lep - lem) / (2 * h), rtol=1e-6, atol=1e-7)


CASES = [("poisson", "~x", "(1 | g)"), ("nbinom2", "~z", "(1 | g)"), ("nbinom1", "~1", "(1 | g)"),
         ("truncated_nbinom2", "~x", "(1 | g)"), ("truncated_poisson", "~1", "(1 | g)"),
         ("betabinomial", None, "(1 | g)"), ("nbinom2", "~1", "(x | g)"), ("poisson", None, "(1 | g) + (0 + x | g)")]


@pytest.mark.parametrize(("family", "zi", "re"), CASES)
def test_outer_gradient_matches_finite_differences(family: str, zi: str | None, re: str) -> None:
    lhs = "cbind(y, fail)" if family == "betabinomial" else "y"
    td = build_tmb_design(f"{lhs} ~ x + {re}", _data(), family, zi=zi)
    prob = td.problem
    rng = np.random.default_rng(7)
    x = rng.normal(0, 0.3, sum(prob.sizes))
    f0, g = tl.objective_and_gradient(prob, x)
    assert np.isfinite(f0)
    h = 1e-5
    num = np.empty_like(x)
    for j in range(len(x)):
        e = np.zeros_like(x)
        e[j] = h
        num[j] = (tl.objective(prob, x + e) - tl.objective(prob, x - e)) / (2 * h)
    np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-5)


def test_prior_weights_equal_repeated_rows() -> None:
    import mixbayes as mb

    d = _data(seed=5, n=80)
    twice = pd.concat([d, d], ignore_index=True)
    a = mb.glmmTMB("y ~ x + (1 | g)", d, family="nbinom2", zi="~1", weights=np.full(len(d), 2.0))
    b = mb.glmmTMB("y ~ x + (1 | g)", twice, family="nbinom2", zi="~1")
    assert a.loglik == pytest.approx(b.loglik, rel=1e-8)
    np.testing.assert_allclose(a.fixef, b.fixef, rtol=1e-5, atol=1e-6)
