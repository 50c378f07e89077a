"""Linear mixed models against lme4 1.1-31 / lmerTest 3.1-3 (tests/golden/lme4_cases.json and lmm.json)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import (
    fit_at_lme4_theta,
    fit_lmm_case,
    golden,
    lme4_conditions,
    lmm_case_data,
    lmm_case_model,
    rel_error,
    values,
)

import mixbayes as mb

CASES = [c for c in golden("lmm")["cases"]]
REFERENCE_IDS = {c["id"] for c in golden("lme4_cases") if c["kind"] == "lmm"}


@pytest.fixture(scope="module")
def fits() -> dict[str, mb.results.lmm.LmmFit]:
    """Our own fit of every case (each warning as lme4 did: see conftest.lme4_conditions)."""
    return {c["id"]: fit_lmm_case(c) for c in CASES}


@pytest.fixture(scope="module")
def comparable(fits: dict) -> dict[str, mb.results.lmm.LmmFit]:
    """Our own fit for the reference cases; for the extra cases, the fit at lme4's theta (lme4 stops up to
    2e-4 short of the optimum in theta on those, see test_our_optimum_is_at_least_as_good)."""
    return {c["id"]: fits[c["id"]] if c["id"] in REFERENCE_IDS else fit_at_lme4_theta(c) for c in CASES}


def test_reference_cases_are_all_covered() -> None:
    assert REFERENCE_IDS <= {c["id"] for c in CASES}


def _check_estimates(fit: mb.results.lmm.LmmFit, case: dict) -> None:
    """The issue's tolerance table: objective, fixef, logLik/AIC/BIC 1e-6; SE, vcov, theta, sigma 1e-4."""
    assert rel_error(fit.objective_value, case["objective"]) < 1e-6
    assert rel_error(fit.fixef.to_numpy(), values(case["fixef"])) < 1e-6
    assert list(fit.fixef.index) == list(case["fixef"])
    assert rel_error(fit.se.to_numpy(), values(case["se"])) < 1e-4
    assert rel_error(fit.vcov.to_numpy(), np.asarray(case["vcov"], float)) < 1e-4
    assert rel_error(fit.sigma, case["sigma"]) < 1e-4
    theta = values(case["theta"])
    # relative to the largest theta of the model: off-diagonal entries can be ~0 (and singular fits exactly 0)
    np.testing.assert_allclose(fit.theta, theta, rtol=1e-4, atol=1e-4 * 1e-2 * np.max(np.abs(theta)))
    assert rel_error(fit.loglik, case["logLik"]) < 1e-6
    assert rel_error(fit.aic, case["AIC"]) < 1e-6
    assert rel_error(fit.bic, case["BIC"]) < 1e-6
    assert fit.is_singular == case["isSingular"]
    assert fit.nobs == case["nobs"]
    assert rel_error(fit.deviance, case.get("deviance_REML_FALSE", case.get("deviance"))) < 1e-6


REFERENCE_CASES = [c for c in CASES if c["id"] in REFERENCE_IDS]


