"""Shared test helpers: golden values (copied from R; see tests/golden/README.md) and their data sets."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixbayes as mb

GOLDEN = Path(__file__).parent / "golden"


@cache
def golden(name: str) -> dict | list:
    """A golden-value file from tests/golden (``lme4_cases``, ``lmm``, ``glmm``, ``design``, ...)."""
    return json.loads((GOLDEN / f"{name}.json").read_text())


def lme4_cases(kind: str | None = None) -> list[dict]:
    """Cases of ../shared/reference/lme4/cases.json (R 4.2.2, lme4 1.1-31), copied to tests/golden."""
    cases = golden("lme4_cases")
    return [c for c in cases if kind is None or c["kind"] == kind]


def lme4_case(case_id: str) -> dict:
    """The case of tests/golden/lme4_cases.json with this id."""
    return next(c for c in lme4_cases() if c["id"] == case_id)


def golden_case(case_id: str) -> dict:
    """The case of tests/golden/lmm.json or glmm.json with this id."""
    return next(c for name in ("lmm", "glmm") for c in golden(name)["cases"] if c["id"] == case_id)


def rel_error(a: object, b: object) -> float:
    """The largest relative error of ``a`` against the reference ``b`` (elementwise; 0 where both are 0)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


_FILES = {"synth_bin": "synth_crossed_binary"}


@cache
def _synth(name: str) -> pd.DataFrame:
    frame = pd.read_csv(GOLDEN / "data" / f"{_FILES.get(name, name)}.csv")
    levels = dict(golden("design")["synth_factors"]) if name == "synth" else golden("glmm")["data_factors"][name]
    for col, lv in levels.items():
        if col in frame.columns:
            frame[col] = pd.Categorical(frame[col].astype(str), categories=lv)
    return frame


def dataset(name: str) -> pd.DataFrame:
    """A data set as the R scripts prepared it (see the ``data_prep`` notes of the golden files)."""
    if name in ("synth", "cbpp_binary", "synth_pois", "synth_bin"):
        return _synth(name).copy()
    if name == "grouseticks_s":
        frame = mb.load_dataset("grouseticks")
        h = frame["HEIGHT"]
        frame["HEIGHT"] = (h - h.mean()) / h.std()
        return frame
    return mb.load_dataset(name)


@pytest.fixture
def sleepstudy() -> pd.DataFrame:
    return mb.load_dataset("sleepstudy")


def lmm_case_data(name: str) -> tuple[pd.DataFrame, str | None]:
    """Data and weights column of a tests/golden/lmm.json case (see its ``data_prep`` notes)."""
    if name == "sleepstudy_w":
        d = mb.load_dataset("sleepstudy")
        d["w"] = 1 + d["Days"] % 3
        return d, "w"
    if name == "sleepstudy_unbal":
        d = mb.load_dataset("sleepstudy")
        first5 = d["Subject"].cat.categories[:5]
        return d[~((d["Days"] > 6) & d["Subject"].isin(first5))], None
    if name == "sleepstudy_big":
        d = mb.load_dataset("sleepstudy")
        d["Days_big"] = d["Days"] * 1e6
        return d, None
    return dataset(name), None


def values(x: object) -> np.ndarray:
    """Golden values (a named dict, a list or a scalar) as a float array."""
    if isinstance(x, dict):
        x = list(x.values())
    return np.atleast_1d(np.asarray(x, dtype=float))


# lme4's conditions (``fit_conditions`` of tests/golden/lmm.json and glmm.json: its warnings and messages), each with
# the mixbayes warning that reports it and whether that is issued when the model is built (before any fit)
LME4_CONDITIONS = (
    ("boundary (singular) fit", mb.SingularFitWarning, False),
    ("fixed-effect model matrix is rank deficient", mb.RankDeficiencyWarning, True),
    ("Model failed to converge", mb.ConvergenceWarning, False),
)


