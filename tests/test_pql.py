"""fit(method="pql") against MASS::glmmPQL (tests/golden/gamma_pql.json, made by tools/golden/gamma_pql.R).
Tolerances of issue 13: fixef 1e-4 relative or 1% of the reference SE, SEs 1e-3, random-effect SD 1e-3."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from conftest import dataset, golden, rel_error

import mixbayes as mb
from mixbayes.exceptions import ArgumentError, ConvergenceWarning, NotSupportedError

CASES = {  # golden id: (formula, data, family)
    "bacteria": ("y ~ trt + I(week > 2) + (1 | ID)", "bacteria", "binomial"),
    "bacteria_noweek": ("y ~ trt + week + (1 | ID)", "bacteria", "binomial"),
    "synth_pois": ("y ~ x + offset(log(t)) + (1 | g)", "synth_pois", "poisson"),
}


@cache
def _fit(case: str) -> mb.results.pql.PqlFit:
    formula, data, family = CASES[case]
    return mb.glmer(formula, dataset(data), family=family, method="pql")


@pytest.mark.parametrize("case", list(CASES))
def test_pql_matches_glmmpql(case: str) -> None:
    ref = golden("gamma_pql")["glmmPQL"][case]
    fit = _fit(case)
    est, want = fit.fixef.to_numpy(), np.array(list(ref["fixef"].values()))
    se_ref = np.array(ref["tTable"]["columns"]["Std.Error"])
    ok = (np.abs(est - want) <= 1e-4 * np.abs(want)) | (np.abs(est - want) <= 0.01 * se_ref)
    assert ok.all(), (est, want)
    assert rel_error(fit.se.to_numpy(), se_ref) < 1e-3  # summary(fit)'s SEs (nlme's adjustSigma)
    assert rel_error(np.sqrt(np.diag(fit.vcov)), list(ref["se"].values())) < 1e-3  # vcov(fit)
    vc = fit.varcorr.as_frame()["sdcor"].to_numpy()
    assert rel_error(vc[0], ref["re_sd"]) < 1e-3
    assert rel_error(fit.sigma, ref["sigma"]) < 1e-3
    np.testing.assert_array_equal(fit.df.to_numpy(), ref["tTable"]["columns"]["DF"])
    assert rel_error(fit.coefficients["p-value"].to_numpy(), ref["tTable"]["columns"]["p-value"]) < 1e-3
    ranef = fit.ranef(condvar=False)[fit.design.terms[0].group].iloc[:, 0].to_numpy()
    assert np.max(np.abs(ranef - ref["ranef"])) < 1e-3 * np.max(np.abs(ref["ranef"]))
    eta_ref = np.asarray(ref["fitted_link"])
    assert np.max(np.abs(fit.linear_predictor - eta_ref)) < 1e-4 * np.max(np.abs(eta_ref))
    population = fit.predict(include_random=False).to_numpy()
    assert rel_error(population, ref["predict_response_population"]) < 1e-4
    assert fit.converged and np.isnan(fit.loglik)


def test_pql_refuses_what_it_cannot_fit() -> None:
    bac = dataset("bacteria")
    with pytest.raises(ArgumentError, match="niter"):
        mb.glmer(CASES["bacteria"][0], bac, family="binomial", method="pql", nAGQ=5)
    gam = pd.DataFrame({"y": np.linspace(1, 3, 20), "g": np.repeat(list("abcde"), 4)})
    with pytest.raises(NotSupportedError, match="binomial and Poisson"):
        mb.glmer("y ~ 1 + (1 | g)", gam, family="Gamma", method="pql")


def test_pql_warns_when_niter_runs_out() -> None:
    with pytest.warns(ConvergenceWarning, match="raise niter"):
        fit = mb.glmer(CASES["bacteria"][0], dataset("bacteria"), family="binomial", method="pql", niter=2)
    assert fit.iterations == 2 and not fit.converged
