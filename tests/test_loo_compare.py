"""mb.loo_compare and the Bayesian side of predictions, emmeans and tidy (issue 14).  Sampling: marked slow."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixbayes as mb

pytestmark = pytest.mark.slow
FORMULA = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def fits() -> dict:
    m = mb.Model(FORMULA, mb.load_dataset("sleepstudy"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        marg = m.fit("bayes", draws=500, tune=500, chains=2, random_seed=11, progressbar=False)
        full = m.fit("bayes", draws=500, tune=500, chains=2, random_seed=12, marginalize=False, progressbar=False)
    return {"marginal": marg, "full": full, "lik": m.fit()}


def test_same_model_same_units_whatever_the_parameterisation(fits: dict) -> None:
    marg, full = fits["marginal"], fits["full"]
    assert marg.log_likelihood_unit == full.log_likelihood_unit == "observation"
    assert marg.pointwise_loglik().shape[-1] == full.pointwise_loglik().shape[-1] == 180
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = mb.loo_compare({"marginal": marg, "full": full})
    assert set(table["unit"]) == {"observation"} and set(table["n_units"]) == {180}
    # the same model: the elpd difference is Monte Carlo noise
    diff = abs(table["elpd_diff"].min())
    assert diff < 4 * max(table["dse"].max(), 0.5)


def test_group_units_on_request_and_refusal(fits: dict) -> None:
    marg, full = fits["marginal"], fits["full"]
    assert marg.pointwise_loglik("group").shape[-1] == 18
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = mb.loo_compare({"a": marg, "b": marg}, unit="group")
    assert set(table["unit"]) == {"group (Subject)"} and set(table["n_units"]) == {18}
    with pytest.raises(mb.LooUnitError, match="integrated out"):
        mb.loo_compare({"marginal": marg, "full": full}, unit="group")
    ss = mb.load_dataset("sleepstudy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fewer = mb.Model(FORMULA, ss[ss["Days"] < 9]).fit("bayes", draws=100, tune=100, chains=1, random_seed=1,
                                                         progressbar=False)
    with pytest.raises(mb.LooUnitError, match="differ"):
        mb.loo_compare({"all": marg, "fewer": fewer})
    with pytest.raises(mb.NotSupportedError, match="Bayesian"):
        mb.loo_compare({"a": marg, "lik": fits["lik"]})


def test_posterior_intervals_emmeans_and_tidy_agree_with_the_likelihood_fit(fits: dict) -> None:
    marg, lik = fits["marginal"], fits["lik"]
    nd = pd.DataFrame({"Days": [0.0, 9.0]})
    post = marg.predict_intervals(nd)
    delta = lik.predict_intervals(nd)
    # flat-ish priors and 180 observations: posterior mean within 1 SE of the estimate, SDs within 30%
    assert np.all(np.abs(post["estimate"] - delta["estimate"]) < delta["std_error"])
    np.testing.assert_allclose(post["std_error"], delta["std_error"], rtol=0.3)
    pred = marg.predict_intervals(nd, interval="prediction", random_seed=1)
    lik_pred = lik.predict_intervals(nd, interval="prediction")
    np.testing.assert_allclose(pred["std_error"], lik_pred["std_error"], rtol=0.3)
    emm = mb.emmeans(marg, "Days", at={"Days": [0.0, 9.0]})
    np.testing.assert_allclose(emm.table["SE"], post["std_error"], rtol=1e-10)
    t = marg.tidy()
    assert list(t.columns) == list(lik.tidy().columns) and list(t["term"]) == list(lik.tidy()["term"])