@pytest.mark.parametrize("case", REFERENCE_CASES, ids=[c["id"] for c in REFERENCE_CASES])
def test_estimates_match_lme4(case: dict, fits: dict) -> None:
    """End to end on the reference cases (cases.json): our optimiser against lme4's."""
    _check_estimates(fits[case["id"]], case)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_estimates_at_lme4_theta(case: dict) -> None:
    """Every case, evaluated at lme4's theta: separates the estimates from the optimisers' stopping points."""
    _check_estimates(fit_at_lme4_theta(case), case)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_our_optimum_is_at_least_as_good(case: dict, fits: dict) -> None:
    """Our optimiser reaches lme4's objective or better (lme4 stops up to 1e-7 relative short on some cases)."""
    assert fits[case["id"]].objective_value <= case["objective"] * (1 + 1e-9)
    assert rel_error(fits[case["id"]].objective_value, case["objective"]) < 1e-6


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_varcorr_matches_lme4(case: dict, comparable: dict) -> None:
    ours = comparable[case["id"]].varcorr.as_frame()
    theirs = pd.DataFrame(case["varcorr"])
    assert len(ours) == len(theirs)
    assert list(ours["var1"].fillna("")) == list(theirs["var1"].fillna(""))
    assert list(ours["var2"].fillna("")) == list(theirs["var2"].fillna(""))
    sd_rows = ours["var2"].isna().to_numpy()
    np.testing.assert_allclose(ours["vcov"][sd_rows], theirs["vcov"][sd_rows], rtol=1e-4)
    np.testing.assert_allclose(ours["sdcor"][sd_rows], theirs["sdcor"][sd_rows], rtol=1e-4)
    corr = ~sd_rows
    if corr.any():
        np.testing.assert_allclose(ours["sdcor"][corr], theirs["sdcor"][corr], rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_ranef_and_condsd_match_lme4(case: dict, fits: dict) -> None:
    fit = fits[case["id"]]
    ours = fit.ranef().as_frame()
    theirs = pd.DataFrame(case["ranef"])
    assert len(ours) == len(theirs)
    key = lambda f: f["grpvar"].map(lambda g: ":".join(sorted(g.replace("(", "").replace(")", "").split(":"))))  # noqa: E731
    ours = ours.assign(k=key(ours))
    theirs = theirs.assign(k=key(theirs))
    # level labels: lme4 names `a/b` levels b:a; compare component sets
    norm = lambda s: s.map(lambda x: ":".join(sorted(str(x).split(":"))))  # noqa: E731
    ours["g"], theirs["g"] = norm(ours["grp"]), norm(theirs["grp"])
    merged = ours.merge(theirs, on=["k", "term", "g"], suffixes=("", "_r"))
    assert len(merged) == len(theirs)
    sd_of_term = {(t.group, c): sd for t in fit.varcorr.terms for c, sd in zip(t.columns, t.sd, strict=True)}
    for group, term, diff, dsd in zip(merged["grpvar"], merged["term"], merged["condval"] - merged["condval_r"],
                                      merged["condsd"] - merged["condsd_r"], strict=True):
        scale = max(sd_of_term.get((group, term), 1.0), fit.sigma * 1e-3)
        assert abs(diff) / scale < 1e-4
        assert abs(dsd) / scale < 1e-4


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_fitted_residuals_predictions(case: dict, fits: dict) -> None:
    fit = fits[case["id"]]
    tol = 1e-4 * fit.sigma  # the scale of the ranef tolerance: fitted values carry the BLUPs' error
    np.testing.assert_allclose(fit.fitted.to_numpy(), case["fitted"], rtol=0, atol=tol)
    np.testing.assert_allclose(fit.residuals("response").to_numpy(), case["residuals_response"], rtol=0, atol=tol)
    np.testing.assert_allclose(fit.residuals("pearson").to_numpy(), case["residuals_pearson"], rtol=0,
                               atol=tol * np.sqrt(fit.design.weights.max()))
    q = case["scaled_residual_quantiles"]
    ours_q = np.quantile(fit.residuals("scaled").to_numpy(), [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(ours_q, [q["Min"], q["1Q"], q["Median"], q["3Q"], q["Max"]], atol=1e-4)
    pred = case["predict"]
    new = pd.DataFrame(pred["newdata"])
    cond = fit.predict(new, allow_new_levels=True).to_numpy()
    pop = fit.predict(new, include_random=False).to_numpy()
    np.testing.assert_allclose(cond, pred["conditional"], rtol=0, atol=tol)
    np.testing.assert_allclose(pop, pred["population"], rtol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_satterthwaite_matches_lmertest(case: dict, fits: dict) -> None:
    theirs = case["lmerTest"]["satterthwaite"]["columns"]
    ours = fits[case["id"]].satterthwaite()
    # degrees of freedom from our own fit
    assert rel_error(ours["df"].to_numpy(), theirs["df"]) < 1e-3
    # the algorithm itself, evaluated at lme4's optimum: lme4 stops up to ~4e-5 (relative) short of the optimum
    # in theta, which moves p-values of 1e-10..1e-17 by ~1e-3; at lme4's theta the two agree far closer
    t = fit_at_lme4_theta(case).satterthwaite()
    assert rel_error(t["df"].to_numpy(), theirs["df"]) < 1e-3
    assert rel_error(t["Pr(>|t|)"].to_numpy(), theirs["Pr(>|t|)"]) < 1e-3
    assert rel_error(t["t value"].to_numpy(), theirs["t value"]) < 1e-4


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_devfun_values(case: dict) -> None:
    from mixbayes.likelihood.lmm import LmmObjective

    with lme4_conditions(case["id"], design_only=True):
        model = lmm_case_model(case)
    objective = LmmObjective(model.design, case["REML"])
    for point in case["devfun"]["points"]:
        assert rel_error(objective(values(point["theta"])), point["value"]) < 1e-10


ICC_CASES = [c for c in CASES if c["icc"].get("adjusted") is not None]


@pytest.mark.parametrize("case", ICC_CASES, ids=[c["id"] for c in ICC_CASES])
def test_icc_matches_performance(case: dict, fits: dict) -> None:
    fit = fits[case["id"]]
    icc = fit.icc()
    if any(t.split_from for t in fit.design.terms):
        # performance 0.10.2 ignores split (||) terms beyond the first per grouping factor (lme4 names them
        # Subject.1): its value is the intercept-only ratio, while ours counts every term's variance
        first = {}
        for term, tc in zip(fit.design.terms, fit.varcorr.terms, strict=True):
            first.setdefault(term.group, float(np.mean(np.einsum("ij,jk,ik->i", term.z, tc.cov, term.z))))
        v = sum(first.values())
        assert abs(v / (v + fit.sigma**2) - case["icc"]["adjusted"]) < 1e-4
        assert icc.adjusted > case["icc"]["adjusted"]
        return
    assert abs(icc.adjusted - case["icc"]["adjusted"]) < 1e-4
    assert abs(icc.unadjusted - case["icc"]["unadjusted"]) < 1e-4


def test_icc_extras_and_design_effect() -> None:
    ss = mb.load_dataset("sleepstudy")
    for ref in golden("lme4_extras")["icc"]:
        icc = mb.lmer(ref["formula"], ss).icc()
        assert abs(icc.adjusted - ref["adjusted"]) < 1e-4
        assert abs(icc.unadjusted - ref["unadjusted"]) < 1e-4
    icc = mb.lmer("Reaction ~ Days + (1 | Subject)", ss).icc()
    row = icc.groups.loc["Subject"]
    assert row["mean_size"] == 10
    assert row["design_effect"] == pytest.approx(1 + 9 * row["icc"])
    assert row["n_eff"] == pytest.approx(180 / row["design_effect"])


ANOVA = golden("lmm")["anova"]


@pytest.mark.parametrize("ref", ANOVA, ids=[a["id"] for a in ANOVA])
def test_anova_matches_lme4(ref: dict) -> None:
    import re

    fits = []
    for name in ref["table"]["rownames"]:
        call = ref["model_calls"][name]
        formula = call[len("lmer("): call.index(", data")]
        data_name = re.search(r"data = (\w+)", call).group(1)
        reml = "REML = TRUE" in call
        data, _ = lmm_case_data(data_name)
        fits.append(mb.lmer(formula, data, REML=reml))
    refit = "refit = FALSE" not in ref["call"]
    table = mb.anova(*fits, refit=refit).table
    cols = ref["table"]["columns"]
    for col in ("npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "Pr(>Chisq)"):
        theirs = np.array([np.nan if v is None else v for v in cols[col]], float)
        np.testing.assert_allclose(table[col].to_numpy(float), theirs, rtol=1e-4, equal_nan=True)
    assert ("refitting model(s) with ML (instead of REML)" in mb.anova(*fits, refit=refit).notes) == \
        ("refitting model(s) with ML (instead of REML)" in ref["messages"])


def test_anova_extras_json() -> None:
    ss = mb.load_dataset("sleepstudy")
    for ref in golden("lme4_extras")["anova"]:
        table = mb.anova(*[mb.lmer(f, ss) for f in ref["models"]]).table
        for col in ("npar", "AIC", "BIC", "logLik", "deviance"):
            np.testing.assert_allclose(table[col], ref[col], rtol=1e-4)
        np.testing.assert_allclose(table["Chisq"].iloc[1], ref["Chisq"][1], rtol=1e-4)
        np.testing.assert_allclose(table["Pr(>Chisq)"].iloc[1], ref["p"][1], rtol=1e-4)


def test_anova_boundary_correction_halves_p_for_one_variance() -> None:
    ss = mb.load_dataset("sleepstudy")
    a = mb.lmer("Reaction ~ Days + (1 | Subject)", ss)
    b = mb.lmer("Reaction ~ Days + (Days || Subject)", ss)
    table = mb.anova(a, b).table
    assert table["Pr(>Chisq) boundary"].iloc[1] == pytest.approx(table["Pr(>Chisq)"].iloc[1] / 2)


def test_anova_refuses_different_data() -> None:
    ss = mb.load_dataset("sleepstudy")
    a = mb.lmer("Reaction ~ Days + (1 | Subject)", ss)
    b = mb.lmer("Reaction ~ Days + (1 | Subject)", ss.iloc[:170])
    with pytest.raises(mb.MixbayesError, match="same data"):
        mb.anova(a, b)


def test_dyestuff2_is_singular() -> None:
    with pytest.warns(mb.SingularFitWarning, match=r"variance of '\(Intercept\)' in \(1 \| Batch\).*zero"):
        fit = mb.lmer("Yield ~ 1 + (1 | Batch)", mb.load_dataset("Dyestuff2"))
    assert fit.is_singular
    assert fit.theta[0] == 0.0
    assert "remove (1 | Batch)" in str(fit.diagnose())


def test_badly_scaled_predictor_is_named() -> None:
    data, _ = lmm_case_data("sleepstudy_big")
    with pytest.warns(mb.ConvergenceWarning, match=r"rescale predictor 'Days_big'"):
        mb.lmer("Reaction ~ Days_big + (1 | Subject)", data)


def test_unseen_levels_error_or_population() -> None:
    fit = mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    new = pd.DataFrame({"Days": [1.0], "Subject": ["999"]})
    with pytest.raises(mb.MixbayesError, match="new levels of 'Subject'"):
        fit.predict(new)
    pop = fit.predict(new, allow_new_levels=True).iloc[0]
    assert pop == pytest.approx(fit.fixef["(Intercept)"] + fit.fixef["Days"])


def test_simulate_and_refit() -> None:
    fit = mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    sims = fit.simulate(200, random_seed=1)
    assert sims.shape == (180, 200)
    # simulated responses have the model's marginal mean and variance (Monte Carlo error allowed)
    assert abs(sims.to_numpy().mean() - fit.fitted.mean()) < 4 * np.sqrt(np.var(sims.to_numpy()) / 200 / 18)
    again = fit.simulate(1, random_seed=1)
    np.testing.assert_array_equal(again["sim_1"], sims["sim_1"])
    refit = fit.refit(sims["sim_1"])
    assert refit.nobs == 180 and not np.allclose(refit.fixef, fit.fixef)
    same = fit.refit(fit.design.y)
    np.testing.assert_allclose(same.fixef, fit.fixef, rtol=1e-8)


def test_coef_adds_fixed_and_random() -> None:
    fit = mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    coef = fit.coef["Subject"]
    re = fit.ranef()["Subject"]
    np.testing.assert_allclose(coef["Days"], fit.fixef["Days"] + re["Days"])
    ref = golden("lmm")["cases"][0]["coef"]["Subject"]
    ref_frame = pd.DataFrame(ref["columns"] if "columns" in ref else ref)
    np.testing.assert_allclose(coef["Days"].to_numpy(), ref_frame["Days"].to_numpy(), rtol=1e-4)


def test_summary_text_and_html() -> None:
    fit = mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    text = str(fit.summary())
    for needle in ("REML criterion at convergence: 1743.6", "Scaled residuals", "Random effects:",
                   "Subject  (Intercept)", "Residual", "Number of obs: 180, groups:  Subject, 18",
                   "Fixed effects:", "Satterthwaite", "Correlation of Fixed Effects:"):
        assert needle in text
    assert "<table" in fit.summary()._repr_html_()
    ml = mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"), REML=False)
    assert "logLik" in str(ml.summary()) and "-876.0" in str(ml.summary())


def test_identifiability_checks_are_errors() -> None:
    grouse = mb.load_dataset("grouseticks")
    with pytest.raises(mb.DesignError, match="number of levels of each grouping factor must be < number of obs"):
        mb.lmer("TICKS ~ YEAR + (1 | INDEX)", grouse)


def test_optimization_record() -> None:
    fit = mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    opt = fit.optsummary
    assert opt.optimizer == "bobyqa" and opt.feval == len(opt.log) > 10
    assert opt.fmin == pytest.approx(min(v for _, v in opt.log))
    np.testing.assert_array_equal(opt.initial, [1.0, 0.0, 1.0])
    assert "bobyqa" in str(opt)
