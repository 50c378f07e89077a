"""Fuzzing the likelihood fits with small, awkward data frames: every outcome is a fit or a MixbayesError, and every
warning a MixbayesWarning.

The frames have 1 to 14 rows and columns holding NaN, inf, None, stray strings, constants, single rows, one or a
few groups, and all-missing columns.  Hypothesis is derandomized (the same examples on every run) and bounded, so
the file runs in seconds.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mixbayes as mb

FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_ODD = st.sampled_from([np.nan, np.inf, -np.inf, None, "a", "n/a", "", 0.0, 1.0, -1.0, 1e300, 2.5])


def _column(kind: str, n: int) -> st.SearchStrategy[list[Any]]:
    """Values of one column: numbers with a few odd ones, constants, counts, 0/1, all missing, or text."""
    if kind == "number":
        return st.lists(st.one_of(st.floats(-5, 5, allow_nan=False), _ODD), min_size=n, max_size=n)
    if kind == "clean":
        return st.lists(st.floats(-5, 5, allow_nan=False), min_size=n, max_size=n)
    if kind == "constant":
        return st.sampled_from([0.0, 1.0, 3.0]).map(lambda v: [v] * n)
    if kind == "count":
        return st.lists(st.one_of(st.integers(0, 6), _ODD), min_size=n, max_size=n)
    if kind == "binary":
        return st.lists(st.one_of(st.integers(0, 1), _ODD), min_size=n, max_size=n)
    if kind == "missing":
        return st.just([np.nan] * n)
    return st.lists(st.sampled_from(["a", "b", "c", "1", "2"]), min_size=n, max_size=n)


@st.composite
def frames(draw: st.DrawFn, response: str) -> pd.DataFrame:
    """A small frame with columns y (the response), x and g (the grouping factor)."""
    n = draw(st.integers(1, 14))
    y_kind = draw(st.sampled_from([response, response, "number", "constant", "missing", "text"]))
    x_kind = draw(st.sampled_from(["clean", "number", "constant", "missing", "text"]))
    y = draw(_column(y_kind, n))
    x = draw(_column(x_kind, n))
    n_groups = draw(st.integers(1, 4))
    g = draw(st.lists(st.one_of(st.integers(0, n_groups - 1), st.sampled_from([None, "z"])), min_size=n, max_size=n))
    h = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    w = draw(st.lists(st.one_of(st.sampled_from([0.0, 1.0, 2.0, 0.5]), _ODD), min_size=n, max_size=n))
    return pd.DataFrame({"y": pd.Series(y, dtype=object if y_kind in ("number", "count", "binary", "text") else None),
                         "x": pd.Series(x, dtype=object if x_kind in ("number", "text") else None),
                         "g": pd.Series(g, dtype=object), "h": h, "w": pd.Series(w, dtype=object)})


FORMULAS = st.sampled_from(["y ~ x + (1 | g)", "y ~ x + (1 | g)", "y ~ x + (x | g)", "y ~ 1 + (1 | g)",
                            "y ~ x + (1 | g) + (1 | h)", "y ~ x + (1 | g:h)", "y ~ x * h + (1 | g)"])
WEIGHTS = st.sampled_from([None, None, None, "w"])


def _fit_or_typed_error(fit: Any) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fit()
        except mb.MixbayesError:
            result = None
        if result is not None:  # the fit's tables can be built too
            assert "Random effects" in str(result.summary())
            assert len(result.ranef()) == len(result.design.terms)
    foreign = [f"{w.category.__name__}: {w.message}" for w in caught if not issubclass(w.category, mb.MixbayesWarning)]
    assert not foreign, foreign


@FUZZ
@given(frames("clean"), FORMULAS, WEIGHTS)
def test_lmer_fit_or_typed_error(data: pd.DataFrame, formula: str, weights: str | None) -> None:
    _fit_or_typed_error(lambda: mb.lmer(formula, data, weights=weights))


@FUZZ
@given(frames("binary"), FORMULAS, WEIGHTS)
def test_glmer_binomial_fit_or_typed_error(data: pd.DataFrame, formula: str, weights: str | None) -> None:
    _fit_or_typed_error(lambda: mb.glmer(formula, data, family="binomial", weights=weights))


@FUZZ
@given(frames("count"), FORMULAS, WEIGHTS)
def test_glmer_poisson_fit_or_typed_error(data: pd.DataFrame, formula: str, weights: str | None) -> None:
    _fit_or_typed_error(lambda: mb.glmer(formula, data, family="poisson", weights=weights))


@pytest.mark.parametrize("family", ["gaussian", "binomial", "poisson"])
def test_known_awkward_frames(family: str) -> None:
    """Shapes the fuzzing found once, kept as fixed examples."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 12).astype(float)
    for data in (
        pd.DataFrame({"y": y, "x": 1.0, "g": [0, 1] * 6}),                       # a constant predictor
        pd.DataFrame({"y": y, "x": rng.normal(size=12), "g": [0] * 11 + [1]}),   # a one-row group
        pd.DataFrame({"y": y[:3], "x": [1.0, 2.0, 3.0], "g": [0, 1, 2]}),        # one row per group
    ):
        _fit_or_typed_error(lambda data=data: mb.glmer("y ~ x + (1 | g)", data, family=family)
                            if family != "gaussian" else mb.lmer("y ~ x + (1 | g)", data))
