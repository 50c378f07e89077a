"""Gamma and inverse-Gaussian GLMMs against lme4's glmer and glmmTMB (tests/golden/gamma_pql.json, made by
tools/golden/gamma_pql.R).  Tolerances of issue 13: fixef 1e-4 relative or 1% of the reference SE, logLik 1e-6
relative, SEs 1e-3 relative."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from conftest import GOLDEN, golden, rel_error

import mixbayes as mb
from mixbayes.exceptions import ArgumentError, NotSupportedError, ResponseError

CASES = {  # golden id: (data, family, link)
    "gamma_log": ("synth_gamma", "Gamma", "log"),
    "gamma_inverse": ("synth_gamma", "Gamma", None),
    "invgauss": ("synth_ig", "inverse_gaussian", None),
    "invgauss_log": ("synth_ig", "inverse_gaussian", "log"),
}
FILES = {"synth_gamma": "synth_gamma.csv", "synth_ig": "synth_invgauss.csv"}


@cache
def _data(name: str) -> pd.DataFrame:
    frame = pd.read_csv(GOLDEN / "data" / FILES[name])
    levels = golden("gamma_pql")["data_factors"][name]["g"]
    frame["g"] = pd.Categorical(frame["g"].astype(str), categories=levels)
    return frame


@cache
def _fit(case: str, dispersion: str | None = None) -> mb.results.glmm.GlmmFit:
    data, family, link = CASES[case]
    return mb.glmer("y ~ x + (1 | g)", _data(data), family=family, link=link, dispersion=dispersion)


def _check_fixef(fit: object, ref: dict) -> None:
    est = fit.fixef.to_numpy()
    want = np.array(list(ref["fixef"].values()))
    se = np.array(list(ref["se"].values()))
    ok = (np.abs(est - want) <= 1e-4 * np.abs(want)) | (np.abs(est - want) <= 0.01 * se)
    assert ok.all(), (est, want)


@pytest.mark.parametrize("case", list(CASES))
def test_glmer_gamma_and_inverse_gaussian_match_lme4(case: str) -> None:
    ref = golden("gamma_pql")["glmer"][case]
    fit = _fit(case)
    assert fit.family.link.name == ref["link"]
    _check_fixef(fit, ref)
    assert rel_error(fit.loglik, ref["logLik"]) < 1e-6
    assert rel_error(fit.se.to_numpy(), list(ref["se"].values())) < 1e-3
    assert rel_error(fit.scale_sigma, ref["sigma"]) < 1e-4
    vc = fit.varcorr.as_frame()
    assert rel_error(vc["sdcor"].to_numpy(), [r["sdcor"] for r in ref["varcorr"]]) < 1e-3
    assert fit.npar == ref["logLik_df"]
    assert rel_error(fit.aic, ref["AIC"]) < 1e-6
    ranef = fit.ranef(condvar=False)["g"].iloc[:, 0].to_numpy()
    assert np.max(np.abs(ranef - ref["ranef"])) < 1e-4 * np.max(np.abs(ref["ranef"]))


@pytest.mark.parametrize("case", list(CASES))
def test_deviance_function_is_lme4s(case: str) -> None:
    """The objective itself (glmer(..., devFunOnly = TRUE)) at two points, independent of the optimiser."""
    ref = golden("gamma_pql")["glmer"][case]
    devfun = _fit(case).deviance_function()
    for point in ref["devfun"]["points"]:
        assert rel_error(devfun(np.array(point["par"])), point["value"]) < 1e-6


def test_gamma_dispersion_ml_matches_glmmtmb() -> None:
    ref = golden("gamma_pql")["glmmTMB"]["gamma_log"]
    fit = _fit("gamma_log", "ml")
    _check_fixef(fit, ref)
    assert rel_error(fit.loglik, ref["logLik"]) < 1e-6
    assert rel_error(fit.se.to_numpy(), list(ref["se"].values())) < 1e-3
    assert rel_error(fit.scale_sigma, ref["sigma"]) < 1e-4
    assert rel_error(fit.phi, ref["sigma"] ** 2) < 1e-4
    assert rel_error(fit.varcorr.as_frame()["sdcor"].to_numpy()[0], ref["re_sd"]) < 1e-3
    assert fit.npar == ref["logLik_df"]
    ranef = fit.ranef(condvar=False)["g"].iloc[:, 0].to_numpy()
    assert np.max(np.abs(ranef - ref["ranef"])) < 1e-4 * np.max(np.abs(ref["ranef"]))
    # the two conventions differ visibly on the same data (the point)
    assert abs(fit.loglik - _fit("gamma_log").loglik) > 1.0


def test_default_link_follows_r() -> None:
    assert mb.families.get_family("Gamma").link.name == "inverse"
    assert mb.families.get_family("inverse.gaussian").link.name == "1/mu^2"


def test_bad_input_is_refused() -> None:
    data = _data("synth_gamma").copy()
    data.loc[0, "y"] = 0.0
    with pytest.raises(ResponseError, match="strictly positive"):
        mb.Model("y ~ x + (1 | g)", data, family="Gamma")
    good = _data("synth_gamma")
    with pytest.raises(ArgumentError, match="dispersion"):
        mb.glmer("y ~ x + (1 | g)", good.assign(y=(good.y > 2).astype(int)), family="binomial", dispersion="ml")
    with pytest.raises(NotSupportedError, match="dispersion"):
        mb.glmer("y ~ x + (1 | g)", good, family="Gamma", link="log", dispersion="tmb")
    with pytest.raises(NotSupportedError, match="nAGQ"):
        mb.glmer("y ~ x + (1 | g)", good, family="Gamma", link="log", dispersion="ml", nAGQ=5)
    with pytest.raises(NotSupportedError, match="MAP"):
        mb.Model("y ~ x + (1 | g)", good, family="Gamma", link="log").fit(method="map")


def test_simulate_gives_positive_responses_with_the_fitted_mean() -> None:
    fit = _fit("gamma_log")
    sims = fit.simulate(nsim=200, seed=1, include_random=False)
    assert (sims.to_numpy() > 0).all()
    mean = np.exp(fit.design.X @ fit.beta)
    # the mean over 200 draws of Gamma(shape 1/phi): relative MC error sqrt(phi / 200) ~ 0.04 per row
    assert np.median(np.abs(sims.mean(axis=1).to_numpy() / mean - 1)) < 0.05


@pytest.mark.slow
def test_bayesian_gamma_posterior_means_agree_with_the_ml_fit() -> None:
    """NUTS (weak default priors, 240 observations) against glmmTMB-style ML: posterior means within a fifth of
    a posterior SD (the posterior mean is not the mode) plus 4 Monte Carlo SEs.  About 2 minutes, mostly compilation."""
    ml = _fit("gamma_log", "ml")
    model = mb.Model("y ~ x + (1 | g)", _data("synth_gamma"), family="Gamma", link="log")
    post = model.sample(draws=1000, tune=1000, chains=4, random_seed=1, progressbar=False)
    fx = post.fixef_summary()
    for name in ml.fixef.index:
        assert abs(fx.loc[name, "mean"] - ml.fixef[name]) < 0.2 * fx.loc[name, "sd"] + 4 * fx.loc[name, "mcse"]
    draws = post.sigma.draws
    sd_sigma = float(np.std(draws))
    assert abs(float(np.mean(draws)) - ml.scale_sigma) < 0.2 * sd_sigma + 4 * sd_sigma / np.sqrt(1000)
    vc = post.varcorr.as_frame()
    assert abs(vc["mean"].iloc[0] - ml.varcorr.as_frame()["sdcor"].iloc[0]) < 0.5 * vc["sd"].iloc[0]
