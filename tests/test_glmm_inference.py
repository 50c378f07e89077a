"""GLMM inference (issue 14): profile and Wald intervals against lme4 (tools/golden/glmm_profile.R), the profile
plot, the parametric bootstrap, pbtest and the LRT table."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from conftest import dataset, golden

import mixbayes as mb
from mixbayes.inference.glmm_profile import profile_glmm

matplotlib.use("Agg")

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


def _ref(case_id: str, key: str) -> pd.DataFrame:
    case = next(c for c in golden("glmm_profile")["cases"] if c["id"] == case_id)
    t = case[key]
    return pd.DataFrame(np.array(t["rows"], dtype=float), index=t["rownames"], columns=t["colnames"])


@pytest.fixture(scope="module")
def cbpp_fit() -> mb.Model:
    return mb.glmer(CBPP, mb.load_dataset("cbpp"), family="binomial")


@pytest.fixture(scope="module")
def cbpp_profile(cbpp_fit: object) -> object:
    return cbpp_fit.profile()


def test_deviance_function_reproduces_the_fit(cbpp_fit: object) -> None:
    dev = cbpp_fit.deviance_function()
    par = np.concatenate([cbpp_fit.theta, cbpp_fit.beta])
    assert dev(par) == pytest.approx(cbpp_fit.objective_value, rel=1e-10)
    assert dev(par + 0.05) > cbpp_fit.objective_value


def test_cbpp_profile_intervals_match_lme4(cbpp_profile: object) -> None:
    ref = _ref("cbpp_binomial_laplace", "profile")
    mine = cbpp_profile.confint().loc[ref.index]
    np.testing.assert_allclose(mine.to_numpy(), ref.to_numpy(), atol=1e-3)
    assert list(mine.columns) == ["2.5 %", "97.5 %"]


def test_cbpp_wald_intervals_match_lme4(cbpp_fit: object) -> None:
    ref = _ref("cbpp_binomial_laplace", "wald")
    mine = cbpp_fit.confint(method="wald")
    assert list(mine.index) == list(ref.index)
    assert mine.iloc[0].isna().all()
    np.testing.assert_allclose(mine.iloc[1:].to_numpy(), ref.iloc[1:].to_numpy(), atol=1e-4)


def test_profile_plot_and_selection(cbpp_profile: object, cbpp_fit: object) -> None:
    from matplotlib.figure import Figure

    fig = cbpp_profile.plot()
    assert isinstance(fig, Figure) and len([a for a in fig.axes if a.get_visible()]) == 5
    # zeta is monotone through 0 at the estimate
    prof = cbpp_profile["period2"]
    z = prof.frame[".zeta"].to_numpy()
    assert np.all(np.diff(z) > 0) and z.min() < -2.5 and z.max() > 2.5
    with pytest.raises(mb.MixbayesError, match="unknown parameter"):
        profile_glmm(cbpp_fit, which="nope")


def test_confint_parm_profiles_only_those(cbpp_fit: object) -> None:
    ci = cbpp_fit.confint(parm=["sd_(Intercept)|herd"])
    assert list(ci.index) == ["sd_(Intercept)|herd"]
    ref = _ref("cbpp_binomial_laplace", "profile").loc[["sd_(Intercept)|herd"]]
    np.testing.assert_allclose(ci.to_numpy(), ref.to_numpy(), atol=1e-3)


@pytest.mark.slow
def test_grouseticks_profile_intervals_match_lme4() -> None:
    fit = mb.glmer("TICKS ~ YEAR + HEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)", dataset("grouseticks_s"),
                   family="poisson")
    ref = _ref("grouseticks_poisson", "profile")
    mine = fit.confint(method="profile").loc[ref.index]
    np.testing.assert_allclose(mine.to_numpy(), ref.to_numpy(), atol=1e-3)


def test_bootstrap_and_boot_intervals(cbpp_fit: object) -> None:
    res = cbpp_fit.bootstrap(nsim=8, random_seed=3)
    assert list(res.t0.index) == ["sd_(Intercept)|herd", "(Intercept)", "period2", "period3", "period4"]
    assert res.replicates.shape == (8, 5) and res.n_failed == 0
    # reproducible from the seed, and centred near the estimates
    again = cbpp_fit.bootstrap(nsim=8, random_seed=3)
    np.testing.assert_array_equal(res.replicates.to_numpy(), again.replicates.to_numpy())
    assert abs(res.replicates["(Intercept)"].mean() - cbpp_fit.beta[0]) < 0.5
    ci = cbpp_fit.confint(method="boot", nsim=8, random_seed=3)
    assert (ci["2.5 %"] <= ci["97.5 %"]).all()
    np.testing.assert_allclose(ci.to_numpy(), res.confint().to_numpy())


def test_pbtest_and_anova_for_glmms(cbpp_fit: object) -> None:
    cbpp = mb.load_dataset("cbpp")
    small = mb.glmer("cbind(incidence, size - incidence) ~ 1 + (1 | herd)", cbpp, family="binomial")
    lrt = mb.anova(small, cbpp_fit)
    chisq = golden("glmm")["anova"]["table"]["columns"]["Chisq"][1]
    stat = lrt.table["Chisq"].iloc[1]
    assert stat == pytest.approx(chisq, abs=1e-3)
    res = mb.pbtest(small, cbpp_fit, nsim=8, random_seed=1)
    assert res.stat == pytest.approx(stat, abs=1e-8) and res.df == 3
    assert res.simulated.shape == (8,) and np.all(np.isfinite(res.simulated))
    # the data are far from the null model: no simulated LRT reaches the observed one
    assert res.n_extreme == 0 and res.p_value == pytest.approx(1 / (1 + res.n_positive))


def test_anova_boundary_correction_for_a_glmm_variance() -> None:
    cbpp = mb.load_dataset("cbpp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = mb.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
        cbpp = cbpp.assign(obs=pd.Categorical(np.arange(len(cbpp))))
        two = mb.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs)", cbpp,
                       family="binomial")
    tab = mb.anova(one, two).table
    p, pb = tab["Pr(>Chisq)"].iloc[1], tab["Pr(>Chisq) boundary"].iloc[1]
    assert pb == pytest.approx(0.5 * p, rel=1e-12) or (tab["Chisq"].iloc[1] == 0 and pb == 1.0)


def test_negative_binomial_profile_is_refused() -> None:
    fit = mb.glmer("TICKS ~ YEAR + (1 | BROOD)", mb.load_dataset("grouseticks"), family="negative_binomial")
    with pytest.raises(mb.NotSupportedError, match="dispersion"):
        fit.profile()
