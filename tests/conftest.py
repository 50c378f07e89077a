"""Shared test helpers: golden values (copied from R; see tests/golden/README.md) and their data sets."""

from __future__ import annotations

import json
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

def _bayes_available() -> bool:
    from mixbayes.report import bayes_available

    return bayes_available()


BAYES = _bayes_available()
NO_BAYES = "the Bayesian engine (mixbayes.bayes.sample) is not in this checkout"
needs_bayes = pytest.mark.skipif(not BAYES, reason=NO_BAYES)
FAST_SAMPLING = {"draws": 500, "tune": 500, "chains": 2}


@pytest.fixture(scope="session")
def sleep_model() -> mb.Model:
    return mb.Model("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))


@pytest.fixture(scope="session")
def sleep_reml(sleep_model: mb.Model):
    return sleep_model.fit()


@pytest.fixture(scope="session")
def sleep_posterior(sleep_model: mb.Model):
    """The real posterior of the sleepstudy model (skips where the Bayesian engine is absent)."""
    if not BAYES:
        pytest.skip(NO_BAYES)
    return sleep_model.sample(random_seed=1, progressbar=False, **FAST_SAMPLING)
