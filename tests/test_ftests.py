"""F tests against lmerTest 3.1-3 (tests/golden/lmm.json: ``lmerTest_anova`` and ``contest``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import dataset, fit_at_lme4_theta, fit_lmm_case, golden

import mixbayes as mb
from mixbayes.inference.type3 import doolittle, type3_hypotheses, zapsmall

CASES = [c for c in golden("lmm")["cases"] if c.get("lmerTest_anova") is not None]
METHODS = [("satterthwaite", "satterthwaite"), ("kenward_roger", "kenward-roger")]


@pytest.fixture(scope="module")
def fits() -> dict[str, tuple[mb.results.lmm.LmmFit, mb.results.lmm.LmmFit]]:
    """(fit at lme4's theta, our own fit) of every case (each warning as lme4 did: see conftest.lme4_conditions)."""
    return {c["id"]: (fit_at_lme4_theta(c), fit_lmm_case(c)) for c in CASES}


def _col(ref: dict, col: str) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in ref["columns"][col]], float)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
@pytest.mark.parametrize(("key", "ddf"), METHODS, ids=[m[0] for m in METHODS])
def test_type3_anova_matches_lmertest(case: dict, key: str, ddf: str, fits: dict) -> None:
    ref = case["lmerTest_anova"][key]
    at_lme4, own = fits[case["id"]]
    if "error" in ref:
        with pytest.raises(mb.NotSupportedError, match="only available for REML"):
            at_lme4.anova(ddf=ddf)
        return
    # the algorithm at lme4's theta (lme4 stops up to ~4e-5 short of the optimum in theta); our own fit to 1e-3
    for fit, tol in ((at_lme4, 1e-6), (own, 1e-3)):
        table = fit.anova(type=3, ddf=ddf)
        assert list(table.index) == ref["rownames"]
        assert list(table.columns) == ["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"]
        for col in table.columns:
            np.testing.assert_allclose(table[col].to_numpy(float), _col(ref, col), rtol=tol, equal_nan=True,
                                       err_msg=col)


CONTEST = [c for c in CASES if c.get("contest") is not None]


@pytest.mark.parametrize("case", CONTEST, ids=[c["id"] for c in CONTEST])
@pytest.mark.parametrize(("key", "ddf"), METHODS, ids=[m[0] for m in METHODS])
def test_contest_matches_lmertest(case: dict, key: str, ddf: str, fits: dict) -> None:
    ct = case["contest"]
    at_lme4, _ = fits[case["id"]]
    joint, rows = ct[f"joint_{key}"], ct[f"rows_{key}"]
    if "error" in joint:
        with pytest.raises(mb.NotSupportedError):
            at_lme4.contest(ct["L"], ddf=ddf)
        return
    # Satterthwaite's df come from numerical derivatives (numDeriv's Richardson extrapolation in lmerTest), which
    # agree with ours to ~1e-6; p-values of 1e-16 magnify that to a few 1e-6, so the df-dependent columns get 1e-4
    df_tol = 1e-4 if key == "satterthwaite" else 1e-6
    df_cols = {"DenDF", "df", "lower", "upper", "Pr(>F)", "Pr(>|t|)"}
    table = at_lme4.contest(ct["L"], ddf=ddf)
    assert list(table.index) == joint["rownames"]
    for col in table.columns:
        np.testing.assert_allclose(table[col], _col(joint, col), rtol=df_tol if col in df_cols else 1e-6,
                                   err_msg=col)
    per_row = at_lme4.contest(ct["L"], ddf=ddf, joint=False, confint=True)
    assert list(per_row.index) == rows["rownames"]
    assert list(per_row.columns) == list(rows["columns"])
    for col in per_row.columns:
        np.testing.assert_allclose(per_row[col], _col(rows, col), rtol=df_tol if col in df_cols else 1e-6,
                                   err_msg=col)


