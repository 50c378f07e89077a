"""glmmTMB's families (issue 13) against glmmTMB 1.1.5 (tests/golden/glmmtmb_families.json, made by
tools/golden/glmmtmb_families.R): zero-inflated and hurdle Poisson / NB2 on Salamanders, NB1 / NB2 with an offset
on Owls, beta-binomial on cbpp."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import golden

import mixbayes as mb
from mixbayes.exceptions import FamilyError, MixbayesError, NotSupportedError, ResponseError

G = golden("glmmtmb_families")
CASES = G["cases"]
SAL = "count ~ spp + mined + (1 | site)"
OWLS = "SiblingNegotiation ~ FoodTreatment * SexParent + offset(log(BroodSize)) + (1 | Nest)"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
SPECS = {
    "sal_zip": (SAL, "Salamanders", "poisson", "~spp + mined"),
    "sal_zinb2": (SAL, "Salamanders", "nbinom2", "~spp + mined"),
    "sal_hnb2": (SAL, "Salamanders", "truncated_nbinom2", "~spp + mined"),
    "sal_hpois": (SAL, "Salamanders", "truncated_poisson", "~spp + mined"),
    "sal_zip_small": (SAL, "Salamanders", "poisson", "~mined"),
    "owls_nb1": (OWLS, "Owls", "nbinom1", "~1"),
    "owls_nb2": (OWLS, "Owls", "nbinom2", "~1"),
    "owls_nb1_nozi": (OWLS, "Owls", "nbinom1", None),
    "owls_nb1_slope": (OWLS.replace("(1 | Nest)", "(FoodTreatment | Nest)"), "Owls", "nbinom1", "~1"),
    "cbpp_betabin": (CBPP, "cbpp", "betabinomial", None),
}
# the random-effect SD of the beta-binomial is at the boundary (glmmTMB stops at 1.4e-4): no SE for it
BOUNDARY = {"cbpp_betabin"}
# glmmTMB's covariance parameters of a vector term (log SDs, a correlation transform) are not lme4's theta
REPARAMETRISED = {"owls_nb1_slope"}


@pytest.fixture(scope="module")
def fits() -> dict[str, mb.results.tmb.TmbFit]:
    out = {}
    for name, (formula, data, family, zi) in SPECS.items():
        out[name] = mb.glmmTMB(formula, mb.load_dataset(data), family=family, zi=zi)
    return out


def test_every_golden_case_is_tested() -> None:
    assert set(CASES) == set(SPECS)


def _series(d: dict) -> pd.Series:
    return pd.Series(d, dtype=float)


@pytest.mark.parametrize("name", list(SPECS))
def test_fixef_both_parts(fits: dict, name: str) -> None:
    """1e-4 relative or 1% of the reference SE, whichever is larger (issue 13)."""
    c, fit = CASES[name], fits[name]
    for ours, ref, se in ((fit.fixef, c["fixef_cond"], c["se_cond"]), (fit.fixef_zi, c["fixef_zi"], c["se_zi"])):
        if ref is None:
            assert ours is None
            continue
        ref, se = _series(ref), _series(se)
        assert list(ours.index) == list(ref.index)
        err = np.abs(ours.to_numpy() - ref.to_numpy())
        allowed = np.maximum(1e-4 * np.abs(ref.to_numpy()), 0.01 * se.to_numpy())
        assert np.all(err <= allowed), (name, (err / allowed).max())


@pytest.mark.parametrize("name", list(SPECS))
def test_loglik_aic_bic(fits: dict, name: str) -> None:
    c, fit = CASES[name], fits[name]
    assert abs(fit.loglik - c["logLik"]) <= 1e-6 * abs(c["logLik"])
    assert fit.npar == c["logLik_df"]
    assert fit.aic == pytest.approx(c["AIC"], rel=1e-6)
    assert fit.bic == pytest.approx(c["BIC"], rel=1e-6)
    assert fit.df_residual == c["df.residual"]


@pytest.mark.parametrize("name", list(SPECS))
def test_standard_errors(fits: dict, name: str) -> None:
    """sdreport's SEs (the Hessian of the Laplace objective in all parameters), 1e-3 relative."""
    c, fit = CASES[name], fits[name]
    np.testing.assert_allclose(fit.se.to_numpy(), _series(c["se_cond"]).to_numpy(), rtol=1e-3)
    if c["se_zi"] is not None:
        np.testing.assert_allclose(fit.se_zi.to_numpy(), _series(c["se_zi"]).to_numpy(), rtol=1e-3)
    ref = c["vcov_full"]
    V = np.array(ref["rows"], dtype=float)
    ours = fit.vcov_full.to_numpy()
    n_fixed = len(c["se_cond"]) + len(c["se_zi"] or {}) + int(fit.family.has_dispersion)
    np.testing.assert_allclose(np.sqrt(np.diag(ours))[:n_fixed], np.sqrt(np.diag(V))[:n_fixed], rtol=1e-3)
    if name not in BOUNDARY | REPARAMETRISED:  # the log SD too
        np.testing.assert_allclose(np.sqrt(np.diag(ours)), np.sqrt(np.diag(V)), rtol=1e-3)
        np.testing.assert_allclose(fit.vcov.to_numpy(), np.array(c["vcov_cond"]["rows"], dtype=float),
                                   rtol=2e-3, atol=1e-3 * np.min(np.diag(fit.vcov)))


