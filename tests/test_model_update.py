"""Model.update and Model.with_response, the one public way to derive a model, and the two defects that the
private-attribute cloning they replace caused (issue 11):

* profiling or anova of a refitted linear mixed model used the original response;
* a refitted GLMM's model shared the original model's compiled Bayesian artefacts.

Every check compares a refit with a fresh fit of the same data with the new response put in the data frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixbayes as mb
from mixbayes.exceptions import ArgumentError

FORMULA = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return mb.load_dataset("sleepstudy")


@pytest.fixture(scope="module")
def new_y(sleep: pd.DataFrame) -> np.ndarray:
    # a response far from the original one (twice the scale, another seed), so that mixing them up shows
    fit = mb.lmer(FORMULA, sleep)
    return 2.0 * fit.simulate(random_seed=11)["sim_1"].to_numpy()


def test_update_replaces_the_parts_it_is_given(sleep: pd.DataFrame) -> None:
    m = mb.Model(FORMULA, sleep, weights=np.ones(len(sleep)))
    u = m.update(formula="Reaction ~ Days + (1 | Subject)")
    assert u is not m and u.design.n_theta == 1 and m.design.n_theta == 3
    assert u.weights is m.weights and u.family == m.family
    assert m.update(weights=None).weights is None
    half = sleep.iloc[::2]
    assert m.update(data=half, weights=None).design.n_obs == len(half)
    cbpp = mb.load_dataset("cbpp")
    g = mb.Model("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
    assert g.update(link="probit").family.link.name == "probit"
    assert g.update(link="probit").family.name == g.family.name


def test_with_response_is_a_new_model_with_only_the_response_changed(sleep: pd.DataFrame, new_y: np.ndarray) -> None:
    m = mb.Model(FORMULA, sleep)
    d = m.with_response(new_y)
    np.testing.assert_array_equal(d.design.y, new_y)
    np.testing.assert_array_equal(m.design.y, sleep["Reaction"].to_numpy())
    assert d.design.X is m.design.X and d.design.terms is m.design.terms
    np.testing.assert_array_equal(d.replaced_response, new_y)
    assert m.replaced_response is None
    with pytest.raises(ArgumentError, match="180 observations"):
        m.with_response(new_y[:5])
    # update keeps a replaced response
    np.testing.assert_array_equal(d.update(formula="Reaction ~ Days + (1 | Subject)").design.y, new_y)


def test_refitted_lmm_profiles_and_compares_its_own_response(sleep: pd.DataFrame, new_y: np.ndarray) -> None:
    fit = mb.lmer(FORMULA, sleep)
    small = mb.lmer("Reaction ~ Days + (1 | Subject)", sleep)
    refit, refit_small = fit.refit(new_y), small.refit(new_y)
    data = sleep.assign(Reaction=new_y)
    fresh, fresh_small = mb.lmer(FORMULA, data), mb.lmer("Reaction ~ Days + (1 | Subject)", data)
    np.testing.assert_allclose(refit.theta, fresh.theta, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(refit.deviance, fresh.deviance, rtol=1e-8)
    # anova of two refits: refits them by ML (the defect: from the original response)
    a, b = mb.anova(refit_small, refit).table, mb.anova(fresh_small, fresh).table
    np.testing.assert_allclose(a["logLik"].to_numpy(float), b["logLik"].to_numpy(float), rtol=1e-6)
    np.testing.assert_allclose(a["Chisq"].to_numpy(float)[1:], b["Chisq"].to_numpy(float)[1:], rtol=1e-4)
    # the profile of a REML refit goes through its ML refit (the defect: of the original response)
    p, q = refit.profile(which=["sigma"]), fresh.profile(which=["sigma"])
    np.testing.assert_allclose(p.confint().to_numpy(float), q.confint().to_numpy(float), rtol=1e-4)
    # the model's default priors are scaled to the refit's response, not the original's
    assert refit.model.priors.key() == mb.Model(FORMULA, data).priors.key()
    assert refit.model.priors.key() != fit.model.priors.key()


def test_refitted_glmm_model_has_its_own_bayesian_cache() -> None:
    cbpp = mb.load_dataset("cbpp")
    fit = mb.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
    _ = fit.model.priors  # fills the original model's Bayesian cache
    assert fit.model.bayes_cache
    y = fit.simulate(random_seed=3)["sim_1"].to_numpy()
    refit = fit.refit(y)
    assert refit.model is not fit.model
    assert refit.model.bayes_cache is not fit.model.bayes_cache and not refit.model.bayes_cache
    np.testing.assert_array_equal(refit.model.design.y, y)
    np.testing.assert_array_equal(fit.model.design.y, fit.design.y)  # the original is untouched
    trials = cbpp["size"].to_numpy(float)
    fresh = mb.glmer("cbind(s, size - s) ~ period + (1 | herd)", cbpp.assign(s=np.round(y * trials)),
                     family="binomial")
    np.testing.assert_allclose(refit.beta, fresh.beta, rtol=1e-5, atol=1e-6)
