"""Population-level predictions (lme4's re.form = NA, tools/golden/emmeans.R) with delta-method and bootstrap
intervals, and mb.plot_predictions."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from conftest import golden
from scipy import stats

import mixbayes as mb

matplotlib.use("Agg")
PRED = golden("emmeans")["predictions"]


@pytest.fixture(scope="module")
def sleep_fit() -> object:
    return mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))


@pytest.fixture(scope="module")
def cbpp_fit() -> object:
    return mb.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mb.load_dataset("cbpp"),
                    family="binomial")


def test_population_prediction_needs_no_grouping_column(sleep_fit: object) -> None:
    nd = pd.DataFrame(PRED["sleepstudy"]["newdata"])
    got = sleep_fit.predict(nd, include_random=False)
    np.testing.assert_allclose(got, PRED["sleepstudy"]["value"], rtol=1e-7)
    with pytest.raises(mb.DesignError, match="Subject"):
        sleep_fit.predict(nd)  # the conditional prediction does need it


def test_glmm_population_prediction_matches_lme4(cbpp_fit: object) -> None:
    cbpp = mb.load_dataset("cbpp")
    nd = pd.DataFrame({"period": pd.Categorical(PRED["cbpp_link"]["newdata"]["period"],
                                                categories=cbpp["period"].cat.categories)})
    # lme4's estimates and ours differ by ~1e-5 (see test_emmeans); predictions inherit that
    np.testing.assert_allclose(cbpp_fit.predict(nd, include_random=False, type="link"), PRED["cbpp_link"]["value"],
                               atol=5e-5)
    np.testing.assert_allclose(cbpp_fit.predict(nd, include_random=False), PRED["cbpp_response"]["value"], atol=1e-5)


def test_delta_confidence_and_prediction_intervals(sleep_fit: object) -> None:
    nd = pd.DataFrame({"Days": [0.0, 5.0, 9.0]})
    ci = sleep_fit.predict_intervals(nd)
    X = np.column_stack([np.ones(3), nd["Days"]])
    se = np.sqrt(np.einsum("ij,jk,ik->i", X, sleep_fit.vcov.to_numpy(), X))
    np.testing.assert_allclose(ci["std_error"], se, rtol=1e-12)
    np.testing.assert_allclose(ci["conf_high"] - ci["estimate"], stats.norm.ppf(0.975) * se, rtol=1e-12)
    pi = sleep_fit.predict_intervals(nd, interval="prediction")
    vc = sleep_fit.varcorr.as_frame()
    s0, s1, rho, sigma = vc["sdcor"].iloc[0], vc["sdcor"].iloc[1], vc["sdcor"].iloc[2], sleep_fit.sigma
    d = nd["Days"].to_numpy()
    extra = s0**2 + 2 * rho * s0 * s1 * d + s1**2 * d**2 + sigma**2
    np.testing.assert_allclose(pi["std_error"] ** 2, se**2 + extra, rtol=1e-8)
    assert (pi["conf_low"] < ci["conf_low"]).all()


def test_glmm_response_scale_intervals(cbpp_fit: object) -> None:
    nd = pd.DataFrame({"period": pd.Categorical(["1", "4"], categories=["1", "2", "3", "4"])})
    link = cbpp_fit.predict_intervals(nd, type="link")
    resp = cbpp_fit.predict_intervals(nd)
    inv = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    np.testing.assert_allclose(resp["conf_low"], inv(link["conf_low"]), rtol=1e-12)
    p = inv(link["estimate"])
    np.testing.assert_allclose(resp["std_error"], p * (1 - p) * link["std_error"], rtol=1e-12)
    # emmeans' response-scale means of this one-factor model are the same numbers
    emm = golden("emmeans")["cases"]
    ref = next(c for c in emm if c["id"] == "cbpp_period_response")["emmeans"]
    np.testing.assert_allclose(resp["std_error"], [ref[0]["SE"], ref[3]["SE"]], rtol=1e-3)


def test_bootstrap_intervals(sleep_fit: object) -> None:
    nd = pd.DataFrame({"Days": [0.0, 9.0]})
    boot = sleep_fit.predict_intervals(nd, method="boot", nsim=40, random_seed=2)
    delta = sleep_fit.predict_intervals(nd)
    np.testing.assert_allclose(boot["estimate"], delta["estimate"])
    # 40 replicates: the bootstrap SE is within ~25% of the delta-method SE
    np.testing.assert_allclose(boot["std_error"], delta["std_error"], rtol=0.35)
    assert (boot["conf_low"] < boot["estimate"]).all() and (boot["estimate"] < boot["conf_high"]).all()
    with pytest.raises(mb.NotSupportedError, match="method"):
        sleep_fit.predict_intervals(nd, method="magic")


def test_plot_predictions_returns_a_figure(sleep_fit: object, cbpp_fit: object) -> None:
    from matplotlib.figure import Figure

    fig = mb.plot_predictions(sleep_fit, "Days")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    line = fig.axes[0].get_lines()[0]
    np.testing.assert_allclose(line.get_ydata()[0], sleep_fit.beta[0] + sleep_fit.beta[1] * 0, rtol=1e-10)
    both = mb.plot_predictions({"REML": sleep_fit, "ML": sleep_fit.model.fit("ml")}, "Days")
    assert len(both.axes) == 2 and both.axes[1].get_title() == "ML"
    cake = mb.lmer("angle ~ recipe + temp + (1 | recipe:replicate)", mb.load_dataset("cake"))
    fig = mb.plot_predictions(cake, "temp", by="recipe")
    assert len(fig.axes[0].get_lines()) == 3
    fig = mb.plot_predictions(cbpp_fit, "period")
    assert isinstance(fig, Figure)
    with pytest.raises(mb.ContrastError, match="not a variable"):
        mb.plot_predictions(sleep_fit, "Nights")
