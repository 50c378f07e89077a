"""Issue 12's formula gaps against R (tests/golden/formula_gaps.json, from tools/golden/formula_gaps.R):
splines::ns bases, R's column names for poly()/ns()/calls, a bare ``y ~ 1|g`` and a logical response."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixbayes as mb
from mixbayes.design.bases import ns_basis, ns_state

GOLDEN = json.loads((Path(__file__).parent / "golden" / "formula_gaps.json").read_text())
SYNTH = pd.read_csv(Path(__file__).parent / "golden" / "data" / "synth.csv")
NS_ARGS = {"df1": {"df": 1}, "df2": {"df": 2}, "df3": {"df": 3}, "df5": {"df": 5}, "knots": {"knots": [0.2, 0.6]},
           "knots_boundary": {"knots": 0.5, "boundary_knots": [-0.5, 2]}, "intercept": {"df": 3, "intercept": True}}
FITS = {f["id"]: f for f in GOLDEN["fits"]}


@pytest.mark.parametrize("case", GOLDEN["ns"], ids=[c["id"] for c in GOLDEN["ns"]])
def test_ns_basis_equals_splines_ns(case: dict) -> None:
    x = SYNTH["x"].to_numpy()
    state = ns_state(x, **NS_ARGS[case["id"]])
    np.testing.assert_allclose(state["knots"], case["knots"], atol=1e-12)
    np.testing.assert_allclose(ns_basis(x, state), np.array(case["basis"]), atol=1e-12)
    np.testing.assert_allclose(ns_basis(np.array(case["new_x"]), state), np.array(case["predict"]), atol=1e-12)


NAMED = [c for c in GOLDEN["names"] if "I(z > 1)" not in c["formula"] and "I(x > 0.5" not in c["formula"]
         and "I(!(" not in c["formula"]]


@pytest.mark.parametrize("case", NAMED, ids=[c["formula"] for c in NAMED])
def test_column_names_and_values_match_model_matrix(case: dict) -> None:
    design = mb.Model(case["formula"] + " + (1 | g)", SYNTH).design
    assert list(design.fixef_names) == case["colnames"]
    if case.get("poly_values"):
        np.testing.assert_allclose(design.X[:5], np.array(case["poly_values"]), atol=1e-12)


def test_bare_bar_fits_as_lme4() -> None:
    ref = FITS["bare_bar"]
    fit = mb.lmer("Yield ~ 1|Batch", mb.load_dataset("Dyestuff"))
    assert fit.model.expand() == "Yield ~ (1 | Batch)"
    np.testing.assert_allclose(fit.fixef.to_numpy(), list(ref["fixef"].values()), rtol=1e-6)
    np.testing.assert_allclose(fit.theta, ref["theta"], rtol=1e-4)


def test_logical_response_is_zero_one() -> None:
    ref = FITS["logical_response"]
    sleep = mb.load_dataset("sleepstudy")
    model = mb.Model("Reaction > 250 ~ Days + (1|Subject)", sleep, family="binomial")
    np.testing.assert_array_equal(model.design.y[:12], ref["y"])
    fit = model.fit()
    assert fit.model.design.response_name == "Reaction > 250"
    assert list(fit.fixef.index) == list(ref["fixef"])
    assert abs(fit.loglik - ref["loglik"]) < 1e-5


@pytest.mark.parametrize("case", ["ns_lmer", "poly_raw_lmer"])
def test_spline_and_raw_poly_fits_match_lmer(case: str) -> None:
    ref = FITS[case]
    formula = ref["call"].split("(", 1)[1].rsplit(", synth)", 1)[0]
    fit = mb.lmer(formula, SYNTH)
    assert list(fit.fixef.index) == list(ref["fixef"])
    np.testing.assert_allclose(fit.fixef.to_numpy(), list(ref["fixef"].values()), rtol=1e-5)


def test_spline_basis_is_reused_for_new_data() -> None:
    fit = mb.lmer("y ~ ns(x, df = 3) + (1 | g)", SYNTH)
    new = SYNTH.head(7).assign(x=[-1.0, 0.0, 0.3, 0.9, 1.5, 3.0, 10.0])
    state = ns_state(SYNTH["x"].to_numpy(), df=3)
    X = fit.model.design.fixed_matrix(new)
    np.testing.assert_allclose(X[:, 1:4], ns_basis(new["x"].to_numpy(), state), atol=1e-12)
    assert np.isfinite(fit.predict(new)).all()


@pytest.mark.parametrize(("term", "words"), [
    ("ns(x, df = 1e9)", "needs more than"),
    ("poly(x, 1e9)", "must be less than the number of unique points"),
    ("ns(x, df = 0)", "too small"),
    ("poly(x, 0)", "at least 1"),
])
def test_absurd_basis_sizes_are_typed_errors(term: str, words: str) -> None:
    with pytest.raises(mb.DesignError, match=words):
        mb.Model(f"y ~ {term} + (1 | g)", SYNTH)
