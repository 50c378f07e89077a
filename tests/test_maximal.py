"""Maximal crossed LMMs (issue 12): simulated with a seed by tools/golden/maximal.R and fitted there by lme4.

mixbayes' objective must be lme4's deviance function (checked at lme4's estimates and at seeded random points),
and its optimum never worse than lme4's by more than 1e-6 relative; where it is better, the test reports by how
much (lme4 stops short on these surfaces).  Standard errors agree within 1e-3 where the optima agree.
The analytic gradient is checked against finite differences on the same designs.
"""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import golden

import mixbayes as mb
from mixbayes.likelihood.gradient import lmm_gradient
from mixbayes.likelihood.lmm import LmmObjective, blas_limit

CASES = golden("maximal")["cases"]
ROOT = Path(__file__).resolve().parent.parent
FAST = ["max_2x2_48x32", "max_ax_unbalanced"]  # the design, and an unbalanced one; the rest are slow


@cache
def _model(case_id: str) -> mb.Model:
    c = CASES[case_id]
    d = pd.read_csv(ROOT / c["csv"])
    for col, levels in c["factors"].items():
        d[col] = pd.Categorical(d[col], categories=levels)
    return mb.Model(c["formula"], d)


@pytest.mark.parametrize("case_id", list(CASES))
def test_objective_is_lme4s_deviance_function(case_id: str) -> None:
    c = CASES[case_id]
    obj = LmmObjective(_model(case_id).design, reml=True)
    assert obj(np.array(c["theta"])) == pytest.approx(c["devfun"]["at_lme4_theta"], rel=1e-10)
    for theta, value in zip(c["devfun"]["thetas"], c["devfun"]["values"], strict=True):
        assert obj(np.array(theta)) == pytest.approx(value, rel=1e-10)


@pytest.mark.parametrize("case_id", list(CASES))
def test_analytic_gradient_matches_finite_differences(case_id: str) -> None:
    c = CASES[case_id]
    obj = LmmObjective(_model(case_id).design, reml=True)
    theta = np.array(c["devfun"]["thetas"][0])
    bounded = np.array([v is not None for v in c["lower"]])  # -Inf is stored as null
    theta = np.where(bounded, np.maximum(theta, 0.05), theta)  # interior, for central differences
    with blas_limit(obj.design):
        step = 1e-5  # central differences with an absolute step (some entries are ~1e-3: no relative steps)
        fd = np.array([(obj(theta + step * e) - obj(theta - step * e)) / (2 * step) for e in np.eye(len(theta))])
        g = lmm_gradient(obj, theta)
    # these differences are good to ~1e-10 |f| (rounding |f| eps / step and truncation step^2 f"')
    assert np.max(np.abs(g - fd)) < 1e-8 * abs(obj(theta))


def _check_fit(case_id: str) -> None:
    c = CASES[case_id]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mb.MixbayesWarning)
        fit = _model(case_id).fit("reml")
    ours, theirs = fit.objective_value, c["objective"]
    # never worse than lme4 by more than 1e-6 relative
    assert ours <= theirs + 1e-6 * abs(theirs), f"{case_id}: {ours - theirs:+.3g} above lme4"
    better = theirs - ours
    print(f"{case_id}: mixbayes REML criterion {ours:.10g}, lme4 {theirs:.10g}: better by {better:.3g}")
    if abs(better) <= 1e-6 * abs(theirs):  # the same optimum: the standard errors agree
        se = fit.se if isinstance(fit.se, pd.Series) else pd.Series(fit.se, index=fit.fixef.index)
        for name, value in c["se"].items():
            assert se[name] == pytest.approx(value, abs=1e-3, rel=1e-3), name


@pytest.mark.parametrize("case_id", FAST)
def test_fit_reaches_lme4s_optimum_or_better(case_id: str) -> None:
    _check_fit(case_id)


@pytest.mark.slow
@pytest.mark.parametrize("case_id", [c for c in CASES if c not in FAST])
def test_fit_reaches_lme4s_optimum_or_better_slow(case_id: str) -> None:
    _check_fit(case_id)


@pytest.mark.slow
def test_boundary_stop_is_restarted_and_recorded() -> None:
    """BOBYQA alone stops 0.8 above lme4 on the issue's design; the restarts find lme4's optimum or better and
    say so in the optimisation record and in summary()."""
    c = CASES["max_2x2_48x32"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mb.MixbayesWarning)
        plain = _model("max_2x2_48x32").fit("reml", control={"optimizer": "bobyqa", "robust": False})
        fit = _model("max_2x2_48x32").fit("reml", control={"optimizer": "bobyqa"})
    assert plain.objective_value > c["objective"] + 0.1  # the stop short this strategy exists for
    assert fit.objective_value <= c["objective"] + 1e-6 * c["objective"]
    assert fit.optsummary.strategy and "kept the optimum of restart" in fit.optsummary.strategy[-1]
    assert "Optimisation restarts" in str(fit.summary()) and "kept the optimum" in str(fit.optsummary)
