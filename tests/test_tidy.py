"""tidy(): one row per parameter, the same columns for every fit type (broom.mixed's layout)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from conftest import golden_case

import mixbayes as mb
from mixbayes.results.tidy import COLUMNS, tidy

TERMS = ["(Intercept)", "Days", "sd__(Intercept)", "cor__(Intercept).Days", "sd__Days", "sd__Observation"]


@pytest.fixture(scope="module")
def sleep_fit() -> object:
    return mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))


def test_lmm_tidy(sleep_fit: object) -> None:
    t = sleep_fit.tidy()
    assert list(t.columns) == COLUMNS
    assert sorted(t["term"]) == sorted(TERMS)
    assert list(t["effect"]) == ["fixed"] * 2 + ["ran_pars"] * 4
    fixed = t[t["effect"] == "fixed"].set_index("term")
    np.testing.assert_allclose(fixed["estimate"], sleep_fit.beta)
    np.testing.assert_allclose(fixed["std_error"], sleep_fit.se)
    sat = sleep_fit.satterthwaite()
    np.testing.assert_allclose(fixed["df"], sat.iloc[:, 2], rtol=1e-10)
    np.testing.assert_allclose(fixed["p_value"], sat.iloc[:, 4], rtol=1e-8)
    ran = t[t["effect"] == "ran_pars"].set_index("term")
    assert ran.loc["sd__Observation", "group"] == "Residual"
    assert ran.loc["sd__Observation", "estimate"] == pytest.approx(sleep_fit.sigma)


def test_lmm_tidy_profile_intervals(sleep_fit: object) -> None:
    t = mb.tidy(sleep_fit, conf_method="profile").set_index("term")
    ci = sleep_fit.confint()
    assert t.loc["sd__(Intercept)", "conf_low"] == pytest.approx(ci.loc["sd_(Intercept)|Subject", "2.5 %"])
    assert t.loc["cor__(Intercept).Days", "conf_high"] == pytest.approx(ci.loc["cor_Days.(Intercept)|Subject",
                                                                               "97.5 %"])
    assert t[["conf_low", "conf_high"]].notna().all().all()


def test_glmm_and_map_tidy_have_the_same_columns() -> None:
    cbpp = mb.load_dataset("cbpp")
    g = mb.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
    t = g.tidy()
    assert list(t.columns) == COLUMNS and len(t) == 5
    assert np.isinf(t["df"].iloc[:4]).all()
    ref = golden_case("cbpp_binomial_laplace")
    assert t["term"].iloc[4] == "sd__(Intercept)" and t["group"].iloc[4] == "herd"
    assert t["estimate"].iloc[4] == pytest.approx(ref["theta"][0], rel=1e-3)
    m = mb.Model("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial").fit("map")
    tm = m.tidy()
    assert list(tm.columns) == COLUMNS and list(tm["term"]) == list(t["term"])


def test_bayes_tidy_from_draws(sleep_fit: object) -> None:
    """The Bayesian layout, from a stand-in with known draws (the sampler's own tests cover real fits)."""
    rng = np.random.default_rng(0)
    beta = rng.normal(sleep_fit.beta, [5.0, 1.0], size=(2, 500, 2))
    sd = [np.abs(rng.normal([25, 6], 1, size=(2, 500, 2)))]
    rows = [("Subject", "(Intercept)", None, sd[0][..., 0].ravel(), ""), ("Subject", "Days", None,
            sd[0][..., 1].ravel(), ""), ("Residual", None, None, np.full(1000, 25.0), "")]

    class Draws(SimpleNamespace):
        def flat(self, x: np.ndarray) -> np.ndarray:
            return x.reshape(-1, *x.shape[2:])

    fit = SimpleNamespace(design=sleep_fit.design, params=Draws(beta=beta), varcorr=SimpleNamespace(rows=rows))
    t = tidy(fit)
    assert list(t.columns) == COLUMNS
    assert t["term"].tolist() == ["(Intercept)", "Days", "sd__(Intercept)", "sd__Days", "sd__Observation"]
    np.testing.assert_allclose(t["estimate"].iloc[:2], beta.reshape(-1, 2).mean(axis=0))
    np.testing.assert_allclose(t["std_error"].iloc[:2], beta.reshape(-1, 2).std(axis=0, ddof=1))
    assert t["p_value"].isna().all()
