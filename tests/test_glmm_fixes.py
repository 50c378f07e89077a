"""GLMM fixes of issue 12: the degenerate-response warning, a fixed negative-binomial theta, the Gaussian scale
with non-identity links, lme4's four-point mixed derivatives and the stage-2 strategies.  (The numbers against
lme4 are asserted case by case in tests/test_lme4_battery.py.)"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from lme4_battery import battery, data, fit_case

import mixbayes as mb
from mixbayes.exceptions import DegenerateResponseWarning, FamilyError
from mixbayes.likelihood.derivatives import deriv12


def _case(case_id: str) -> dict:
    return next(c for c in battery()["cases"] if c["id"] == case_id)


def test_response_determined_by_grouping_factor_warns_and_names_it() -> None:
    # lme4's tests/testthat/test-glmer.R: rr alternates along the rows, so every Days level is all 0 or all 1
    frame = data("sleepstudy_rr")
    with pytest.warns(DegenerateResponseWarning, match="'Days'.*fixed effect"):
        fit = mb.glmer("rr01 ~ (1|Days)", frame, family="binomial")
    assert fit.degenerate_groups == ["Days"]
    # the objective still reaches lme4's optimum (the likelihood is flat along the variance)
    assert fit.objective_value <= _case("ss_rr_numgroup")["objective"] * (1 + 1e-6)


def test_no_degenerate_warning_when_the_response_varies_within_groups() -> None:
    frame = data("sleepstudy_rr")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateResponseWarning)
        fit = mb.glmer("rr01 ~ Days + (1|Subject)", frame, family="binomial")
    assert fit.degenerate_groups == []


def test_fixed_negative_binomial_theta_is_held() -> None:
    case = _case("grouse_nb_fixed")
    frame = data(case["data"])
    fit = mb.glmer(case["formula"], frame, family=mb.negative_binomial(theta=3.5))
    assert fit.family.theta == 3.5  # not re-estimated
    assert fit.dispersion is None
    assert fit.npar == len(case["fixef"]) + len(case["theta"])  # theta is no parameter: lme4's df
    # lme4's objective at theta = 3.5 (an estimated theta would move and change it)
    np.testing.assert_allclose(fit.objective_value, case["objective"], rtol=1e-8)


def test_negative_binomial_theta_must_be_positive() -> None:
    with pytest.raises(FamilyError, match="positive"):
        mb.negative_binomial(theta=-1.0)


def test_gaussian_log_link_estimates_sigma_as_lme4() -> None:
    res = fit_case(_case("gExt_G2"))
    case = _case("gExt_G2")
    np.testing.assert_allclose(res["objective"], case["objective"], rtol=1e-9)
    np.testing.assert_allclose(res["sigma"], case["sigma"], rtol=1e-6)
    assert res["sigma"] > 1.5  # the simulation's sd is 2: a sigma fixed at 1 would be wrong
    frame = data(case["data"])
    fit = mb.glmer(case["formula"], frame, family="gaussian", link="log")
    assert fit.npar == 4  # lme4's logLik df: theta, two fixed effects and sigma
    np.testing.assert_allclose(fit.varcorr.as_frame()["sdcor"].iloc[0], res["theta"][0] * res["sigma"], rtol=1e-10)


def test_deriv12_mixed_derivatives_are_central() -> None:
    # f = x0^2 x1 + x1^3 x0: forward differences err by O(delta) in the cross term, central ones by O(delta^2)
    def f(x: np.ndarray) -> float:
        return float(x[0] ** 2 * x[1] + x[1] ** 3 * x[0])

    x = np.array([1.3, -0.7])
    _, hess = deriv12(f, x)
    exact = np.array([[2 * x[1], 2 * x[0] + 3 * x[1] ** 2], [2 * x[0] + 3 * x[1] ** 2, 6 * x[1] * x[0]]])
    np.testing.assert_allclose(hess, exact, atol=1e-6)


@pytest.mark.parametrize("case_id", ["ss_rr_numgroup", pytest.param("grouse_elston", marks=pytest.mark.slow)])
def test_stage2_default_reaches_lme4_where_bobyqa_alone_stops_short(case_id: str) -> None:
    case = _case(case_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = fit_case(case)
        bobyqa = fit_case(case, control={"optimizer": "bobyqa"})
    assert default["devfun_at_mb"] <= default["devfun_at_r"] * (1 + 1e-6)
    assert bobyqa["devfun_at_mb"] > bobyqa["devfun_at_r"] + 1e-3  # the single BOBYQA run stops short here
