"""Bundled data sets keep R's column types and level order (tools/golden/datasets.R, lme4 1.1-31)."""

from __future__ import annotations

import pandas as pd
import pytest

import mixbayes as mb

EXPECTED = {  # name: (rows, {factor column: first levels in R's order})
    "sleepstudy": (180, {"Subject": ["308", "309", "310"]}),
    "Dyestuff": (30, {"Batch": ["A", "B", "C"]}),
    "Dyestuff2": (30, {"Batch": ["A", "B", "C"]}),
    "Penicillin": (144, {"plate": ["a", "b", "c"], "sample": ["A", "B", "C"]}),
    "Pastes": (60, {"batch": ["A", "B"], "cask": ["a", "b", "c"], "sample": ["A:a", "A:b"]}),
    "cbpp": (56, {"herd": ["1", "2", "3"], "period": ["1", "2", "3", "4"]}),
    "grouseticks": (403, {"BROOD": ["501", "502"], "YEAR": ["95", "96", "97"], "LOCATION": ["1", "2"]}),
    "cake": (270, {"replicate": ["1", "2", "3"], "recipe": ["A", "B", "C"], "temperature": ["175", "185", "195"]}),
    "InstEval": (73421, {"dept": ["15", "5", "10", "12"], "d": ["1", "6", "7", "8"], "service": ["0", "1"]}),
    "bacteria": (220, {"y": ["n", "y"], "trt": ["placebo", "drug", "drug+"], "ID": ["X01", "X02", "X03"]}),
}
EXPECTED |= {  # glmmTMB's data sets
    "Salamanders": (644, {"site": ["R-1", "R-2", "R-3"], "mined": ["yes", "no"], "spp": ["GP", "PR", "DM", "EC-A"]}),
    "Owls": (599, {"Nest": ["AutavauxTV", "Bochet"], "FoodTreatment": ["Deprived", "Satiated"]}),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_dataset_types_and_levels(name: str) -> None:
    frame = mb.load_dataset(name)
    rows, factors = EXPECTED[name]
    assert len(frame) == rows
    for col, first in factors.items():
        assert isinstance(frame[col].dtype, pd.CategoricalDtype)
        assert list(frame[col].cat.categories[: len(first)]) == first


def test_ordered_factors_stay_ordered() -> None:
    inst = mb.load_dataset("InstEval")
    assert inst["studage"].cat.ordered
    assert list(inst["studage"].cat.categories) == ["2", "4", "6", "8"]


def test_list_datasets() -> None:
    listing = mb.list_datasets()
    assert set(listing.index) == set(EXPECTED)
    assert listing.loc["InstEval", "nrow"] == 73421
    assert mb.load_dataset("SLEEPSTUDY").shape == (180, 3)
