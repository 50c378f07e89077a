"""A frozen design without rows, from a Dask DataFrame or a Parquet dataset: :func:`build_block_design`.

Two passes over the partitions, each a Dask tree reduction:

1. counts (rows, missing values) and the level table of every factor column and grouping factor;
2. with the design then frozen, each partition's cross-product blocks (in the engine's layout) and a few
   moments, summed.

The result, :class:`BlockDesign`, is a :class:`~mixbayes.design.matrices.ModelMatrices` whose row arrays are
empty: it knows the columns, levels and theta layout, and carries the summed blocks the likelihood engine runs on.
Only the blocks and the level tables come back to the client.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..design.expressions import expression_variables
from ..design.fixed import MatrixSpec, build_matrix
from ..design.matrices import ModelMatrices, _node_variables, _random_term, _variables, build_design
from ..design.terms import lme4_term_order
from ..exceptions import (
    DesignError,
    EmptyDataError,
    MissingDataWarning,
    NotSupportedError,
    RankDeficiencyWarning,
    TooFewLevelsError,
)
from ..families import Family
from ..formula.parsed import ParsedFormula
from ..warn import warn_user
from .blocks import GramBlocks, PartitionSpec, TermCoding, merge_blocks, partition_blocks, restrict_fixed
from .levels import FactorLevels, level_tables, merge_scans, scan_partition, var_codes
from .source import as_dask_frame, tree_reduce

__all__ = ["BlockDesign", "DaskDataNotSupportedError", "build_block_design"]


class DaskDataNotSupportedError(NotSupportedError):
    """A model or method that needs the rows in memory was asked of out-of-core (Dask or Parquet) data."""


@dataclass(kw_only=True, frozen=True, eq=False)
class BlockDesign(ModelMatrices):
    """A design whose rows stay in Dask: the row arrays (``y``, ``X``, codes ...) are empty.

    Extra attributes: ``nobs`` (rows used), ``blocks`` (the summed :class:`~.blocks.GramBlocks`),
    ``coding`` (a small in-memory design on synthetic rows with the same columns, used for the coding of type
    III hypotheses), ``spec`` (what each partition needs to rebuild its model matrices), ``n_rows`` and
    ``n_dropped`` (rows read, rows dropped for missing values) and ``npartitions``.
    """

    nobs: int = 0
    blocks: GramBlocks | None = field(default=None, repr=False)
    coding: ModelMatrices | None = field(default=None, repr=False)
    spec: PartitionSpec | None = field(default=None, repr=False)
    n_rows: int = 0
    n_dropped: int = 0
    npartitions: int = 0

    @property
    def n_obs(self) -> int:
        return self.nobs


def _column_arg(value: Any, columns: list[str], what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DesignError(f"with Dask data, {what} must name a column of the data (an array cannot be aligned "
                          "with the partitions)")
    if value not in columns:
        from ..exceptions import UnknownColumnError

        raise UnknownColumnError(value, columns, f"{what} argument")
    return value


def _non_group_vars(parsed: ParsedFormula, columns: list[str]) -> set[str]:
    out: list[str] = []
    if parsed.lhs is not None:
        _node_variables(parsed.lhs, columns, out, "response", {})
    for _, node in parsed.fixed:
        _node_variables(node, columns, out, "formula", {})
    for spec in parsed.random:
        _node_variables(spec.lhs, columns, out, "random-effects term", {})
    return set(out) | {v for text in parsed.offsets for v in expression_variables(text, columns, "offset")}


def _is_factor_dtype(dtype: Any) -> bool:
    return not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)


def _synthetic_frame(dtypes: pd.Series, cols: list[str], levels: dict[str, FactorLevels],
                     as_factor: set[str]) -> pd.DataFrame:
    """A few typed rows with every level of every factor column (random numbers elsewhere): enough for the
    model-matrix specs, and no row of the data."""
    rng = np.random.default_rng(20261129)
    widest = max([levels[c].n_levels for c in as_factor if c in levels] or [1])
    n = max(64, 3 * widest + 16)
    out = {}
    for c in cols:
        if c in as_factor:
            lv = levels[c]
            codes = np.concatenate([np.arange(lv.n_levels), rng.integers(0, lv.n_levels, n - lv.n_levels)]) \
                if n >= lv.n_levels else np.arange(n) % lv.n_levels
            out[c] = pd.Categorical.from_codes(codes, categories=list(lv.labels))
        else:
            out[c] = rng.uniform(0.5, 1.5, n)
    return pd.DataFrame(out)


def _check_stateless(spec: Any, what: str) -> None:
    state = getattr(getattr(spec, "formulaic_spec", spec), "transform_state", None)
    if state:
        raise DaskDataNotSupportedError(
            f"the {what} uses a data-dependent transform ({', '.join(map(str, state))}); with Dask data its "
            "state cannot be learnt from one partition: add the transformed column to the data instead")


def _aliased_keep(xtx: np.ndarray, tol: float = 1e-7) -> list[int]:
    """lme4's rank check from X'X: a column is kept when its residual norm after projecting out the kept
    columns exceeds ``tol`` times its norm (as ``design.fixed.drop_aliased`` on X)."""
    keep: list[int] = []
    for j in range(xtx.shape[0]):
        norm2 = xtx[j, j]
        if norm2 <= 0:
            continue
        r2 = norm2
        if keep:
            K = np.asarray(keep)
            r2 = norm2 - xtx[j, K] @ np.linalg.solve(xtx[np.ix_(K, K)], xtx[K, j])
        if np.sqrt(max(r2, 0.0)) > tol * np.sqrt(norm2):
            keep.append(j)
    return keep


def _term_coding(group_vars: tuple[str, ...], levels: dict[str, FactorLevels],
                 combos: pd.DataFrame | None) -> tuple[TermCoding, tuple[str, ...]]:
    var_levels = tuple(levels[v] for v in group_vars)
    if combos is None:
        return TermCoding(group_vars, var_levels, None), var_levels[0].labels
    key = np.zeros(len(combos), dtype=np.int64)
    for v, lv in zip(group_vars, var_levels, strict=True):
        key = key * lv.n_levels + var_codes(combos[v], lv)
    keys = np.unique(key)
    labels = []
    for k in keys:
        parts, rest = [], int(k)
        for lv in reversed(var_levels):
            parts.append(lv.labels[rest % lv.n_levels])
            rest //= lv.n_levels
        labels.append(":".join(reversed(parts)))
    return TermCoding(group_vars, var_levels, keys), tuple(labels)


def build_block_design(parsed: ParsedFormula, data: Any, family: Family, weights: Any = None,
                       offset: Any = None) -> BlockDesign:
    """The design of ``parsed`` on out-of-core ``data`` (a Dask DataFrame or a Parquet path): two passes."""
    import dask

    if not family.is_lmm:
        raise DaskDataNotSupportedError(
            f"generalised linear mixed models ({family}) are not fitted on Dask data: PIRLS needs a pass over "
            "the data per iteration, which is not implemented; fit a sample in memory instead (docs/dask.md)")
    if parsed.lhs is None:
        raise DesignError(f"the formula {parsed.text!r} has no response; write 'y ~ ...'")
    ddf = as_dask_frame(data)
    columns = [str(c) for c in ddf.columns]
    if columns != list(ddf.columns):
        ddf = ddf.rename(columns=dict(zip(ddf.columns, columns, strict=True)))
    used = _variables(parsed, columns)
    wcol = _column_arg(weights, columns, "weights")
    ocol = _column_arg(offset, columns, "offset")
    dtypes = ddf.dtypes
    group_vars = {g for spec in parsed.random for g in spec.group}
    numeric_use = _non_group_vars(parsed, columns)
    factors = [c for c in used if _is_factor_dtype(dtypes[c]) or c in group_vars]
    as_factor = {c for c in factors if _is_factor_dtype(dtypes[c]) or c not in numeric_use}
    multi = sorted({tuple(spec.group) for spec in parsed.random if len(spec.group) > 1})
    cols = used + [c for c in (wcol, ocol) if c is not None and c not in used]
    parts = list(ddf[cols].to_delayed())

    # ---- pass 1: counts and level tables ---------------------------------------------------------------------
    scans = [dask.delayed(scan_partition)(p, used, wcol, ocol, factors, multi) for p in parts]
    (scan,) = dask.compute(tree_reduce(scans, merge_scans))
    n_dropped = scan.n_rows - scan.n_complete
    if scan.n_rows == 0:
        raise EmptyDataError("the data frame has no rows")
    if n_dropped:
        detail = ", ".join(f"{c.strip('()')}: {k}" for c, k in scan.na.items() if k)
        if scan.n_complete == 0:
            raise EmptyDataError(f"no complete rows: all {scan.n_rows} rows have missing values in the columns the "
                                 f"model uses ({detail})")
        warn_user(f"dropped {n_dropped} of {scan.n_rows} rows with missing values in the columns the model "
                      f"uses ({detail}); with Dask data only their number is kept (model.design.n_dropped)",
                      MissingDataWarning)
    levels = level_tables(scan, dtypes)

    # ---- the frozen design, from synthetic rows that carry every level ----------------------------------------
    synthetic = _synthetic_frame(dtypes, cols, levels, as_factor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        template = build_design(parsed, synthetic, family, wcol, ocol)
    frame = template.frame
    X_full, names, fspec, perm = build_matrix(list(parsed.fixed), frame, parsed.fixed_variables(), "fixed-effects")
    _check_stateless(fspec, "fixed part")
    full_spec = MatrixSpec(fspec, tuple(perm), tuple(names), tuple(range(len(names))))
    terms, codings = [], []
    for spec in parsed.random:
        t = _random_term(spec, frame, {})
        _check_stateless(t.spec, f"random-effects term {spec.text}")
        coding, labels = _term_coding(tuple(spec.group), levels, scan.combos.get(tuple(spec.group)))
        if len(labels) < 2:
            raise TooFewLevelsError(f"grouping factor {spec.group_name!r} of {spec.text} has {len(labels)} level"
                                    f"{'s' if len(labels) != 1 else ''} in the data used; a variance needs at "
                                    "least 2 (drop the term, or use the variable as a fixed effect)")
        terms.append(replace(t, levels=labels, codes=np.zeros(0, dtype=np.int64), z=np.zeros((0, t.q))))
        codings.append(coding)
    order = lme4_term_order([t.n_levels for t in terms])
    final, theta_offset = [], 0
    for i in order:
        final.append(replace(terms[i], theta_offset=theta_offset))
        theta_offset += terms[i].n_theta
    pspec = PartitionSpec(parsed=parsed, family=family, used=used, weights=wcol, offset=ocol, reference=frame,
                          fixed=full_spec, terms=tuple(final), codings=tuple(codings[i] for i in order))

    # ---- pass 2: cross-product blocks, summed as a tree -----------------------------------------------------
    shared = dask.delayed(pspec)  # one node of the graph, not a copy per task
    grams = [dask.delayed(partition_blocks)(p, shared) for p in parts]
    (blocks,) = dask.compute(tree_reduce(grams, merge_blocks))
    if blocks.n != scan.n_complete:
        raise DesignError(f"the second pass saw {blocks.n} complete rows, the first {scan.n_complete}: the data "
                          "changed between the passes")
    keep = _aliased_keep(blocks.xtx)
    dropped = tuple(n for j, n in enumerate(names) if j not in keep)
    if dropped:
        warn_user(f"fixed-effect model matrix is rank deficient so dropping {len(dropped)} column"
                      f"{'s' if len(dropped) > 1 else ''} / coefficient{'s' if len(dropped) > 1 else ''} "
                      f"({', '.join(dropped)}); remove the aliased predictor(s) from the formula to silence this",
                      RankDeficiencyWarning)
    m = sum(t.n_random for t in final[1:])
    blocks = restrict_fixed(blocks, keep, m)
    fixed_spec = MatrixSpec(fspec, tuple(perm), tuple(names[j] for j in keep), tuple(keep))
    coding = replace(template, X=np.ascontiguousarray(X_full[:, keep]), fixef_names=fixed_spec.names,
                     dropped_fixef=dropped, fixed_spec=fixed_spec)
    empty = np.zeros(0)
    return BlockDesign(
        y=empty, X=np.zeros((0, len(keep))), fixef_names=fixed_spec.names, dropped_fixef=dropped, weights=empty,
        offset=empty, terms=tuple(final), family=family, trials=None, successes=None,
        response_name=template.response_name, row_index=pd.RangeIndex(0), dropped_index=pd.RangeIndex(0),
        formula=parsed, fixed_spec=fixed_spec, has_prior_weights=wcol is not None, frame=frame,
        predictor_vars=tuple(_variables(parsed, columns, include_response=False)), nobs=blocks.n, blocks=blocks,
        coding=coding, spec=pspec, n_rows=scan.n_rows, n_dropped=n_dropped, npartitions=len(parts))
