"""``mb.allfit``: every optimiser, one table (lme4's allFit)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mixbayes as mb
from mixbayes.likelihood.optimizers import OPTIMIZERS


def test_allfit_lmm_optimisers_agree() -> None:
    model = mb.Model("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    result = mb.allfit(model)
    assert set(result.table.index) == set(OPTIMIZERS) - {"none"}
    assert result.table["converged"].all()
    # lme4's REML criterion (tests/golden/lme4_cases.json, sleepstudy_corr_reml)
    np.testing.assert_allclose(result.table["objective"], 1743.62827195995, rtol=1e-7)
    assert result.spread.abs().max() < 1e-3
    assert "optimisers agree" in str(result)


def test_allfit_from_a_glmm_fit_reports_failures() -> None:
    cbpp = mb.load_dataset("cbpp")
    fit = mb.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mb.MixbayesWarning)
        result = mb.allfit(fit, optimizers=["bobyqa", "nelder_mead", "lbfgsb"])
    assert result.table.loc["bobyqa", "delta"] == pytest.approx(0.0, abs=1e-9)
    assert result.table.loc["nelder_mead", "delta"] < 1e-6
    # L-BFGS-B with finite differences stops early on lme4's PIRLS-tolerance objective, and says so
    assert result.table.loc["lbfgsb", "delta"] > 1e-3
    assert "could not be evaluated" in result.table.loc["lbfgsb", "warnings"]


def test_failed_hessian_is_not_silent() -> None:
    model = mb.Model("cbind(incidence, size - incidence) ~ period + (1 | herd)", mb.load_dataset("cbpp"),
                     family="binomial")
    with pytest.warns(mb.ConvergenceWarning, match="could not be evaluated around the optimum"):
        model.fit(control={"optimizer": "lbfgsb"})