@pytest.mark.parametrize("name", list(SPECS))
def test_sigma_and_random_effect_sd(fits: dict, name: str) -> None:
    c, fit = CASES[name], fits[name]
    assert fit.sigma == pytest.approx(c["sigma"], rel=1e-4)
    (group, sd), = c["re_sd"].items()
    if name in BOUNDARY:
        assert fit.re_sd[group][0] < 1e-3 and np.atleast_1d(sd)[0] < 1e-3
    else:
        np.testing.assert_allclose(fit.re_sd[group], sd, rtol=1e-4)
        np.testing.assert_allclose(fit.ranef[group].to_numpy(), np.array(c["ranef_all"][group]), rtol=1e-3,
                                   atol=1e-5)
    ref_cor = np.atleast_1d(np.asarray(c["re_cor"][group], dtype=float))  # [] for a scalar term
    np.testing.assert_allclose(fit.re_cor[group], ref_cor, rtol=1e-3)


@pytest.mark.parametrize("name", list(SPECS))
def test_predictions(fits: dict, name: str) -> None:
    c, fit = CASES[name], fits[name]
    rows = np.asarray(c["pred_rows"]) - 1
    for kind in ("response", "conditional", "zprob", "link"):
        atol = 1e-4 if kind == "link" else 1e-8  # the link crosses 0: absolute, as precise as the fixef
        np.testing.assert_allclose(fit.predict(type=kind)[rows], c["predictions"][kind], rtol=1e-4, atol=atol)
        np.testing.assert_allclose(fit.predict(type=kind, include_random=False)[rows],
                                   c["predictions"][f"{kind}_population"], rtol=1e-4, atol=atol)


def test_predict_newdata_matches_fitted(fits: dict) -> None:
    fit = fits["sal_hnb2"]
    sal = mb.load_dataset("Salamanders")
    for kind in ("response", "conditional", "zprob"):
        np.testing.assert_allclose(fit.predict(sal.iloc[:20], type=kind), fit.predict(type=kind)[:20], rtol=1e-10)


def test_anova_lrt(fits: dict) -> None:
    ref = G["anova"]["table"]["columns"]
    tab = fits["sal_zip_small"].anova(fits["sal_zip"]).table
    assert list(tab["npar"]) == ref["Df"]
    assert tab["Chisq"].iloc[1] == pytest.approx(ref["Chisq"][1], rel=1e-5)
    assert tab["Pr(>Chisq)"].iloc[1] == pytest.approx(ref["Pr(>Chisq)"][1], rel=1e-4)


def test_summary_layout(fits: dict) -> None:
    text = str(fits["sal_zinb2"].summary())
    for piece in ("Family: nbinom2", "Zero inflation:", "Conditional model:", "Zero-inflation model:",
                  "Dispersion parameter for nbinom2 family (): 1.51", "Number of obs: 644, groups:  site, 23"):
        assert piece in text
    assert "Zero-truncated hurdle model:" in str(fits["sal_hnb2"].summary())
    tidy = fits["sal_zinb2"].tidy()
    assert set(tidy["component"]) == {"cond", "zi", "disp"}
    assert tidy.loc[tidy["term"] == "sigma", "estimate"].item() == pytest.approx(fits["sal_zinb2"].sigma)


def test_simulate_matches_fitted_mean(fits: dict) -> None:
    fit = fits["sal_zip"]
    sims = fit.simulate(400, random_seed=1, conditional=True)
    assert sims.shape == (fit.nobs, 400)
    assert np.all(sims == np.round(sims)) and sims.min() >= 0
    total = sims.sum(axis=0)  # Monte Carlo error of the mean total: sd / sqrt(400)
    assert abs(total.mean() - fit.fitted.sum()) < 4 * total.std() / np.sqrt(400)
    hurdle = fits["sal_hpois"].simulate(50, random_seed=2, conditional=True)
    zero_share = (hurdle == 0).mean()
    assert abs(zero_share - fits["sal_hpois"].predict(type="zprob").mean()) < 0.03


def test_glmer_routes_zero_inflation_to_glmmtmb(fits: dict) -> None:
    fit = mb.glmer(SAL, mb.load_dataset("Salamanders"), family="poisson", zi="~spp + mined")
    assert fit.loglik == pytest.approx(fits["sal_zip"].loglik, rel=1e-9)


def test_datasets_keep_r_levels() -> None:
    sal = mb.load_dataset("Salamanders")
    assert list(sal["spp"].cat.categories) == ["GP", "PR", "DM", "EC-A", "EC-L", "DES-L", "DF"]
    assert list(sal["mined"].cat.categories) == ["yes", "no"]
    owls = mb.load_dataset("Owls")
    assert owls.shape == (599, 8) and list(owls["SexParent"].cat.categories) == ["Female", "Male"]


# ---- bad input -------------------------------------------------------------------------------------------------

