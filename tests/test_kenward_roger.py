"""Kenward-Roger against pbkrtest 0.5.2 (tests/golden: lme4_cases.json kr_df/kr_se, lmm.json lmerTest
kenward_roger tables, inference.json KRmodcomp/vcovAdj)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from conftest import golden, lmm_case_data, values

import mixbayes as mb
from mixbayes.inference import kenward_roger as kr

REML_CASES = [c for c in golden("lme4_cases") if c["kind"] == "lmm" and c["REML"]]
LMM_CASES = {c["id"]: c for c in golden("lmm")["cases"]}


def _rel(a: object, b: object) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def _fit(formula: str, data_name: str, theta: object = None) -> mb.results.lmm.LmmFit:
    data, weights = lmm_case_data(data_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mb.MixbayesWarning)
        model = mb.Model(formula, data, weights=weights)
        if theta is None:
            return model.fit("reml")
        return model.fit("reml", start=values(theta), control={"optimizer": "none"})


@pytest.mark.parametrize("case", REML_CASES, ids=[c["id"] for c in REML_CASES])
def test_kr_df_and_se_match_pbkrtest(case: dict) -> None:
    """The acceptance check on the REML cases of cases.json: df and adjusted SEs within 1e-3 of pbkrtest."""
    table = kr.kenward_roger_table(_fit(case["formula"], case["data"]))
    if isinstance(case["kr_se"], dict):
        assert list(table.index) == list(case["kr_se"])
    assert _rel(table["df"], values(case["kr_df"])) < 1e-3
    assert _rel(table["Std. Error"], values(case["kr_se"])) < 1e-3


@pytest.mark.parametrize("case", REML_CASES, ids=[c["id"] for c in REML_CASES])
def test_kr_algorithm_at_lme4_theta(case: dict) -> None:
    """The algorithm itself: at lme4's theta (lme4 stops up to ~4e-5 relative short of the optimum in theta,
    which moves the SEs by up to ~3e-5) our numbers agree with pbkrtest's to rounding."""
    table = kr.kenward_roger_table(_fit(case["formula"], case["data"], theta=case["theta"]))
    assert _rel(table["df"], values(case["kr_df"])) < 1e-8
    assert _rel(table["Std. Error"], values(case["kr_se"])) < 1e-8


KR_TABLES = [c for c in LMM_CASES.values() if "error" not in c["lmerTest"]["kenward_roger"]]


@pytest.mark.parametrize("case", KR_TABLES, ids=[c["id"] for c in KR_TABLES])
def test_summary_kenward_roger_matches_lmertest(case: dict) -> None:
    ref = case["lmerTest"]["kenward_roger"]
    fit = _fit(case["formula"], case["data"], theta=case["theta"])
    table = fit.summary(ddf="kenward-roger").coefficients
    assert list(table.index) == ref["rownames"]
    assert list(table.columns) == ["Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"]
    for col in table.columns:
        assert _rel(table[col], ref["columns"][col]) < 1e-6, col
    own = _fit(case["formula"], case["data"]).summary(ddf="kenward-roger").coefficients
    assert _rel(own["df"], ref["columns"]["df"]) < 1e-3
    assert _rel(own["Std. Error"], ref["columns"]["Std. Error"]) < 1e-3


KRMOD = golden("inference")["KRmodcomp"]
THETA_OF = {"sleepstudy_days": "sleepstudy_corr_reml", "penicillin_sample": "penicillin_sample_fixed_reml",
            "synth_drop_interaction": "synth_xf_slope_reml"}


def _large(ref: dict, at_lme4: bool) -> mb.results.lmm.LmmFit:
    call = ref["large_call"]
    formula = call[len("lmer(") : call.index(", data")]
    data_name = re.search(r"data = (\w+)", call).group(1)
    theta = LMM_CASES[THETA_OF[ref["id"]]]["theta"] if at_lme4 else None
    return _fit(formula, data_name, theta=theta)


@pytest.mark.parametrize("ref", KRMOD, ids=[r["id"] for r in KRMOD])
def test_krmodcomp_and_vcovadj(ref: dict) -> None:
    for at_lme4, tol in ((True, 1e-8), (False, 1e-3)):
        fit = _large(ref, at_lme4)
        assert list(fit.design.fixef_names) == ref["fixef_names"]
        np.testing.assert_allclose(kr.vcov_adjusted(fit).to_numpy(), ref["vcovAdj"], rtol=tol)
        test = kr.kr_test(fit, ref["L"])
        cols = ref["test"]["columns"]
        assert test.ndf == ref["stats"]["ndf"]
        assert _rel(test.F, cols["stat"][0]) < tol
        assert _rel(test.ddf, cols["ddf"][0]) < tol
        assert _rel(test.F_scaling, ref["stats"]["F.scaling"]) < tol
        assert _rel(test.p_value, cols["p.value"][0]) < tol
        for key, value in ref["stats"]["aux"].items():
            assert _rel(test.aux[key], value) < tol, key


def test_unadjusted_vcov_is_the_fits() -> None:
    fit = _large(KRMOD[2], at_lme4=True)
    adj = kr.kenward_roger_adjustment(fit)
    np.testing.assert_allclose(adj.vcov, KRMOD[2]["vcov_unadjusted"], rtol=1e-8)
    assert adj.parameters == ("var((Intercept)|g)", "cov(x,(Intercept)|g)", "var(x|g)", "residual")
    assert kr.kenward_roger_adjustment(fit) is adj  # cached


def test_ml_fit_is_refused() -> None:
    ml = mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"), REML=False)
    msg = LMM_CASES["sleepstudy_corr_ml"]["lmerTest"]["kenward_roger"]["error"]
    assert "only available for REML" in msg
    with pytest.raises(mb.NotSupportedError, match="only available for REML fits"):
        ml.summary(ddf="kenward-roger")
    with pytest.raises(mb.NotSupportedError, match="REML"):
        kr.vcov_adjusted(ml)


def test_huge_problems_get_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fit = mb.lmer("Reaction ~ Days + (1 | Subject)", mb.load_dataset("sleepstudy"))
    monkeypatch.setattr(kr, "MAX_NQ", 1000)
    with pytest.raises(mb.NotSupportedError, match="dense n x q"):
        kr.kenward_roger_table(fit)


def test_summary_text_names_the_method() -> None:
    fit = mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    assert "Kenward-Roger's method" in str(fit.summary(ddf="kenward-roger"))