@contextmanager
def lme4_conditions(case_id: str, design_only: bool = False) -> Iterator[None]:
    """Check that the mixbayes warnings issued within are those that lme4's conditions for the golden case call for:
    one warning class per condition, with a message that starts as lme4's, and no other mixbayes warning.  With
    ``design_only`` the block only builds the model, so only the conditions of the design count.  Other warnings
    are passed on."""
    conditions = golden_case(case_id)["fit_conditions"]
    assert conditions["error"] is None, conditions
    expected: dict[type[Warning], str] = {}
    for text in conditions["warnings"] + conditions["messages"]:
        known = [(prefix, cls, design) for prefix, cls, design in LME4_CONDITIONS if text.startswith(prefix)]
        assert len(known) == 1, f"{case_id}: no mixbayes warning is known for lme4's condition {text!r}"
        prefix, cls, design = known[0]
        if design or not design_only:
            expected[cls] = prefix
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", mb.MixbayesWarning)
        yield
    ours = [w for w in caught if issubclass(w.category, mb.MixbayesWarning)]
    for w in caught:
        if not issubclass(w.category, mb.MixbayesWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    said = [f"{w.category.__name__}: {w.message}" for w in ours]
    assert {w.category for w in ours} == set(expected), (case_id, conditions, said)
    for cls, prefix in expected.items():
        assert any(str(w.message).startswith(prefix) for w in ours if w.category is cls), (case_id, prefix, said)


def lmm_case_model(case: dict) -> mb.Model:
    """The model of a golden LMM case (tests/golden/lmm.json or lme4_cases.json) on its data."""
    data, weights = lmm_case_data(case["data"])
    return mb.Model(case["formula"], data, weights=weights)


def fit_lmm_case(case: dict) -> mb.results.lmm.LmmFit:
    """Our own fit (``mb.lmer``) of a golden LMM case; its mixbayes warnings must be lme4's conditions."""
    data, weights = lmm_case_data(case["data"])
    with lme4_conditions(case["id"]):
        return mb.lmer(case["formula"], data, REML=case["REML"], weights=weights)


def fit_at_lme4_theta(case: dict) -> mb.results.lmm.LmmFit:
    """A golden LMM case evaluated at lme4's theta (no optimisation); its mixbayes warnings must be lme4's
    conditions."""
    with lme4_conditions(case["id"]):
        return lmm_case_model(case).fit("reml" if case["REML"] else "ml", start=values(case["theta"]),
                                        control={"optimizer": "none"})


def glmer_call(call: str) -> dict:
    """Parse a golden glmer call: formula, data, family, link, nAGQ and weights."""
    import re

    body = call[call.index("(") + 1 : call.rindex(")")]
    formula = body[: body.index(", data =")]
    data = re.search(r"data = (\w+)", body).group(1)
    fam = re.search(r"family = (\w+)", body)
    link = re.search(r'link = "(\w+)"', body)
    nagq = re.search(r"nAGQ = (\d+)", body)
    weights = re.search(r"weights = (\w+)", body)
    return {
        "formula": formula,
        "data": data,
        "family": fam.group(1) if fam else "binomial",
        "link": link.group(1) if link else None,
        "nAGQ": int(nagq.group(1)) if nagq else 1,
        "weights": weights.group(1) if weights else None,
    }


# ---- shared by the report tests (tests/test_report_*.py, test_cli.py, test_examples.py) -------------------------

FAST_SAMPLING = {"draws": 500, "tune": 500, "chains": 2}


@pytest.fixture(scope="session")
def sleep_model() -> mb.Model:
    return mb.Model("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))


@pytest.fixture(scope="session")
def sleep_reml(sleep_model: mb.Model):
    return sleep_model.fit()


@pytest.fixture(scope="session")
def sleep_posterior(sleep_model: mb.Model):
    """The real posterior of the sleepstudy model."""
    return sleep_model.sample(random_seed=1, progressbar=False, **FAST_SAMPLING)


def crossed_design(n_subj: int = 48, n_item: int = 32, seed: int = 1, sigma: float = 50.0) -> pd.DataFrame:
    """A simulated subjects x items design, 2 x 2 within both (A, B coded -0.5/0.5), every subject seeing every
    item once, with correlated random intercepts and slopes of A, B and A:B for subjects and items."""
    rng = np.random.default_rng(seed)
    s, i = np.meshgrid(np.arange(n_subj), np.arange(n_item), indexing="ij")
    s, i = s.ravel(), i.ravel()
    d = pd.DataFrame({"subj": [f"s{k:02d}" for k in s], "item": [f"i{k:02d}" for k in i],
                      "A": ((s + i) % 2) - 0.5, "B": ((s // 2 + i // 2) % 2) - 0.5})
    X = np.column_stack([np.ones(len(d)), d.A, d.B, d.A * d.B])

    def effects(n: int, sds: list[float], rho: float) -> np.ndarray:
        R = np.full((4, 4), rho) + (1 - rho) * np.eye(4)
        return rng.multivariate_normal(np.zeros(4), np.outer(sds, sds) * R, size=n)

    bs, bi = effects(n_subj, [40, 20, 15, 10], 0.3), effects(n_item, [30, 15, 10, 8], 0.2)
    eta = X @ np.array([600.0, 30, 20, 10]) + np.sum(X * bs[s], 1) + np.sum(X * bi[i], 1)
    return d.assign(y=eta + rng.normal(0, sigma, len(d)))
