"""``mb.allfit``: every optimiser, one table (lme4's allFit)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import lme4_case

import mixbayes as mb
from mixbayes.likelihood.optimizers import OPTIMIZERS


def test_allfit_lmm_optimisers_agree() -> None:
    model = mb.Model("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    result = mb.allfit(model)
    assert set(result.table.index) == set(OPTIMIZERS) - {"none"}
    assert result.table["converged"].all()
    # lme4's REML criterion
    np.testing.assert_allclose(result.table["objective"], lme4_case("sleepstudy_corr_reml")["objective"], rtol=1e-7)
    assert result.spread.abs().max() < 1e-3
    assert "optimisers agree" in str(result)


def test_allfit_from_a_glmm_fit() -> None:
    cbpp = mb.load_dataset("cbpp")
    fit = mb.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
    result = mb.allfit(fit, optimizers=["bobyqa", "nelder_mead", "sbplx"])
    assert result.table.loc["bobyqa", "delta"] == pytest.approx(0.0, abs=1e-9)
    assert result.table["delta"].max() < 1e-6
    # lme4's logLik for this model
    np.testing.assert_allclose(result.table["objective"], -2 * lme4_case("cbpp_binomial_laplace")["logLik"],
                               rtol=1e-6)


def test_allfit_records_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    model = mb.Model("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    real_fit = mb.Model.fit

    def failing(self: mb.Model, *args: object, **kwargs: object) -> object:
        if (kwargs.get("control") or {}).get("optimizer") == "powell":
            raise mb.MixbayesError("simulated failure")
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(mb.Model, "fit", failing)
    result = mb.allfit(model, optimizers=["bobyqa", "powell"])
    assert np.isnan(result.table.loc["powell", "objective"])
    assert "simulated failure" in result.table.loc["powell", "warnings"]
    assert isinstance(result.fits["powell"], mb.MixbayesError)


def test_failed_hessian_is_not_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the objective fails around the optimum, the derivatives are unusable and the fit says so."""
    import mixbayes.likelihood.glmm as glmm

    def broken(fun: object, x: np.ndarray, **_: object) -> tuple[np.ndarray, np.ndarray]:
        return np.full(len(x), np.inf), np.full((len(x), len(x)), np.nan)

    monkeypatch.setattr(glmm, "deriv12", broken)
    model = mb.Model("cbind(incidence, size - incidence) ~ period + (1 | herd)", mb.load_dataset("cbpp"),
                     family="binomial")
    with pytest.warns(mb.ConvergenceWarning, match="could not be evaluated around the optimum"):
        fit = model.fit()
    # the standard errors fall back to the covariance given theta (lme4's fallback), and stay finite
    assert np.all(np.isfinite(fit.se)) and np.all(fit.se > 0)
