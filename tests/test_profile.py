"""Likelihood profiles and confidence intervals against lme4 1.1-31 (tests/golden/lme4_extras.json ``profile_ci``
and inference.json ``confint``)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import golden, rel_error

import mixbayes as mb
from mixbayes.inference.parameters import sdcor_from_theta, theta_from_sdcor, varpar_names
from mixbayes.inference.profile import LikelihoodProfile
from mixbayes.inference.splines import back_spline, interp_spline

EXTRAS = golden("lme4_extras")["profile_ci"]
DATA = {"sleepstudy_corr_reml": "sleepstudy", "dyestuff_reml": "Dyestuff"}


@pytest.fixture(scope="module")
def sleep_profile() -> LikelihoodProfile:
    return mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy")).profile()


@pytest.mark.parametrize("ref", EXTRAS, ids=[r["id"] for r in EXTRAS])
def test_profile_intervals_match_lme4(ref: dict, sleep_profile: LikelihoodProfile) -> None:
    """The acceptance check: profile intervals for sleepstudy and Dyestuff within 1e-3 relative of lme4."""
    if ref["id"] == "sleepstudy_corr_reml":
        ci = sleep_profile.confint()
    else:
        ci = mb.lmer(ref["formula"], mb.load_dataset(DATA[ref["id"]])).confint()
    assert list(ci.index) == ref["rows"]
    assert list(ci.columns) == ["2.5 %", "97.5 %"]
    assert rel_error(ci.iloc[:, 0], ref["lower"]) < 1e-3
    assert rel_error(ci.iloc[:, 1], ref["upper"]) < 1e-3


CONFINT = golden("inference")["confint"]


def _lme4_group_names(name: str) -> str:
    # lme4 names the nested grouping factor of (1 | batch/cask) "cask:batch"; the design names it "batch:cask"
    if "|" not in name:
        return name
    head, group = name.split("|")
    return head + "|" + ":".join(sorted(group.split(":")))


@pytest.mark.parametrize("ref", CONFINT, ids=[r["id"] for r in CONFINT])
def test_confint_matches_lme4(ref: dict) -> None:
    call = ref["fit_call"]
    formula = call[len("lmer(") : call.index(", data")]
    data = mb.load_dataset(re.search(r"data = (\w+)", call).group(1))
    fit = mb.lmer(formula, data)
    method = "profile" if "profile" in ref["call"] else "wald"
    ci = fit.confint(method=method)
    assert [_lme4_group_names(r) for r in ci.index] == [_lme4_group_names(r) for r in ref["rows"]]
    lower = np.array([np.nan if v is None else v for v in ref["lower"]], float)
    upper = np.array([np.nan if v is None else v for v in ref["upper"]], float)
    # an end of 0 (Pastes' batch SD) is the bound: compare absolutely there
    np.testing.assert_allclose(ci.iloc[:, 0], lower, rtol=1e-3, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(ci.iloc[:, 1], upper, rtol=1e-3, equal_nan=True)


def test_profile_frame_and_zeta(sleep_profile: LikelihoodProfile) -> None:
    prof = sleep_profile
    names = ["sd_(Intercept)|Subject", "cor_Days.(Intercept)|Subject", "sd_Days|Subject", "sigma",
             "(Intercept)", "Days"]
    assert list(prof.profiles) == names
    frame = prof.as_frame()
    assert list(frame.columns) == [".zeta", *names, ".par"]
    days = prof["Days"]
    # zeta is 0 at the ML estimate, increasing in the parameter and reaches past the cutoff both ways
    ml = prof.ml_fit
    at_opt = days.frame[".zeta"].abs().idxmin()
    assert days.frame.loc[at_opt, "Days"] == pytest.approx(ml.fixef["Days"])
    assert np.all(np.diff(days.frame[".zeta"]) > 0)
    assert days.frame[".zeta"].min() < -3.5 and days.frame[".zeta"].max() > 3.5
    # for a fixed effect of an LMM the profile is nearly linear: zeta ~ (beta - est) / se near the optimum
    z1 = days.forward(np.array([ml.fixef["Days"] + ml.se["Days"]]))[0]
    assert 0.85 < z1 < 1.15


def test_profile_plot(sleep_profile: LikelihoodProfile) -> None:
    import matplotlib

    matplotlib.use("Agg")
    fig = sleep_profile.plot()
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 6
    assert visible[5].get_xlabel() == "Days"
    fig2 = sleep_profile.plot(parm=["sigma"], absolute=True)
    assert fig2.axes[0].get_ylabel() == "|zeta|"
    import matplotlib.pyplot as plt

    plt.close("all")


def test_profile_which_and_errors() -> None:
    fit = mb.lmer("Yield ~ 1 + (1 | Batch)", mb.load_dataset("Dyestuff"))
    prof = fit.profile(which="theta_")
    assert list(prof.profiles) == ["sd_(Intercept)|Batch", "sigma"]
    assert list(fit.profile(which=["(Intercept)"]).profiles) == ["(Intercept)"]
    with pytest.raises(mb.MixbayesError, match="unknown parameter 'Batch'"):
        fit.profile(which="Batch")
    with pytest.raises(mb.NotSupportedError, match="unknown interval method"):
        fit.confint(method="likelihood")


def test_singular_fit_interval_starts_at_zero() -> None:
    with pytest.warns(mb.SingularFitWarning):
        fit = mb.lmer("Yield ~ 1 + (1 | Batch)", mb.load_dataset("Dyestuff2"))
    ci = fit.confint(parm=["sd_(Intercept)|Batch"])
    assert ci.iloc[0, 0] == 0.0 and ci.iloc[0, 1] > 0


def test_sdcor_theta_round_trip() -> None:
    fit = mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    d = fit.design
    sdcor = sdcor_from_theta(d, fit.theta, fit.sigma)
    vc = fit.varcorr.as_frame()["sdcor"].to_numpy()  # lme4's long form: SDs, then correlations, then sigma
    np.testing.assert_allclose(sdcor, vc[[0, 2, 1, 3]], rtol=1e-12)
    np.testing.assert_allclose(theta_from_sdcor(d, sdcor), fit.theta, rtol=1e-12, atol=1e-14)
    assert varpar_names(d) == ["sd_(Intercept)|Subject", "cor_Days.(Intercept)|Subject", "sd_Days|Subject",
                               "sigma"]
    # a correlation of 1 is a singular factor, not an error
    th = theta_from_sdcor(d, np.array([20.0, 1.0, 5.0, 25.0]))
    assert th[2] == 0.0 and th[1] == pytest.approx(5.0 / 25.0)


def test_splines_interpolate_and_invert() -> None:
    x = np.array([1.0, 1.6, 2.1, 2.5, 2.9, 3.6, 4.7, 6.3])
    z = np.array([-2.1, -1.3, -0.6, 0.0, 0.5, 1.2, 2.0, 2.9])
    fwd = interp_spline(x, z)
    np.testing.assert_allclose(fwd(x), z, atol=1e-12)
    c = fwd.coefficients
    # natural spline: zero second derivative at both ends; C2 continuity inside
    assert c[0, 2] == 0 and c[-1, 2] == 0
    h = np.diff(x)[:-1]
    np.testing.assert_allclose(2 * c[:-2, 2] + 6 * c[:-2, 3] * h, 2 * c[1:-1, 2], atol=1e-10)
    bak = back_spline(fwd)
    np.testing.assert_allclose(bak(z), x, atol=1e-12)
    mid = bak(np.array([0.25]))[0]
    assert 2.5 < mid < 2.9
    assert np.isnan(bak(np.array([3.5]))[0]) and np.isnan(fwd(np.array([0.0]))[0])
    with pytest.raises(ValueError, match="monotone"):
        back_spline(interp_spline(x, np.array([0, 1, 2, 3, 2, 1, 0, -1.0])))
