"""``fit(method="map")``: the posterior mode under the default priors, with a Laplace approximation."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import dataset, lme4_case

import mixbayes as mb


def test_dyestuff2_map_keeps_the_sd_off_zero() -> None:
    m = mb.Model("Yield ~ 1 + (1 | Batch)", dataset("Dyestuff2"))
    with pytest.warns(mb.SingularFitWarning):
        reml = m.fit()
    assert reml.varcorr.as_frame()["sdcor"].iloc[0] == 0.0  # the REML fit is singular (lme4: SD 0)
    fit = m.fit(method="map")
    sd = fit.varcorr.as_frame()["sdcor"].iloc[0]
    assert sd > 0.3  # the log-SD scale's Jacobian keeps the mode away from the boundary
    assert not fit.is_singular
    assert fit.diagnose().ok
    # the fixed effect is the mean either way; its SE grows with the between-batch SD
    assert fit.fixef.iloc[0] == pytest.approx(reml.fixef.iloc[0], rel=1e-8)
    assert fit.se.iloc[0] > reml.se.iloc[0]
    iv = fit.varcorr_intervals()
    assert iv.iloc[0, -2] > 0 and iv.iloc[0, -2] < sd < iv.iloc[0, -1]


def test_sleepstudy_map_is_close_to_reml() -> None:
    case = lme4_case("sleepstudy_corr_reml")
    fit = mb.Model(case["formula"], mb.load_dataset("sleepstudy")).fit(method="map")
    assert isinstance(fit, mb.results.map.MapFit)
    np.testing.assert_allclose(fit.fixef.to_numpy(), list(case["fixef"].values()), rtol=1e-6)
    vc = fit.varcorr.as_frame()
    ref = [r["sdcor"] for r in case["varcorr"]]
    # the priors pull mildly: within 10 % for the SDs, 0.1 for the correlation
    np.testing.assert_allclose(vc["sdcor"].to_numpy()[[0, 1, 3]], np.array(ref)[[0, 1, 3]], rtol=0.1)
    assert abs(vc["sdcor"].iloc[2] - ref[2]) < 0.1
    assert fit.se.to_numpy() == pytest.approx(list(case["se"].values()), rel=0.1)
    # ranef / coef / predict come from the likelihood fits' machinery
    assert fit.ranef()["Subject"].shape == (18, 2)
    assert fit.coef["Subject"].shape == (18, 2)
    assert np.isfinite(fit.predict(mb.load_dataset("sleepstudy").head())).all()
    text = str(fit.summary())
    assert "posterior mode" in text and "sd_Subject[Days]" in text


def test_glmm_map_is_close_to_laplace() -> None:
    m = mb.Model("cbind(incidence, size - incidence) ~ period + (1 | herd)", mb.load_dataset("cbpp"),
                 family="binomial")
    lap = m.fit()
    fit = m.fit(method="map")
    z = (fit.fixef - lap.fixef) / lap.se
    assert np.all(np.abs(z) < 0.15)
    assert fit.varcorr.as_frame()["sdcor"].iloc[0] == pytest.approx(lap.varcorr.as_frame()["sdcor"].iloc[0],
                                                                    rel=0.1)
    assert fit.se.to_numpy() == pytest.approx(lap.se.to_numpy(), rel=0.1)
    assert fit.diagnose().ok


def test_map_prior_override_moves_the_mode() -> None:
    m = mb.Model("Yield ~ 1 + (1 | Batch)", dataset("Dyestuff2"))
    wide = m.fit(method="map")
    tight = m.fit(method="map", priors={"sd_Batch": mb.Prior("HalfNormal", sigma=0.1)})
    assert tight.varcorr.as_frame()["sdcor"].iloc[0] < 0.5 * wide.varcorr.as_frame()["sdcor"].iloc[0]
    with pytest.raises(mb.NotSupportedError):
        m.fit(method="map", priors={"sigma": mb.Prior("Weibull", alpha=2, beta=1)})
