"""Kenward-Roger against pbkrtest 0.5.2 (tests/golden: lme4_cases.json kr_df/kr_se, lmm.json lmerTest
kenward_roger tables, inference.json KRmodcomp/vcovAdj)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fit_at_lme4_theta, fit_lmm_case, golden, rel_error, values

import mixbayes as mb
from mixbayes.inference import kenward_roger as kr

REML_CASES = [c for c in golden("lme4_cases") if c["kind"] == "lmm" and c["REML"]]
LMM_CASES = {c["id"]: c for c in golden("lmm")["cases"]}


@pytest.mark.parametrize("case", REML_CASES, ids=[c["id"] for c in REML_CASES])
def test_kr_df_and_se_match_pbkrtest(case: dict) -> None:
    """The acceptance check on the REML cases of cases.json: df and adjusted SEs within 1e-3 of pbkrtest."""
    table = kr.kenward_roger_table(fit_lmm_case(case))
    if isinstance(case["kr_se"], dict):
        assert list(table.index) == list(case["kr_se"])
    assert rel_error(table["df"], values(case["kr_df"])) < 1e-3
    assert rel_error(table["Std. Error"], values(case["kr_se"])) < 1e-3


@pytest.mark.parametrize("case", REML_CASES, ids=[c["id"] for c in REML_CASES])
def test_kr_algorithm_at_lme4_theta(case: dict) -> None:
    """The algorithm itself: at lme4's theta (lme4 stops up to ~4e-5 relative short of the optimum in theta,
    which moves the SEs by up to ~3e-5) our numbers agree with pbkrtest's to rounding."""
    table = kr.kenward_roger_table(fit_at_lme4_theta(case))
    assert rel_error(table["df"], values(case["kr_df"])) < 1e-8
    assert rel_error(table["Std. Error"], values(case["kr_se"])) < 1e-8


KR_TABLES = [c for c in LMM_CASES.values() if "error" not in c["lmerTest"]["kenward_roger"]]


@pytest.mark.parametrize("case", KR_TABLES, ids=[c["id"] for c in KR_TABLES])
def test_summary_kenward_roger_matches_lmertest(case: dict) -> None:
    ref = case["lmerTest"]["kenward_roger"]
    fit = fit_at_lme4_theta(case)
    table = fit.summary(ddf="kenward-roger").coefficients
    assert list(table.index) == ref["rownames"]
    assert list(table.columns) == ["Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"]
    for col in table.columns:
        assert rel_error(table[col], ref["columns"][col]) < 1e-6, col
    own = fit_lmm_case(case).summary(ddf="kenward-roger").coefficients
    assert rel_error(own["df"], ref["columns"]["df"]) < 1e-3
    assert rel_error(own["Std. Error"], ref["columns"]["Std. Error"]) < 1e-3


KRMOD = golden("inference")["KRmodcomp"]
THETA_OF = {"sleepstudy_days": "sleepstudy_corr_reml", "penicillin_sample": "penicillin_sample_fixed_reml",
            "synth_drop_interaction": "synth_xf_slope_reml"}


def _large(ref: dict, at_lme4: bool) -> mb.results.lmm.LmmFit:
    case = LMM_CASES[THETA_OF[ref["id"]]]
    assert case["call"] == ref["large_call"]  # the larger model is that case's
    return fit_at_lme4_theta(case) if at_lme4 else fit_lmm_case(case)


@pytest.mark.parametrize("ref", KRMOD, ids=[r["id"] for r in KRMOD])
def test_krmodcomp_and_vcovadj(ref: dict) -> None:
    for at_lme4, tol in ((True, 1e-8), (False, 1e-3)):
        fit = _large(ref, at_lme4)
        assert list(fit.design.fixef_names) == ref["fixef_names"]
        np.testing.assert_allclose(kr.vcov_adjusted(fit).to_numpy(), ref["vcovAdj"], rtol=tol)
        test = kr.kr_test(fit, ref["L"])
        cols = ref["test"]["columns"]
        assert test.ndf == ref["stats"]["ndf"]
        assert rel_error(test.F, cols["stat"][0]) < tol
        assert rel_error(test.ddf, cols["ddf"][0]) < tol
        assert rel_error(test.F_scaling, ref["stats"]["F.scaling"]) < tol
        assert rel_error(test.p_value, cols["p.value"][0]) < tol
        for key, value in ref["stats"]["aux"].items():
            assert rel_error(test.aux[key], value) < tol, key


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
