"""mb.compare: the likelihood column reproduces lme4, the flags fire where the fits disagree, the renderings.

Flag logic is tested against a labelled stand-in posterior (tests/report_standin.py); the real sampler is tested
in test_sleepstudy_posterior_covers_lme4.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import dataset, golden, lme4_case
from report_standin import StandInBayesFit

import mixbayes as mb
from mixbayes.report.compare import Comparison


def _lme4_values(case: dict) -> dict[str, float]:
    """lme4's estimates under the comparison's row names."""
    out = dict(case["fixef"])
    for r in case["varcorr"]:
        grp = r["grp"].split(".")[0] if r["grp"] != "Residual" else "Residual"
        if r["grp"] == "Residual":
            out["sigma"] = r["sdcor"]
        elif r["var2"] is None:
            out[f"sd_{r['var1']}|{grp}"] = r["sdcor"]
        else:
            out[f"cor_{r['var2']}.{r['var1']}|{grp}"] = r["sdcor"]
    return out


@pytest.fixture(scope="module")
def sleep_cmp(sleep_reml) -> Comparison:
    return mb.compare(sleep_reml, intervals="none")


def test_likelihood_column_is_lme4s_reml(sleep_cmp: Comparison) -> None:
    case = lme4_case("sleepstudy_corr_reml")
    ref = _lme4_values(case)
    tab = sleep_cmp.table
    assert set(ref) <= set(tab.index), set(ref) - set(tab.index)
    for name, value in ref.items():
        np.testing.assert_allclose(tab.loc[name, "estimate"], value, rtol=1e-4, err_msg=name)
    np.testing.assert_allclose(tab.loc[list(case["se"]), "se"], list(case["se"].values()), rtol=1e-4)
    assert list(tab["kind"]) == ["fixed", "fixed", "sd", "sd", "cor", "sigma", "icc"]


def test_fixed_effect_intervals_are_lme4s_wald(sleep_cmp: Comparison) -> None:
    ref = next(c for c in golden("inference")["confint"] if c["id"] == "sleepstudy_corr_reml_wald")
    tab = sleep_cmp.table
    for name, lo, hi in zip(ref["rows"], ref["lower"], ref["upper"], strict=True):
        if lo is not None:
            np.testing.assert_allclose(tab.loc[name, ["lower", "upper"]].to_numpy(float), [lo, hi], rtol=1e-6)
            assert tab.loc[name, "interval"] == "Wald"
    # no Wald interval for the variance parameters (lme4 gives NA)
    assert tab.loc[tab["kind"] != "fixed", "lower"].isna().all()


def test_variance_parameter_intervals_are_lme4s_profile() -> None:
    ref = next(c for c in golden("inference")["confint"] if c["id"] == "penicillin_crossed_reml")
    fit = mb.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", dataset("Penicillin"))
    tab = mb.compare(fit).table  # "auto": small enough to profile
    for name, lo, hi in zip(ref["rows"], ref["lower"], ref["upper"], strict=True):
        if name.startswith(("sd_", "sigma")):
            np.testing.assert_allclose(tab.loc[name, ["lower", "upper"]].to_numpy(float), [lo, hi], rtol=1e-3)
            assert tab.loc[name, "interval"] == "profile"
    icc = fit.icc()
    np.testing.assert_allclose(tab.loc["ICC (adjusted)", "estimate"], icc.adjusted)
    # two grouping factors: one ICC row each
    for g in ("plate", "sample"):
        np.testing.assert_allclose(tab.loc[f"ICC[{g}]", "estimate"], icc.groups.loc[g, "icc"])


def test_agreeing_posterior_raises_no_flag(sleep_reml) -> None:
    post = StandInBayesFit(sleep_reml, random_seed=1)
    cmp = mb.compare(sleep_reml, post, intervals="none")
    assert cmp.flagged.empty, cmp.flagged[["flag"]]
    for col in ("post_mean", "post_sd", "post_lower", "post_upper"):
        assert cmp.table[col].notna().all(), col
    # the posterior columns are the stand-in's summaries
    fs = post.fixef_summary()
    np.testing.assert_allclose(cmp.table.loc["Days", ["post_mean", "post_lower"]].to_numpy(float),
                               fs.loc["Days", ["mean", "2.5%"]].to_numpy(float))
    assert "No row flagged" in cmp.to_text()


def test_disagreements_are_flagged(sleep_reml) -> None:
    post = StandInBayesFit(sleep_reml, random_seed=2, shift={"Days": 6.0, "sd_(Intercept)|Subject": 25.0},
                           rhat={("Subject", "Days", None): 1.08})
    cmp = mb.compare(sleep_reml, post, intervals="none")
    flags = cmp.table["flag"]
    assert "outside" in flags["Days"] and "shift" in flags["Days"]
    assert "outside" in flags["sd_(Intercept)|Subject"]
    assert "r_hat" in flags["sd_Days|Subject"]
    assert flags["(Intercept)"] == "" and flags["sigma"] == ""
    assert set(cmp.flagged.index) == {"Days", "sd_(Intercept)|Subject", "sd_Days|Subject"}
    # a posterior much wider than the SE
    wide = mb.compare(sleep_reml, StandInBayesFit(sleep_reml, random_seed=3, spread=2.5), intervals="none")
    assert "se: posterior SD / SE" in wide.table.loc["Days", "flag"]


def test_singular_reml_against_a_posterior_away_from_zero() -> None:
    with pytest.warns(mb.SingularFitWarning, match=r"'\(Intercept\)' in \(1 \| Batch\) is estimated as zero"):
        fit = mb.lmer("Yield ~ 1 + (1 | Batch)", dataset("Dyestuff2"))
    assert fit.is_singular
    cmp = mb.compare(fit, StandInBayesFit(fit, sd_floor=1.0, random_seed=4), intervals="none")
    flag = cmp.table.loc["sd_(Intercept)|Batch", "flag"]
    assert flag.startswith("singular"), flag
    assert "outside" not in flag  # the boundary case is reported once, as singular


def test_renderings(sleep_reml) -> None:
    post = StandInBayesFit(sleep_reml, random_seed=2, shift={"Days": 6.0})
    cmp = mb.compare(sleep_reml, post, intervals="none")
    text = cmp.to_text()
    assert str(cmp) == text and repr(cmp) == text
    for piece in ("Fixed effects", "sd_Days|Subject", "cor_Days.(Intercept)|Subject", "sigma", "ICC (adjusted)",
                  "REML", "posterior", "1 row flagged"):
        assert piece in text, piece
    md = cmp.to_markdown().splitlines()
    table = [line for line in md if line.startswith("|")]
    assert len(table) == 2 + len(cmp.table) + cmp.table["kind"].nunique()  # header, rule, rows, section rows
    assert all(line.count("|") - line.count("\\|") == table[0].count("|") for line in table)
    html = cmp.to_html()
    assert html == cmp._repr_html_()
    assert html.count("<tr class=\"flagged\">") == 1 and "<table" in html and "Days" in html
    # likelihood only: no posterior columns, nothing flagged
    alone = mb.compare(sleep_reml, intervals="none")
    assert "posterior" not in alone.to_text().splitlines()[3] and alone.posterior_method is None
    assert alone.table["post_mean"].isna().all()


def test_argument_order_and_errors(sleep_reml) -> None:
    post = StandInBayesFit(sleep_reml, random_seed=1)
    a = mb.compare(sleep_reml, post, intervals="none").table
    b = mb.compare(post, sleep_reml, intervals="none").table
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(TypeError, match="likelihood fit"):
        mb.compare(post)
    with pytest.raises(TypeError, match="Bayesian fit"):
        mb.compare(sleep_reml, sleep_reml)
    other = mb.lmer("Reaction ~ Days + (1 | Subject)", mb.load_dataset("sleepstudy"))
    with pytest.raises(ValueError, match="different models"):
        mb.compare(other, post)


def test_glmm_comparison_has_no_residual_row() -> None:
    case = lme4_case("cbpp_binomial_laplace")
    fit = mb.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mb.load_dataset("cbpp"))
    cmp = mb.compare(fit, StandInBayesFit(fit, random_seed=5))
    tab = cmp.table
    assert "sigma" not in tab.index
    np.testing.assert_allclose(tab.loc[list(case["fixef"]), "estimate"], list(case["fixef"].values()), rtol=1e-4)
    np.testing.assert_allclose(tab.loc["sd_(Intercept)|herd", "estimate"], case["varcorr"][0]["sdcor"], rtol=1e-4)
    # the GLMM's variance gets lme4's profile interval (confint(profile(fit)), tests/golden/glmm_profile.json)
    prof = next(c for c in golden("glmm_profile")["cases"] if c["id"] == "cbpp_binomial_laplace")["profile"]
    lo, hi = prof["rows"][prof["rownames"].index("sd_(Intercept)|herd")]
    assert tab.loc["sd_(Intercept)|herd", "interval"] == "profile"
    np.testing.assert_allclose(tab.loc["sd_(Intercept)|herd", ["lower", "upper"]].astype(float), [lo, hi], atol=1e-3)
    assert not any("no likelihood interval" in n for n in cmp.notes)
    assert cmp.likelihood_method == "Laplace"
    assert "ICC (adjusted)" in tab.index


def test_sleepstudy_posterior_covers_lme4(sleep_reml, sleep_posterior) -> None:
    """The real sampler: lme4's REML values in the likelihood column (1e-4), posterior intervals covering them."""
    cmp = mb.compare(sleep_reml, sleep_posterior)
    ref = _lme4_values(lme4_case("sleepstudy_corr_reml"))
    tab = cmp.table
    for name, value in ref.items():
        np.testing.assert_allclose(tab.loc[name, "estimate"], value, rtol=1e-4, err_msg=name)
        assert tab.loc[name, "post_lower"] < value < tab.loc[name, "post_upper"], name
    assert not tab["flag"].str.contains("outside|singular|shift").any(), tab["flag"]
    assert tab.loc[tab["kind"] != "fixed", "interval"].iloc[:4].eq("profile").all()
    assert cmp.posterior_method and "chains" in cmp.posterior_method
