"""The second pass: each partition's cross-product blocks in the engine's own layout, and their sum.

A partition's rows become model matrices with the frozen design (:class:`PartitionSpec`); the engine's
:class:`~mixbayes.likelihood.crossprod.CrossProductPlan` then computes that partition's blocks of
A = [Z X y]'W[Z X y] with the global level tables, so the blocks of several partitions simply add up.  Besides
the blocks, a partition reports the few unweighted moments that diagnostics need (column sums and X'X for the
scale check, the ICC and type I tests; Z_t'Z_t per term for the ICC).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import sparse

from ..design.expressions import evaluate
from ..design.fixed import MatrixSpec
from ..design.matrices import _prepare_frame
from ..design.response import build_response
from ..design.terms import RandomTerm
from ..exceptions import DesignError
from ..families import Family
from ..formula.parsed import ParsedFormula
from ..likelihood.crossprod import CrossProductPlan, CrossProducts
from .levels import FactorLevels, var_codes

__all__ = ["GramBlocks", "PartitionSpec", "merge_blocks", "partition_blocks"]


@dataclass(kw_only=True)
class GramBlocks:
    """Summed cross-product blocks and moments of a set of rows.

    cp : the engine's blocks of [Z X y]' W [Z X y] (y already less the offset).
    n : rows used; log_w : sum of log prior weights (positive ones).
    xsum, xtx : unweighted column sums and X'X of the fixed-effects matrix.
    binary : per X column, whether every value is 0 or 1.
    zz : per term (design order), the unweighted (q, q) sum of z_i z_i'.
    n_pos : rows with a positive weight (the Bayesian likelihood's observations).
    ysum, yss : unweighted sum and sum of squares of the response; zsum : per term, the (q,) column sums of z
        (with ``zz`` and ``xtx``: the moments the default priors of a Bayesian fit need).
    """

    cp: CrossProducts
    n: int
    log_w: float
    xsum: np.ndarray
    xtx: np.ndarray
    binary: np.ndarray
    zz: list[np.ndarray]
    n_pos: int = 0
    ysum: float = 0.0
    yss: float = 0.0
    zsum: list[np.ndarray] = field(default_factory=list)


@dataclass
class TermCoding:
    """How to find a term's level codes in raw rows: the grouping columns' level tables and, for an
    interaction ``a:b``, the sorted keys of the combinations present."""

    group_vars: tuple[str, ...]
    var_levels: tuple[FactorLevels, ...]
    keys: np.ndarray | None

    def codes(self, frame: pd.DataFrame) -> np.ndarray:
        codes = var_codes(frame[self.group_vars[0]], self.var_levels[0])
        if self.keys is None:
            return codes
        bad = codes < 0
        for var, lv in zip(self.group_vars[1:], self.var_levels[1:], strict=True):
            c = var_codes(frame[var], lv)
            bad |= c < 0
            codes = codes * lv.n_levels + c
        pos = np.searchsorted(self.keys, codes)
        pos = np.minimum(pos, len(self.keys) - 1)
        found = (self.keys[pos] == codes) & ~bad
        return np.where(found, pos, -1).astype(np.int64)


@dataclass(kw_only=True)
class PartitionSpec:
    """The frozen design as a partition needs it (no rows): columns, level tables, model-matrix specs."""

    parsed: ParsedFormula
    family: Family
    used: list[str]
    weights: str | None
    offset: str | None
    reference: pd.DataFrame  # a few typed rows: categorical columns carry the global categories
    fixed: MatrixSpec  # every column (aliased ones are dropped after the pass)
    terms: tuple[RandomTerm, ...]  # design order, global levels, no rows
    codings: tuple[TermCoding, ...]

    @property
    def columns(self) -> list[str]:
        extra = [c for c in (self.weights, self.offset) if c is not None and c not in self.used]
        return self.used + extra

    def matrices(self, part: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                    list[RandomTerm], pd.Index]:
        """(X, y, weights, offset, terms with this partition's codes and z, index) of the complete rows."""
        complete = ~part[self.used].isna().any(axis=1).to_numpy()
        vecs = {}
        for key, name in (("w", self.weights), ("o", self.offset)):
            if name is not None:
                v = pd.to_numeric(part[name], errors="coerce").to_numpy(dtype=float)
                complete &= np.isfinite(v)
                vecs[key] = v
        raw = part.loc[complete]
        frame = _prepare_frame(raw[self.used], self.reference)
        n = len(raw)
        w = vecs["w"][complete] if "w" in vecs else np.ones(n)
        if np.any(w < 0):
            raise DesignError("weights must be non-negative")
        y = build_response(self.parsed.lhs, frame, self.family, w).y
        X = self.fixed.matrix(frame) if n else np.zeros((0, len(self.fixed.keep)))
        off = vecs["o"][complete] if "o" in vecs else np.zeros(n)
        for text in self.parsed.offsets:
            off = off + evaluate(text, frame, "offset")
        terms = []
        for t, coding in zip(self.terms, self.codings, strict=True):
            codes = coding.codes(raw)
            if np.any(codes < 0):
                raise DesignError(f"a level of {t.group!r} was not seen in the first pass over the data (did the "
                                  "data change between the passes?)")
            z = np.asarray(t.spec.matrix(frame), dtype=float) if n else np.zeros((0, t.q))
            terms.append(replace(t, codes=codes, z=z))
        return np.asarray(X, dtype=float), y, w, off, terms, raw.index


def partition_blocks(part: pd.DataFrame, spec: PartitionSpec) -> GramBlocks:
    """Blocks and moments of one partition."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # per-partition warnings are repeated, not informative
        X, y, w, off, terms, _ = spec.matrices(part)
    plan = CrossProductPlan(tuple(terms), X.shape[1])
    cp = plan.compute(X, y - off, w)
    cp = CrossProducts(cp.A11, cp.Ar1.copy(), cp.Ax1, cp.Arr)
    pos = w > 0
    return GramBlocks(cp=cp, n=len(y), log_w=float(np.sum(np.log(w[pos]))), xsum=X.sum(axis=0), xtx=X.T @ X,
                      binary=np.all((X == 0) | (X == 1), axis=0), zz=[t.z.T @ t.z for t in terms],
                      n_pos=int(pos.sum()), ysum=float(np.sum(y)), yss=float(np.dot(y, y)),
                      zsum=[t.z.sum(axis=0) for t in terms])


def merge_blocks(parts: list[GramBlocks]) -> GramBlocks:
    """The sum of several partitions' blocks (one node of the tree reduction)."""
    first = parts[0]
    A11, Ax1, Arr = first.cp.A11.copy(), first.cp.Ax1.copy(), first.cp.Arr.copy()
    Ar1 = first.cp.Ar1
    n, log_w = first.n, first.log_w
    xsum, xtx, binary = first.xsum.copy(), first.xtx.copy(), first.binary.copy()
    zz = [z.copy() for z in first.zz]
    n_pos, ysum, yss = first.n_pos, first.ysum, first.yss
    zsum = [z.copy() for z in first.zsum]
    for g in parts[1:]:
        A11 += g.cp.A11
        Ax1 += g.cp.Ax1
        Arr += g.cp.Arr
        Ar1 = Ar1 + g.cp.Ar1
        n += g.n
        log_w += g.log_w
        xsum += g.xsum
        xtx += g.xtx
        binary &= g.binary
        for a, b in zip(zz, g.zz, strict=True):
            a += b
        n_pos += g.n_pos
        ysum += g.ysum
        yss += g.yss
        for a, b in zip(zsum, g.zsum, strict=True):
            a += b
    Ar1 = sparse.csr_matrix(Ar1)
    Ar1.sum_duplicates()
    Ar1.sort_indices()
    return GramBlocks(cp=CrossProducts(A11, Ar1, Ax1, Arr), n=n, log_w=log_w, xsum=xsum, xtx=xtx, binary=binary, zz=zz,
                      n_pos=n_pos, ysum=ysum, yss=yss, zsum=zsum)


def restrict_fixed(blocks: GramBlocks, keep: list[int], m: int) -> GramBlocks:
    """Blocks without the fixed-effects columns not in ``keep`` (aliased columns)."""
    p = len(blocks.xsum)
    if len(keep) == p:
        return blocks
    rows = [*keep, p]
    idx = np.concatenate([np.arange(m), m + np.asarray(rows)])
    cp = blocks.cp
    new = CrossProducts(cp.A11, cp.Ar1, cp.Ax1[rows], cp.Arr[np.ix_(idx, idx)])
    return replace(blocks, cp=new, xsum=blocks.xsum[keep], xtx=blocks.xtx[np.ix_(keep, keep)],
                   binary=blocks.binary[keep])