def test_multi_df_satterthwaite_sums_one_df_pieces() -> None:
    """lmerTest's contestMD: F is the mean of the squared t statistics of the eigen-rotated contrasts."""
    fit = mb.lmer("y ~ x * f + (x | g)", dataset("synth"))
    L = np.array([[0, 1, 0, 0], [0, 0, 1, 1.0]])
    C = fit.vcov.to_numpy()
    d, P = np.linalg.eigh(L @ C @ L.T)
    t2 = (P.T @ L @ fit.beta) ** 2 / d
    row = fit.contest(L).iloc[0]
    assert row["F value"] == pytest.approx(t2.mean(), rel=1e-10)
    assert row["NumDF"] == 2
    pieces = fit.contest(P.T @ L, joint=False)
    nu = pieces["df"].to_numpy()
    E = np.sum(nu / (nu - 2))
    assert row["DenDF"] == pytest.approx(2 * E / (E - 2), rel=1e-6)


def test_type3_hypotheses_average_over_the_other_factor() -> None:
    """With treatment contrasts the type III hypothesis of a main effect averages its simple effects over the
    levels of the factors it interacts with (lmerTest's construction)."""
    design = mb.Model("y ~ f * h + (1 | g)", dataset("synth")).design
    hyps = type3_hypotheses(design)
    assert list(hyps) == ["f", "h", "f:h"]
    np.testing.assert_allclose(hyps["f"], [[0, 1, 0, 0, 1 / 3, 1 / 3]], atol=1e-6)
    np.testing.assert_allclose(hyps["h"], [[0, 0, 1, 0, 0.5, 0], [0, 0, 0, 1, 0, 0.5]], atol=1e-6)
    np.testing.assert_allclose(hyps["f:h"], [[0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1]], atol=1e-6)


def test_aliased_term_gets_an_na_row() -> None:
    with pytest.warns(mb.RankDeficiencyWarning, match=r"rank deficient so dropping 1 column / coefficient \(x2\)"):
        fit = mb.lmer("y ~ x + x2 + (1 | g)", dataset("synth"))
    table = fit.anova()
    assert list(table.index) == ["x", "x2"]
    assert table.loc["x2"].isna().all() and table.loc["x"].notna().all()


def test_type1_and_intercept_only() -> None:
    fit = mb.lmer("y ~ x * f + (x | g)", dataset("synth"))
    t1 = fit.anova(type=1)
    assert list(t1.index) == ["x", "f", "x:f"]
    # the last sequential term is tested exactly as in type III
    t3 = fit.anova(type=3)
    np.testing.assert_allclose(t1.loc["x:f"].to_numpy(float), t3.loc["x:f"].to_numpy(float), rtol=1e-8)
    dye = mb.lmer("Yield ~ 1 + (1 | Batch)", mb.load_dataset("Dyestuff"))
    assert dye.anova().empty
    with pytest.raises(mb.NotSupportedError, match="type"):
        fit.anova(type=2)


def test_contrast_input_forms_and_errors() -> None:
    fit = mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    by_name = fit.contest(pd.DataFrame({"Days": [1.0]}, index=["slope"]), joint=False)
    assert list(by_name.index) == ["slope"]
    np.testing.assert_allclose(by_name["t value"], fit.contest([0, 1], joint=False)["t value"])
    np.testing.assert_allclose(fit.contest({"Days": 1.0})["F value"], fit.contest([[0, 1]])["F value"])
    # rhs: H0 Days = 10
    t = fit.contest([0, 1], rhs=10.0, joint=False)["t value"].iloc[0]
    assert t == pytest.approx((fit.fixef["Days"] - 10) / fit.se["Days"])
    with pytest.raises(mb.ContrastError, match="3 columns; the model has 2"):
        fit.contest([[0, 1, 0]])
    with pytest.raises(mb.ContrastError, match="not fixed effects"):
        fit.contest({"days": 1.0})
    with pytest.raises(mb.ContrastError, match="missing or infinite"):
        fit.contest([[0, np.nan]])
    with pytest.raises(mb.NotSupportedError, match="unknown ddf"):
        fit.contest([0, 1], ddf="containment")


def test_helpers_follow_r() -> None:
    np.testing.assert_array_equal(zapsmall(np.array([1.0, 1e-9, 0.123456789])), [1.0, 0.0, 0.1234568])
    x = np.array([[4.0, 2, 2], [2, 3, 1], [2, 1, 5]])
    L, U = doolittle(x)
    np.testing.assert_allclose(L @ U, x)
    assert np.allclose(np.triu(L, 1), 0) and np.allclose(np.diag(L), 1) and np.allclose(np.tril(U, -1), 0)
