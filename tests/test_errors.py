"""Bad input gets a typed error with a message a person can act on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixbayes as mb


def test_unknown_column_suggests_close_names(sleepstudy: pd.DataFrame) -> None:
    with pytest.raises(mb.UnknownColumnError, match=r"unknown column 'Dyas'.*Did you mean 'Days'") as info:
        mb.Model("Reaction ~ Dyas + (Days | Subject)", sleepstudy)
    assert isinstance(info.value, mb.MixbayesError)
    assert info.value.suggestions == ["Days"]
    with pytest.raises(mb.UnknownColumnError, match=r"'subject'.*'Subject'"):
        mb.Model("Reaction ~ Days + (Days | subject)", sleepstudy)
    with pytest.raises(mb.UnknownColumnError, match=r"'Reactoin'.*'Reaction'"):
        mb.Model("log(Reactoin) ~ Days + (1 | Subject)", sleepstudy)
    with pytest.raises(mb.UnknownColumnError, match="weights argument"):
        mb.Model("Reaction ~ Days + (1 | Subject)", sleepstudy, weights="wts")


def test_malformed_formula_is_a_mixbayes_error(sleepstudy: pd.DataFrame) -> None:
    with pytest.raises(mb.FormulaSyntaxError, match=r"\^") as info:
        mb.Model("Reaction ~ Days + (Days Subject)", sleepstudy)
    assert info.value.position == 24
    assert isinstance(info.value, mb.MixbayesError)


def test_grouping_factor_with_one_level(sleepstudy: pd.DataFrame) -> None:
    data = sleepstudy.copy()
    data["site"] = "only"
    with pytest.raises(mb.TooFewLevelsError, match=r"'site'.*1 level.*at least 2"):
        mb.Model("Reaction ~ Days + (1 | site)", data)


def test_empty_data_after_dropping_missing_rows(sleepstudy: pd.DataFrame) -> None:
    data = sleepstudy.copy()
    data["Days"] = np.nan
    with pytest.raises(mb.EmptyDataError, match=r"no complete rows.*180 rows.*Days: 180"):
        mb.Model("Reaction ~ Days + (1 | Subject)", data)


def test_non_numeric_response_for_gaussian(sleepstudy: pd.DataFrame) -> None:
    with pytest.raises(mb.ResponseError, match=r"'Subject' is not numeric.*gaussian.*binomial"):
        mb.Model("Subject ~ Days + (1 | Days)", sleepstudy)


def test_responses_the_family_cannot_take(sleepstudy: pd.DataFrame) -> None:
    with pytest.raises(mb.ResponseError, match="must be 0/1"):
        mb.Model("Reaction ~ Days + (1 | Subject)", sleepstudy, family="binomial")
    with pytest.raises(mb.ResponseError, match="negative values"):
        data = sleepstudy.assign(y=sleepstudy["Days"] - 5)
        mb.Model("y ~ 1 + (1 | Subject)", data, family="poisson")
    with pytest.raises(mb.ResponseError, match="binomial response"):
        mb.Model("cbind(Days, Days) ~ 1 + (1 | Subject)", sleepstudy, family="poisson")
    with pytest.raises(mb.ResponseError, match="give weights="):
        mb.Model("p ~ 1 + (1 | Subject)", sleepstudy.assign(p=sleepstudy["Days"] / 10), family="binomial")


def test_unknown_family_and_link(sleepstudy: pd.DataFrame) -> None:
    with pytest.raises(mb.FamilyError, match="unknown family 'tweedie'"):
        mb.Model("Reaction ~ Days + (1 | Subject)", sleepstudy, family="tweedie")
    with pytest.raises(mb.FamilyError, match="link 'probit' is not available for the poisson"):
        mb.Model("Days ~ 1 + (1 | Subject)", sleepstudy, family="poisson", link="probit")


def test_bad_weights_and_offsets(sleepstudy: pd.DataFrame) -> None:
    with pytest.raises(mb.DesignError, match="weights has 3 values but the data have 180 rows"):
        mb.Model("Reaction ~ Days + (1 | Subject)", sleepstudy, weights=[1, 2, 3])
    with pytest.raises(mb.DesignError, match="non-negative"):
        mb.Model("Reaction ~ Days + (1 | Subject)", sleepstudy, weights=-np.ones(180))


def test_no_response(sleepstudy: pd.DataFrame) -> None:
    with pytest.raises(mb.DesignError, match="no response"):
        mb.Model("~ Days + (1 | Subject)", sleepstudy)


def test_unknown_dataset() -> None:
    with pytest.raises(mb.MixbayesError, match="Did you mean 'sleepstudy'"):
        mb.load_dataset("sleepstudie")
