"""Factors as R builds them: level order, unused levels dropped, interactions ``a:b``."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["as_categorical", "factor_codes", "interaction_codes", "r_label"]


def r_label(value: object) -> str:
    """A level label as R's ``as.character`` writes it (``308`` not ``308.0``)."""
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def as_categorical(series: pd.Series) -> pd.Series:
    """The column as a pandas Categorical with R's level order and unused levels dropped.

    Categorical columns keep their category order; numbers sort numerically; strings sort as text;
    booleans are FALSE < TRUE.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        out = series.cat.remove_unused_categories()
        cats = out.cat.categories
        if not all(isinstance(c, str) for c in cats):
            out = out.cat.rename_categories([r_label(c) for c in cats])
        return out
    values = series.to_numpy()
    uniques = pd.unique(values)
    if pd.api.types.is_bool_dtype(series.dtype):
        ordered = [u for u in (False, True) if u in set(uniques)]
    else:
        try:
            ordered = sorted(uniques)
        except TypeError:
            ordered = sorted(uniques, key=str)
    labels = [r_label(u) for u in ordered]
    codes = pd.Index(ordered).get_indexer(values)
    return pd.Series(pd.Categorical.from_codes(codes, categories=labels), index=series.index, name=series.name)


def factor_codes(series: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer codes (0-based) and level labels of a column treated as a factor."""
    cat = as_categorical(series)
    return cat.cat.codes.to_numpy(dtype=np.int64), tuple(str(c) for c in cat.cat.categories)


def interaction_codes(columns: list[pd.Series]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes and labels of the interaction ``a:b:...``: levels ``A:x``, with the first factor varying slowest
    (R's ``a:b`` order), unused combinations dropped."""
    codes, labels = factor_codes(columns[0])
    for series in columns[1:]:
        c2, l2 = factor_codes(series)
        combined = codes * len(l2) + c2
        used = np.unique(combined)
        remap = np.full(len(labels) * len(l2), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        labels = tuple(f"{labels[u // len(l2)]}:{l2[u % len(l2)]}" for u in used)
        codes = remap[combined]
    return codes, labels
