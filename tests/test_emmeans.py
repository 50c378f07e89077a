"""Marginal means and contrasts against R's emmeans (tools/golden/emmeans.R -> tests/golden/emmeans.json)."""

from __future__ import annotations

import re
import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest
from conftest import golden

import mixbayes as mb

CASES = {c["id"]: c for c in golden("emmeans")["cases"]}
# the cbpp GLMM's estimates differ from lme4's DEFAULT fit by up to 1.5e-5 on the link scale: lme4's bobyqa stops
# where lme4's own deviance function is 4.0e-9 above the optimum mixbayes reaches (test_cbpp_optimum_is_lme4s_converged
# _one).  Against lme4 run to convergence (the *_tight cases, rhoend = 1e-12) the target 1e-6 holds.
GLMM_EST_ATOL = 5e-5


@cache
def _fit(call: str, data: str) -> object:
    m = re.match(r"(g?lmer)\((.*?), data = \w+(, family = binomial)?(, control = .*)?\)$", call)
    assert m is not None
    frame = mb.load_dataset(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if m.group(1) == "lmer":
            return mb.lmer(m.group(2), frame)
        return mb.glmer(m.group(2), frame, family="binomial")


def _kwargs(call: str) -> tuple[str, dict]:
    spec = re.search(r'emmeans\(fit, "(\w+)"', call).group(1)
    kw: dict = {}
    if "satterthwaite" in call:
        kw["ddf"] = "satterthwaite"
    if m := re.search(r'by = "(\w+)"', call):
        kw["by"] = m.group(1)
    if "temp = 200" in call:
        kw["at"] = {"temp": 200}
    if "Days = c(0, 4.5, 9)" in call:
        kw["at"] = {"Days": [0, 4.5, 9]}
    if 'type = "response"' in call:
        kw["type"] = "response"
    if call.startswith("regrid("):
        kw["regrid"] = True
    return spec, kw


def _compare(mine: pd.DataFrame, ref: list[dict], est: str, ref_est: str, est_atol: float) -> None:
    r = pd.DataFrame(ref)
    assert len(mine) == len(r)
    np.testing.assert_allclose(mine[est], r[ref_est], rtol=0, atol=est_atol)
    np.testing.assert_allclose(mine["SE"], r["SE"], rtol=1e-4)
    df = r["df"].astype(float).fillna(np.inf)
    np.testing.assert_allclose(mine["df"], df, rtol=1e-4)


@pytest.mark.parametrize("case_id", list(CASES))
def test_emmeans_match_r(case_id: str) -> None:
    case = CASES[case_id]
    fit = _fit(case["fit_call"], case["data"])
    spec, kw = _kwargs(case["emm_call"])
    emm = mb.emmeans(fit, spec, **kw)
    ref = case["emmeans"]
    glmm = "glmer" in case["fit_call"]
    ref_est = "prob" if "prob" in ref[0] else "emmean"
    est = "response" if ref_est == "prob" else "emmean"
    tol = GLMM_EST_ATOL if glmm and not case_id.endswith("_tight") else 1e-6
    # the grid's labels and order are emmeans'
    for v in [spec] + ([kw["by"]] if "by" in kw else []):
        assert [str(x) if not isinstance(x, float) else f"{x:g}" for x in emm.table[v]] == [
            str(r[v]) if not isinstance(r[v], float) else f"{r[v]:g}" for r in ref]
    _compare(emm.table, ref, est, ref_est, tol)
    lo = "lower.CL" if "lower.CL" in ref[0] else "asymp.LCL"
    hi = "upper.CL" if "upper.CL" in ref[0] else "asymp.UCL"
    ci_tol = 10 * tol + 1e-4 * emm.table["SE"].max()
    np.testing.assert_allclose(emm.table["lower.CL"], [r[lo] for r in ref], atol=ci_tol)
    np.testing.assert_allclose(emm.table["upper.CL"], [r[hi] for r in ref], atol=ci_tol)
    for adjust, rows in (case["pairs"] or {}).items():
        pr = emm.pairs(adjust=adjust)
        assert list(pr["contrast"]) == [r["contrast"] for r in rows]
        _compare(pr, rows, "estimate", "estimate", tol)
        np.testing.assert_allclose(pr["p.value"], [r["p.value"] for r in rows], rtol=1e-3, atol=1e-6)


def test_cbpp_optimum_is_lme4s_converged_one() -> None:
    """Judged by lme4's own deviance function (recorded by tools/golden/emmeans.R), lme4's default optimum lies
    4.0e-9 above its converged one; mixbayes' deviance matches the converged one and its estimates are within 1e-6
    of it (which is why the *_tight emmeans cases hold at 1e-6 and the default ones only at 1.5e-5)."""
    chk = golden("emmeans")["optimum_check"]
    fit = _fit(CASES["cbpp_period_link"]["fit_call"], "cbpp")
    assert chk["default"]["deviance"] - chk["tight"]["deviance"] > 1e-9
    assert abs(-2 * fit.loglik - chk["tight"]["deviance"]) < 1e-8
    np.testing.assert_allclose(fit.beta, chk["tight"]["beta"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.theta, chk["tight"]["theta"], rtol=0, atol=1e-6)
    assert np.max(np.abs(fit.beta - chk["default"]["beta"])) > 5e-6


def test_emmeans_arithmetic_is_exact_for_the_glmm() -> None:
    fit = _fit(CASES["cbpp_period_link"]["fit_call"], "cbpp")
    emm = mb.emmeans(fit, "period")
    # period means of a one-factor model are the cell predictions: intercept, intercept + period_k
    b = fit.beta
    np.testing.assert_allclose(emm.table["emmean"], [b[0], b[0] + b[1], b[0] + b[2], b[0] + b[3]], atol=1e-12)
    resp = mb.emmeans(fit, "period", type="response")
    np.testing.assert_allclose(resp.table["response"], 1 / (1 + np.exp(-emm.table["emmean"])), atol=1e-12)


def test_emmeans_errors() -> None:
    fit = _fit(CASES["cake_recipe"]["fit_call"], "cake")
    with pytest.raises(mb.ContrastError, match="unknown variable"):
        mb.emmeans(fit, "nope")
    with pytest.raises(mb.ContrastError, match="at="):
        mb.emmeans(fit, "recipe", at={"nope": 1})
    with pytest.raises(mb.NotSupportedError, match="adjustment"):
        mb.emmeans(fit, "recipe").pairs(adjust="scheffe")
    with pytest.raises(mb.NotSupportedError, match="ddf"):
        mb.emmeans(fit, "recipe", ddf="containment")


def test_emmeans_from_posterior_draws() -> None:
    """A BayesFit's means are l' beta per draw; checked here with a stand-in whose draws are known."""
    from types import SimpleNamespace

    fit = _fit(CASES["cake_temp_default"]["fit_call"], "cake")
    rng = np.random.default_rng(1)
    draws = rng.multivariate_normal(fit.beta, fit.vcov.to_numpy(), size=(2, 4000))

    class Draws(SimpleNamespace):
        def flat(self, x: np.ndarray) -> np.ndarray:
            return x.reshape(-1, x.shape[-1])

    bayes = SimpleNamespace(design=fit.design, params=Draws(beta=draws))
    emm = mb.emmeans(bayes, "recipe")
    lik = mb.emmeans(fit, "recipe", ddf="asymptotic")
    mcse = lik.table["SE"].to_numpy() / np.sqrt(8000)
    assert np.all(np.abs(emm.table["emmean"].to_numpy() - lik.table["emmean"].to_numpy()) < 5 * 1.25 * mcse)
    np.testing.assert_allclose(emm.table["SE"], lik.table["SE"], rtol=0.05)
    assert {"lower.HPD", "upper.HPD"} <= set(emm.table.columns)
    pr = emm.pairs()
    assert list(pr["contrast"]) == ["A - B", "A - C", "B - C"] and "p.value" not in pr.columns
    assert (pr["lower.HPD"] < pr["estimate"]).all() and (pr["estimate"] < pr["upper.HPD"]).all()
