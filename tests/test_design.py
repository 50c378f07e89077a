"""The design against lme4's lFormula/glFormula (tests/golden/design.json, R 4.2.2 + lme4 1.1-31) and the
reference cases (tests/golden/lme4_cases.json)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import dataset, golden, lme4_cases

import mixbayes as mb

DESIGN_CASES = [c for c in golden("design")["cases"] if c.get("reTrms")]
FAMILY = {"cbpp": "binomial", "grouseticks_s": "poisson", "grouseticks": "poisson"}


def _lme4_group_key(name: str) -> frozenset[str]:
    """lme4 names `a/b` as `b:a` and `a/b/c` as `c:(b:a)`; compare grouping factors by their components."""
    return frozenset(name.replace("(", "").replace(")", "").split(":"))


def _build(case: dict) -> mb.Model:
    data = dataset(case["data"])
    fam = "binomial" if case["formula"].startswith("cbind") else (
        "poisson" if case["data"].startswith("grouse") else "gaussian")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mb.MixbayesWarning)
        return mb.Model(case["formula"], data, family=fam)


@pytest.mark.parametrize("case", DESIGN_CASES, ids=[c["id"] for c in DESIGN_CASES])
def test_design_matches_lFormula(case: dict) -> None:
    design = _build(case).design
    re = case["reTrms"]
    assert design.n_theta == re["theta_length"]
    lower = [-np.inf if v is None else v for v in re["lower"]]
    np.testing.assert_array_equal(design.lower, lower)
    np.testing.assert_array_equal(design.theta0, re["theta_init"])
    assert design.Z.shape == (re["Zt_dim"][1], re["Zt_dim"][0])
    assert design.Z.nnz == re["Zt_nnz"]
    np.testing.assert_array_equal(design.Gp, re["Gp"])
    np.testing.assert_array_equal(design.Lind, re["Lind"])
    assert len(design.terms) == len(re["terms"])
    for ours, theirs in zip(design.terms, re["terms"], strict=True):
        assert frozenset(ours.group.split(":")) == _lme4_group_key(theirs["group"])
        assert ours.n_levels == theirs["nl"]
        assert list(ours.columns) == theirs["cnms"]
        comps = theirs["group"].replace("(", "").replace(")", "").split(":")
        if len(comps) == 1:
            assert list(ours.levels) == theirs["levels"]
        else:
            ours_lv = {frozenset(zip(ours.group.split(":"), lv.split(":"), strict=True)) for lv in ours.levels}
            theirs_lv = {frozenset(zip(comps, lv.split(":"), strict=True)) for lv in theirs["levels"]}
            assert ours_lv == theirs_lv
    assert list(design.fixef_names) == case["X"]["colnames"]
    assert design.X.shape == tuple(case["X"]["dim"])
    np.testing.assert_allclose(design.X[0], case["X"]["first_row"], rtol=1e-12)
    dropped = case["X"].get("col_dropped") or {}
    assert list(design.dropped_fixef) == list(dropped)


@pytest.mark.parametrize("case", lme4_cases(), ids=[c["id"] for c in lme4_cases()])
def test_design_matches_reference_cases(case: dict) -> None:
    data = dataset("grouseticks_s" if case["data"] == "grouseticks" else case["data"])
    fam = case.get("family", "gaussian")
    m = mb.Model(case["formula"], data, family=fam)
    d = m.design
    assert d.n_theta == np.atleast_1d(case["theta"]).size
    assert d.n_obs == case["nobs"]
    ngrps = {t.group: t.n_levels for t in d.terms}
    assert {frozenset(k.split(":")): v for k, v in ngrps.items()} == {
        _lme4_group_key(k): v for k, v in case["ngrps"].items()}
    # each variance-component row of VarCorr names an existing term and column
    for row in case["varcorr"]:
        if row["grp"] == "Residual":
            continue
        key = _lme4_group_key(row["grp"].split(".")[0])
        assert any(frozenset(t.group.split(":")) == key and row["var1"] in t.columns for t in d.terms)
    np.testing.assert_array_equal(d.lower, np.where(_diag_mask(d), 0.0, -np.inf))
    assert list(d.fixef_names) == list(case["fixef"])


def _diag_mask(design: mb.model.ModelMatrices) -> np.ndarray:
    out = []
    for t in design.terms:
        rows, cols = t.tril_index
        out.extend(rows == cols)
    return np.array(out)


def test_shapes_as_lme4() -> None:
    dye = mb.Model("Yield ~ 1 + (1 | Batch)", mb.load_dataset("Dyestuff")).design
    assert dye.Z.shape == (30, 6)
    pastes = mb.Model("strength ~ 1 + (1 | batch/cask)", mb.load_dataset("Pastes")).design
    assert [t.n_random for t in pastes.terms] == [30, 10]
    assert [t.group for t in pastes.terms] == ["batch:cask", "batch"]


def test_lambda_from_theta(sleepstudy: pd.DataFrame) -> None:
    d = mb.Model("Reaction ~ Days + (Days | Subject)", sleepstudy).design
    theta = np.array([0.9, 0.1, 0.3])
    lam = d.Lambda(theta).toarray()
    np.testing.assert_allclose(lam[:2, :2], [[0.9, 0.0], [0.1, 0.3]])
    assert lam.shape == (36, 36)
    np.testing.assert_allclose(lam[2:4, 2:4], lam[:2, :2])
    assert np.count_nonzero(lam) == 18 * 3
    np.testing.assert_array_equal(d.terms[0].lambda_index, [[0, -1], [1, 2]])


def test_zerocorr_terms_are_independent(sleepstudy: pd.DataFrame) -> None:
    d = mb.Model("Reaction ~ Days + (Days || Subject)", sleepstudy).design
    assert [t.expr for t in d.terms] == ["(1 | Subject)", "(0 + Days | Subject)"]
    assert all(t.split_from == "(Days || Subject)" for t in d.terms)
    assert [t.n_theta for t in d.terms] == [1, 1]


def test_lme4_reverses_ties_when_sorting() -> None:
    from mixbayes.design.terms import lme4_term_order

    assert lme4_term_order([5, 18, 18]) == [2, 1, 0]
    assert lme4_term_order([18, 18, 5]) == [0, 1, 2]
    assert lme4_term_order([30, 10]) == [0, 1]
    assert lme4_term_order([10, 30]) == [1, 0]


def test_numeric_grouping_column_is_a_factor() -> None:
    data = mb.load_dataset("sleepstudy")
    data["Subj"] = data["Subject"].astype(int)
    d = mb.Model("Reaction ~ Days + (1 | Subj)", data).design
    assert d.terms[0].n_levels == 18
    assert d.terms[0].levels[:2] == ("308", "309")


def test_categorical_reference_level_follows_R_order() -> None:
    d = mb.Model("y ~ service * dept + (1 | s)", mb.load_dataset("InstEval").head(3000)).design
    # InstEval's dept levels start with "15" in R, so "15" is the reference level
    assert "dept15" not in d.fixef_names
    assert d.fixef_names[:3] == ("(Intercept)", "service1", "dept5")


def test_binomial_responses_store_trials_and_successes() -> None:
    cbpp = mb.load_dataset("cbpp")
    d = mb.Model("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial").design
    np.testing.assert_array_equal(d.trials, cbpp["size"])
    np.testing.assert_array_equal(d.successes, cbpp["incidence"])
    np.testing.assert_allclose(d.y, cbpp["incidence"] / cbpp["size"])
    # proportions with weights
    cbpp["prop"] = cbpp["incidence"] / cbpp["size"]
    d2 = mb.Model("prop ~ period + (1 | herd)", cbpp, family="binomial", weights="size").design
    np.testing.assert_allclose(d2.successes, cbpp["incidence"])
    np.testing.assert_allclose(d2.weights, cbpp["size"])
    # a two-level categorical: the first level is failure, as in R
    binary = dataset("cbpp_binary")
    col = "y" if "y" in binary.columns else binary.columns[0]
    binary["outcome"] = pd.Categorical(np.where(binary[col] > 0, "sick", "healthy"),
                                       categories=["healthy", "sick"])
    d3 = mb.Model("outcome ~ period + (1 | herd)", binary, family="binomial").design
    np.testing.assert_array_equal(d3.y, (binary[col] > 0).astype(float))


def test_offsets_add_up() -> None:
    synth = dataset("synth")
    d = mb.Model("y ~ x + offset(log(z)) + (1 | g)", synth, offset=np.ones(len(synth))).design
    np.testing.assert_allclose(d.offset, np.log(synth["z"]) + 1.0)


def test_missing_rows_are_dropped_with_a_count(sleepstudy: pd.DataFrame) -> None:
    data = sleepstudy.copy()
    data.loc[[3, 50], "Reaction"] = np.nan
    data.loc[7, "Days"] = np.nan
    data["unused"] = np.nan
    with pytest.warns(mb.MissingDataWarning, match=r"dropped 3 of 180 rows .*Reaction: 2, Days: 1"):
        m = mb.Model("Reaction ~ Days + (Days | Subject)", data)
    assert m.design.n_obs == 177
    assert list(m.dropped_index) == [3, 7, 50]


def test_explain_reports_structure_and_mistakes() -> None:
    synth = dataset("synth")
    with pytest.warns(mb.DesignWarning) as record:
        m = mb.Model("y ~ x + (1 | site) + (1 | g)", synth)
    kinds = {str(w.message).split()[0] for w in record}
    assert "IDs" in kinds and "grouping" in kinds
    text = str(m.explain())
    assert "(1 | g)" in text and "levels" in text
    assert "recur across 'site'" in text and "(1 | site/g)" in text
    assert "only 4 levels" in text
    nested = mb.Model("strength ~ 1 + (1 | batch/cask)", mb.load_dataset("Pastes")).explain()
    assert any(r.kind == "nested" and r.first == "batch:cask" for r in nested.relations)
    crossed = mb.Model("diameter ~ 1 + (1 | plate) + (1 | sample)", mb.load_dataset("Penicillin")).explain()
    assert [r.kind for r in crossed.relations] == ["crossed"]
    assert not crossed.issues
    assert "<table" in crossed._repr_html_()


def test_non_varying_slope_is_flagged() -> None:
    data = mb.load_dataset("sleepstudy")
    data["age"] = data["Subject"].cat.codes.astype(float) * 2.0 + 20
    with pytest.warns(mb.DesignWarning, match="'age' does not vary within levels of 'Subject'"):
        mb.Model("Reaction ~ Days + age + (age | Subject)", data)


def test_design_is_frozen(sleepstudy: pd.DataFrame) -> None:
    d = mb.Model("Reaction ~ Days + (Days | Subject)", sleepstudy).design
    with pytest.raises(ValueError):
        d.X[0, 0] = 3.0
    with pytest.raises(AttributeError):
        d.y = np.zeros(3)  # type: ignore[misc]


def test_fixed_matrix_rebuilds_on_new_data() -> None:
    synth = dataset("synth")
    m = mb.Model("y ~ x * f + I(x^2) + scale(z) + (1 | g)", synth)
    new = synth.head(5).copy()
    np.testing.assert_allclose(m.design.fixed_matrix(new), m.design.X[:5])


def test_ordered_factors_use_polynomial_contrasts() -> None:
    """R codes ordered factors with contr.poly; values from R 4.2.2's contr.poly(4)."""
    inst = mb.load_dataset("InstEval").head(2000)
    d = mb.Model("y ~ studage + (1 | s)", inst).design
    assert d.fixef_names == ("(Intercept)", "studage.L", "studage.Q", "studage.C")
    r_contr_poly4 = np.array([[-0.6708204, 0.5, -0.2236068], [-0.2236068, -0.5, 0.6708204],
                              [0.2236068, -0.5, -0.6708204], [0.6708204, 0.5, 0.2236068]])
    codes = inst["studage"].cat.codes.to_numpy()
    for level in range(4):
        np.testing.assert_allclose(d.X[codes == level][0, 1:], r_contr_poly4[level], atol=1e-7)
