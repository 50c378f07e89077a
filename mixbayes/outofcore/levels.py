"""The first pass over the partitions: row and missing-value counts, and the level table of every factor.

Each partition reports, for the rows complete in every column the model uses, the distinct values of each
factor column and of each multi-column grouping factor; a tree reduction unions them.  Level order follows R
(``design.factors.as_categorical``): category order for categoricals, FALSE < TRUE, numbers numerically, text
as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..design.factors import r_label

__all__ = ["FactorLevels", "ScanResult", "level_tables", "merge_scans", "scan_partition", "var_codes"]


@dataclass(frozen=True)
class FactorLevels:
    """The levels of one factor column: original values (R's order) and R's labels."""

    values: tuple[Any, ...]
    labels: tuple[str, ...]

    @property
    def n_levels(self) -> int:
        return len(self.labels)


@dataclass
class ScanResult:
    """What one partition (or a reduced group of them) reports in the first pass."""

    n_rows: int = 0
    n_complete: int = 0
    na: dict[str, int] = field(default_factory=dict)
    uniques: dict[str, np.ndarray] = field(default_factory=dict)
    combos: dict[tuple[str, ...], pd.DataFrame] = field(default_factory=dict)


def _finite_column(part: pd.DataFrame, name: str | None) -> np.ndarray | None:
    if name is None:
        return None
    return np.isfinite(pd.to_numeric(part[name], errors="coerce").to_numpy(dtype=float))


def scan_partition(part: pd.DataFrame, used: list[str], weights: str | None, offset: str | None,
                   factors: list[str], groups: list[tuple[str, ...]]) -> ScanResult:
    """Counts and distinct values of one partition (only the rows complete in every column used)."""
    missing = part[used].isna()
    complete = ~missing.any(axis=1).to_numpy()
    na = {c: int(v) for c, v in missing.sum(axis=0).items()}
    for key, name in (("(weights)", weights), ("(offset)", offset)):
        ok = _finite_column(part, name)
        if ok is not None:
            na[key] = int((~ok & complete).sum())
            complete &= ok
    sub = part.loc[complete]
    uniques = {c: pd.unique(sub[c].to_numpy()) for c in factors}
    combos = {g: sub[list(g)].drop_duplicates() for g in groups}
    return ScanResult(len(part), int(complete.sum()), na, uniques, combos)


def merge_scans(results: list[ScanResult]) -> ScanResult:
    """Union of several partitions' reports."""
    out = ScanResult()
    for r in results:
        out.n_rows += r.n_rows
        out.n_complete += r.n_complete
        for k, v in r.na.items():
            out.na[k] = out.na.get(k, 0) + v
        for k, v in r.uniques.items():
            out.uniques[k] = v if k not in out.uniques else pd.unique(np.concatenate([out.uniques[k], v]))
        for k, v in r.combos.items():
            out.combos[k] = v if k not in out.combos else pd.concat([out.combos[k], v]).drop_duplicates()
    return out


def _ordered(values: np.ndarray, dtype: Any) -> list[Any]:
    present = list(values)
    if isinstance(dtype, pd.CategoricalDtype) and dtype.categories is not None and len(dtype.categories):
        seen = set(present)
        known = [c for c in dtype.categories if c in seen]
        if len(known) == len(seen):  # categories known to Dask: their order
            return known
        present = [str(v) for v in present]  # unknown categories: as text
    if pd.api.types.is_bool_dtype(dtype):
        return [u for u in (False, True) if u in set(present)]
    try:
        return sorted(present)
    except TypeError:
        return sorted(present, key=str)


def level_tables(scan: ScanResult, dtypes: pd.Series) -> dict[str, FactorLevels]:
    """R-ordered level tables of every factor column from the merged first pass."""
    out = {}
    for col, values in scan.uniques.items():
        ordered = _ordered(values, dtypes[col])
        out[col] = FactorLevels(tuple(ordered), tuple(r_label(v) for v in ordered))
    return out


def var_codes(series: pd.Series, levels: FactorLevels) -> np.ndarray:
    """Level index of each value of ``series`` in ``levels`` (-1 for values not in the table or missing)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        lookup = pd.Index(levels.labels).get_indexer([r_label(c) for c in dtype.categories])
        codes = series.cat.codes.to_numpy()
        return np.where(codes >= 0, lookup[np.maximum(codes, 0)], -1).astype(np.int64)
    if pd.api.types.is_bool_dtype(dtype):
        idx = pd.Index(levels.labels).get_indexer(["FALSE", "TRUE"])
        return idx[series.to_numpy().astype(np.int64)].astype(np.int64)
    if pd.api.types.is_numeric_dtype(dtype):
        return pd.Index(np.asarray(levels.values)).get_indexer(series.to_numpy()).astype(np.int64)
    labels = series.astype(str) if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(
        dtype) else series.map(r_label)
    return pd.Index(levels.labels).get_indexer(labels).astype(np.int64)
