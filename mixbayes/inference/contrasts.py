"""Contrast (hypothesis) matrices given by the user: checked and put in the fixed effects' column order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ContrastError

__all__ = ["as_contrast_matrix", "contrast_labels", "t_table"]


def _from_named(names: list[str], columns: list[str], values: np.ndarray) -> np.ndarray:
    unknown = [c for c in columns if c not in names]
    if unknown:
        raise ContrastError(f"contrast columns {unknown} are not fixed effects of the model "
                            f"(fixed effects: {', '.join(names)})")
    out = np.zeros((values.shape[0], len(names)))
    for j, c in enumerate(columns):
        out[:, names.index(c)] = values[:, j]
    return out


def as_contrast_matrix(fit: Any, L: Any) -> np.ndarray:
    """A (k, p) float matrix from ``L``.

    ``L`` may be a vector or matrix with p columns in the fixed effects' order, a DataFrame whose columns are
    fixed-effect names (missing names count as 0), or a Series/dict mapping names to weights (one row).
    """
    names = list(fit.design.fixef_names)
    p = len(names)
    if isinstance(L, pd.DataFrame):
        cols = [str(c) for c in L.columns]
        if all(c in names for c in cols):
            M = _from_named(names, cols, L.to_numpy(dtype=float))
        elif L.shape[1] == p:
            M = L.to_numpy(dtype=float)
        else:
            raise ContrastError(f"contrast DataFrame columns {cols} are neither fixed-effect names nor {p} columns")
    elif isinstance(L, pd.Series | Mapping):
        series = pd.Series(L, dtype=float)
        M = _from_named(names, [str(k) for k in series.index], series.to_numpy()[None, :])
    else:
        try:
            M = np.atleast_2d(np.asarray(L, dtype=float))
        except (TypeError, ValueError) as exc:
            raise ContrastError(f"cannot read the contrast matrix: {exc}") from None
        if M.ndim != 2 or M.shape[1] != p:
            raise ContrastError(f"the contrast matrix has {M.shape[-1]} columns; the model has {p} fixed effects "
                                f"({', '.join(names)})")
    if M.shape[0] == 0:
        raise ContrastError("the contrast matrix has no rows")
    if not np.all(np.isfinite(M)):
        raise ContrastError("the contrast matrix has missing or infinite entries")
    return M


def contrast_labels(L: Any, k: int) -> list[str]:
    """Row labels: a DataFrame's index, else ``1``, ``2``, ... as lmerTest labels contest rows."""
    if isinstance(L, pd.DataFrame):
        return [str(i) for i in L.index]
    return [str(i + 1) for i in range(k)]


def t_table(estimate: np.ndarray, var: np.ndarray, df: np.ndarray, index: list[str], rhs: Any = 0.0,
            confint: bool = False, level: float = 0.95) -> pd.DataFrame:
    """t tests of contrasts: Estimate, Std. Error (sqrt(var)), df, t value ((estimate - rhs) / SE), optionally
    lower/upper confidence limits, and Pr(>|t|)."""
    from scipy import stats

    se = np.sqrt(var)
    t = (estimate - np.broadcast_to(np.asarray(rhs, dtype=float), estimate.shape)) / se
    out = {"Estimate": estimate, "Std. Error": se, "df": df, "t value": t}
    if confint:
        half = stats.t.ppf(1 - (1 - level) / 2, df) * se
        out["lower"], out["upper"] = estimate - half, estimate + half
    out["Pr(>|t|)"] = 2.0 * stats.t.sf(np.abs(t), df)
    return pd.DataFrame(out, index=index)
