"""Teaching views: the naive regression against the mixed model, the ICC in words, the convergence walkthrough."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import dataset, lme4_case

import mixbayes as mb


def test_naive_against_mixed(sleep_reml) -> None:
    nvm = mb.naive_vs_mixed(sleep_reml)
    data = mb.load_dataset("sleepstudy")
    X = np.column_stack([np.ones(len(data)), data["Days"]])
    coef, *_ = np.linalg.lstsq(X, data["Reaction"], rcond=None)
    resid = data["Reaction"] - X @ coef
    se = np.sqrt(resid @ resid / (len(data) - 2) * np.diag(np.linalg.inv(X.T @ X)))
    np.testing.assert_allclose(nvm.table["naive_estimate"], coef, rtol=1e-10)
    np.testing.assert_allclose(nvm.table["naive_se"], se, rtol=1e-10)
    np.testing.assert_allclose(nvm.table.loc["Days", "naive_se"], 1.238, atol=5e-4)  # R prints 1.238 (summary(lm(...)))
    np.testing.assert_allclose(nvm.table["mixed_se"], sleep_reml.se)
    assert nvm.table.loc["Days", "se_ratio"] > 1.2
    groups = sleep_reml.icc().groups
    np.testing.assert_allclose(nvm.groups["design_effect"], groups["design_effect"])
    np.testing.assert_allclose(nvm.groups.loc["Subject", "n_eff"], 180 / groups.loc["Subject", "design_effect"])
    text = nvm.explain()
    assert "too small by a factor 1.25" in text
    assert f"design effect of 1 + (10.00 - 1) x {groups.loc['Subject', 'icc']:.3f}" in text
    assert "<table" in nvm.to_html()


def test_explain_icc() -> None:
    fit = mb.lmer("Yield ~ 1 + (1 | Batch)", dataset("Dyestuff"))
    icc = fit.icc()
    text = mb.explain_icc(fit)
    assert f"adjusted ICC is {icc.var_random:.4g} / ({icc.var_random:.4g} + {icc.var_residual:.4g})" in text
    assert f"= {icc.adjusted:.3f}" in text
    assert "correlation between two observations from the same group" in text
    sd = {r["grp"]: r["sdcor"] for r in lme4_case("dyestuff_reml")["varcorr"]}  # lme4's SDs
    np.testing.assert_allclose(icc.adjusted, sd["Batch"] ** 2 / (sd["Batch"] ** 2 + sd["Residual"] ** 2), rtol=1e-4)
    slopes = mb.explain_icc(mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy")))
    assert "With random slopes" in slopes
    glmm = mb.explain_icc(mb.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                                   mb.load_dataset("cbpp")))
    assert "latent (logit) scale" in glmm


def _age_model() -> mb.Model:
    """Age in days, constant within each subject, with a random slope of age: badly scaled and not identifiable."""
    data = mb.load_dataset("sleepstudy")
    rng = np.random.default_rng(1)
    subjects = data["Subject"].cat.categories
    ages = dict(zip(subjects, rng.uniform(20, 60, len(subjects)).round(), strict=True))
    data["age"] = data["Subject"].map(ages).astype(float) * 365.25
    with pytest.warns(mb.DesignWarning, match="'age' does not vary within levels of 'Subject'"):
        return mb.Model("Reaction ~ Days + age + (1 + age | Subject)", data)


def test_walkthrough_subject_level_covariate() -> None:
    walk = mb.convergence_walkthrough(_age_model())
    kinds = {k for k, _, _ in walk.initial_problems}
    assert {"scale", "singular", "design"} <= kinds
    steps = {s.remedy: s for s in walk.steps}
    assert list(steps) == ["rescale predictors", "drop the smallest-variance slope", "uncorrelated random effects (||)",
                           "switch optimizer", "raise the evaluation limit"]
    rescale = steps["rescale predictors"]
    assert rescale.tried and not rescale.resolved and "age -> (age - " in rescale.action
    assert "non-varying slope" in rescale.problems and "scale" not in rescale.problems
    drop = steps["drop the smallest-variance slope"]
    assert drop.tried and drop.resolved and drop.formula == "Reaction ~ Days + age + (1 | Subject)"
    assert "does not vary within Subject" in drop.action
    assert walk.resolved_by == "drop the smallest-variance slope"
    assert not any(s.tried for s in walk.steps[2:])
    assert walk.final_fit.formula == drop.formula and walk.final_fit.convergence.ok
    text = str(walk)
    assert "Resolved by: drop the smallest-variance slope" in text
    assert walk.table["tried"].tolist() == [True, True, False, False, False]
    assert "<tr class=\"resolved\">" in walk.to_html()


def test_walkthrough_rescaling_resolves() -> None:
    data = mb.load_dataset("sleepstudy")
    data["seconds"] = data["Days"] * 86400.0
    model = mb.Model("Reaction ~ seconds + (seconds | Subject)", data)
    walk = mb.convergence_walkthrough(model)
    assert "scale" in {k for k, _, _ in walk.initial_problems}
    assert walk.resolved_by == "rescale predictors"
    assert walk.steps[0].resolved and walk.steps[0].formula == model.formula.text
    assert [s.tried for s in walk.steps] == [True, False, False, False, False]


def test_walkthrough_tries_the_optimizers_when_nothing_else_applies() -> None:
    model = mb.Model("Yield ~ 1 + (1 | Batch)", dataset("Dyestuff2"))
    walk = mb.convergence_walkthrough(model)
    assert [k for k, _, _ in walk.initial_problems] == ["singular"]
    tried = [s.remedy for s in walk.steps if s.tried]
    assert tried == ["switch optimizer"]
    opt = walk.steps[3]
    assert "mb.allfit" in opt.action and opt.problems == ["singular"] and not opt.resolved
    assert walk.resolved_by is None and "No remedy resolved" in str(walk)


def test_walkthrough_of_a_clean_fit(sleep_model) -> None:
    walk = mb.convergence_walkthrough(sleep_model)
    assert walk.initial_problems == [] and walk.steps == [] and walk.resolved_by is None
    assert "nothing to do" in str(walk)


def test_walkthrough_of_an_unfittable_model() -> None:
    data = mb.load_dataset("sleepstudy").head(3)
    with pytest.raises(mb.TooFewLevelsError, match=r"'Subject' of \(1 \| Subject\) has 1 level in the data used"):
        mb.convergence_walkthrough(mb.Model("Reaction ~ Days + (1 | Subject)", data))