def _sal() -> pd.DataFrame:
    return mb.load_dataset("Salamanders")


def test_zi_with_a_family_that_cannot_take_it() -> None:
    with pytest.raises(FamilyError, match="not one of glmmTMB's families"):
        mb.glmmTMB(SAL, _sal(), family="gaussian", zi="~1")
    with pytest.raises(FamilyError):
        mb.glmer(SAL, _sal(), family="binomial", zi="~mined")


def test_negative_and_non_integer_counts() -> None:
    d = _sal()
    d["count"] = d["count"].astype(float)
    d.loc[3, "count"] = -1
    with pytest.raises(ResponseError, match="negative"):
        mb.glmmTMB(SAL, d, family="nbinom2", zi="~1")
    d.loc[3, "count"] = 1.5
    with pytest.raises(ResponseError, match="non-integer"):
        mb.glmmTMB(SAL, d, family="nbinom1")


def test_truncated_family_with_zeros_needs_a_hurdle() -> None:
    with pytest.raises(ResponseError, match="hurdle"):
        mb.glmmTMB(SAL, _sal(), family="truncated_poisson")


@pytest.mark.parametrize("zi", ["count ~ mined", "~ mined + (1 | site)", "~", 3])
def test_bad_zi_formula(zi: object) -> None:
    with pytest.raises(NotSupportedError):
        mb.glmmTMB(SAL, _sal(), family="poisson", zi=zi)


def test_other_bad_input() -> None:
    with pytest.raises(NotSupportedError, match="random-effects term"):
        mb.glmmTMB("count ~ spp", _sal(), family="poisson", zi="~1")
    with pytest.raises(NotSupportedError, match="Laplace"):
        mb.glmer(SAL, _sal(), family="nbinom1", nAGQ=5)
    with pytest.raises(MixbayesError):
        mb.glmmTMB("count ~ spp + (1 | site)", _sal(), family="betabinomial")
    with pytest.raises(mb.exceptions.ArgumentError):
        mb.glmmTMB(SAL, _sal(), family="poisson", zi="~1", start={"bogus": 1})


def test_compare_table_and_tidy_show_zero_inflation_and_dispersion(fits: dict) -> None:
    fit = fits["sal_zinb2"]
    table = mb.compare(fit).table
    assert table.loc["zi~minedno", "estimate"] == pytest.approx(fit.fixef_zi["minedno"])
    assert table.loc["zi~minedno", "se"] == pytest.approx(fit.se_zi["minedno"])
    assert table.loc["sigma (nbinom2)", "estimate"] == pytest.approx(CASES["sal_zinb2"]["sigma"], rel=1e-4)
    assert table.loc["sd_(Intercept)|site", "estimate"] == pytest.approx(fit.re_sd["site"][0])
    assert mb.tidy(fit).shape[0] == len(fit.fixef) + len(fit.fixef_zi) + 2
    with pytest.raises(NotSupportedError, match="Bayesian"):
        mb.compare(fit, fit)


@pytest.mark.slow
def test_nbinom2_joint_laplace_matches_the_glmer_nb_engine() -> None:
    """glmmTMB's joint Laplace ML of the NB2 dispersion and glmer's outer loop maximise the same likelihood."""
    owls = mb.load_dataset("Owls")
    tmb = mb.glmmTMB(OWLS, owls, family="nbinom2")
    lme4_style = mb.glmer(OWLS, owls, family="nbinom2")
    assert tmb.loglik == pytest.approx(lme4_style.loglik, rel=1e-8)
    np.testing.assert_allclose(tmb.fixef, lme4_style.fixef, rtol=1e-4, atol=1e-5)


def test_the_other_zinb2_optimum_warns_and_is_higher(fits: dict) -> None:
    """Started near it, the fit finds the ZINB2 optimum where zi~sppDF and zi~minedno run off to -inf: a higher
    likelihood (glmmTMB started there agrees) with a singular Hessian, which warns."""
    ref = G["zinb2_other_optimum"]
    start = {"beta": ref["start"]["beta"], "beta_zi": ref["start"]["betazi"], "betad": ref["start"]["betad"],
             "psi": ref["start"]["theta"]}
    with pytest.warns(mb.exceptions.ConvergenceWarning, match="non-positive-definite"):
        fit = mb.glmmTMB(SAL, _sal(), family="nbinom2", zi="~spp + mined", start=start)
    assert abs(fit.loglik - ref["logLik"]) <= 1e-6 * abs(ref["logLik"])
    assert fit.loglik > fits["sal_zinb2"].loglik + 2
    np.testing.assert_allclose(fit.fixef, list(ref["fixef_cond"].values()), rtol=1e-3)


def test_html_report_of_a_glmmtmb_fit(fits: dict) -> None:
    page = mb.write_report(fits["sal_hnb2"], sample=False)
    assert "zi~minedno" in page and "Zero-truncated hurdle model:" in page and "sigma (truncated_nbinom2)" in page


def test_model_points_glmmtmb_families_to_glmmtmb() -> None:
    with pytest.raises(FamilyError, match=r"mb\.glmmTMB"):
        mb.Model(SAL, _sal(), family="truncated_poisson")
