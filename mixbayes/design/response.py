"""The response as each family needs it, following R's conventions."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import CountDataWarning, ResponseError
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
    fam = family.name
    if isinstance(lhs, Call) and lhs.func == "cbind":
        if fam != "binomial":
            raise ResponseError(f"cbind(successes, failures) is a binomial response, not a {fam} one")
        if len(lhs.args) != 2:
            raise ResponseError("cbind() takes two columns: cbind(successes, failures)")
        succ = evaluate(lhs.args[0], frame, "response", functions)
        fail = evaluate(lhs.args[1], frame, "response", functions)
        if np.any(succ < 0) or np.any(fail < 0):
            raise ResponseError(f"{name}: counts of successes and failures cannot be negative")
        trials = succ + fail
        _warn_non_integer(succ, f"successes {lhs.args[0]} in {name}", "binomial")
        _warn_non_integer(fail, f"failures {lhs.args[1]} in {name}", "binomial")
        y = np.divide(succ, trials, out=np.zeros_like(succ), where=trials > 0)
        return Response(y, prior * trials, trials, succ, name)

    if isinstance(lhs, Name):
        col = frame[lhs.name]
        if not _is_numeric(col):
            if fam != "binomial":
                raise ResponseError(
                    f"the response {name!r} is not numeric ({col.dtype}); the {fam} family needs numbers"
                    + ("; for a two-level outcome use family='binomial'" if fam == "gaussian" else "")
                )
            from .factors import factor_codes

            codes, levels = factor_codes(col)
            if len(levels) < 2:
                raise ResponseError(f"the binomial response {name!r} has a single level {levels[0]!r}")
            y = (codes != 0).astype(float)
            return Response(y, prior.copy(), prior.copy(), y * prior, name)
        y = col.to_numpy(dtype=float)
    else:
        y = evaluate(name, frame, "response", functions)

    if not np.all(np.isfinite(y)):
        raise ResponseError(f"the response {name!r} has non-finite values")
    if fam == "binomial":
        if np.any((y < 0) | (y > 1)):
            raise ResponseError(
                f"the binomial response {name!r} must be 0/1, a two-level factor, cbind(successes, failures), "
                "or proportions in [0, 1] with weights= the numbers of trials"
            )
        successes = y * prior
        if np.any(np.abs(successes - np.round(successes)) > 1e-7):
            if np.all(prior == 1):
                raise ResponseError(
                    f"the binomial response {name!r} holds proportions: give weights= the numbers of trials"
                )
            _warn_non_integer(successes, f"successes {name} x weights", "binomial")
        return Response(y, prior.copy(), prior.copy(), successes, name)
    if fam in ("poisson", "negative_binomial"):
        if np.any(y < 0):
            raise ResponseError(f"the {fam} response {name!r} has negative values; counts must be >= 0")
        _warn_non_integer(y, f"response {name}", fam)
    if family.positive_response and np.any(y[prior > 0] <= 0):
        raise ResponseError(f"the {fam} response {name!r} has values <= 0; the {fam} family needs a strictly "
                            "positive response")
    return Response(y, prior.copy(), None, None, name)


def _warn_non_integer(counts: np.ndarray, what: str, family: str) -> None:
    """glm's and glmer's warning for non-integer counts (the fit goes on, as theirs does)."""
    bad = np.abs(counts - np.round(counts)) > 1e-7
    if np.any(bad):
        shown = ", ".join(f"{v:.4g}" for v in counts[bad][:3]) + (", ..." if bad.sum() > 3 else "")
        warnings.warn(
            f"non-integer counts in a {family} model: the {what} has {int(bad.sum())} non-integer value(s) "
            f"({shown}); glmer warns likewise and fits. Remedy: counts should be whole numbers; for a continuous "
            "response use another family (e.g. gaussian on a transformed scale)",
            CountDataWarning, stacklevel=5)
