"""The response as each family needs it, following R's conventions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ResponseError
from ..families import Family
from ..formula.nodes import Call, Name, Node, render
from .expressions import evaluate

__all__ = ["Response", "build_response"]


@dataclass(frozen=True)
class Response:
    """y and its weights.  For the binomial, y is the proportion of successes and ``weights`` the prior weights
    times the number of trials (R's convention); ``trials`` and ``successes`` are kept too."""

    y: np.ndarray
    weights: np.ndarray
    trials: np.ndarray | None
    successes: np.ndarray | None
    name: str


def _is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype)


def build_response(lhs: Node, frame: pd.DataFrame, family: Family, prior: np.ndarray,
                   functions: Mapping[str, Any] | None = None) -> Response:
    """Evaluate the left-hand side on ``frame`` and check that ``family`` can take it."""
    name = render(lhs)
    if isinstance(lhs, Call) and lhs.func == "cbind":
        if not family.has_trials:
            raise ResponseError(f"cbind(successes, failures) is a binomial response, not a {family.name} one")
        if len(lhs.args) != 2:
            raise ResponseError("cbind() takes two columns: cbind(successes, failures)")
        succ = evaluate(lhs.args[0], frame, "response", functions)
        fail = evaluate(lhs.args[1], frame, "response", functions)
        parts = family.response_cbind(succ, fail, prior, name, (str(lhs.args[0]), str(lhs.args[1])))
        return Response(*parts, name)

    if isinstance(lhs, Name):
        col = frame[lhs.name]
        if not _is_numeric(col):
            from .factors import factor_codes

            return Response(*family.response_factor(lambda: factor_codes(col), prior, name, col.dtype), name)
        y = col.to_numpy(dtype=float)
    else:
        y = evaluate(name, frame, "response", functions)

    if not np.all(np.isfinite(y)):
        raise ResponseError(f"the response {name!r} has non-finite values")
    return Response(*family.response_numeric(y, prior, name), name)
