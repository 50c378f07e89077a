"""Linear predictors for new data: fixed part, random part (known levels), unseen levels."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..design.expressions import evaluate
from ..design.factors import r_label
from ..design.matrices import ModelMatrices, _prepare_frame
from ..design.terms import effect_blocks
from ..exceptions import DesignError, MixbayesError
from ..frames import to_pandas

__all__ = ["NewLevelError", "PredictionInputs", "level_codes", "new_linear_predictor", "prediction_inputs"]


class NewLevelError(MixbayesError, ValueError):
    """New data hold grouping-factor levels the model has not seen (and ``allow_new_levels`` is False)."""


def level_codes(design: ModelMatrices, term_index: int, frame: pd.DataFrame) -> np.ndarray:
    """Level index of each row of ``frame`` for a term; -1 for unseen levels or missing values."""
    term = design.terms[term_index]
    labels = None
    for var in term.group_vars:
        col = frame[var].astype(object).map(lambda v: None if pd.isna(v) else r_label(v))
        labels = col if labels is None else labels.str.cat(col, sep=":")
    lookup = {lv: i for i, lv in enumerate(term.levels)}
    assert labels is not None
    return labels.map(lambda s: lookup.get(s, -1) if isinstance(s, str) else -1).to_numpy(dtype=np.int64)


@dataclass
class PredictionInputs:
    """New data turned into model matrices (rows with missing predictors left out).

    complete : (m,) rows of the new data with every predictor present.
    X, offset : fixed-effects matrix and offset of those rows.
    terms : per random-effects term (when random effects are included): level codes (-1 for unseen levels),
        model columns z and the level labels (so that rows of one unseen level share its effect).
    """

    complete: np.ndarray
    X: np.ndarray
    offset: np.ndarray
    terms: list[tuple[np.ndarray, np.ndarray, np.ndarray]]


def prediction_inputs(design: ModelMatrices, newdata: pd.DataFrame, include_random: bool = True,
                      allow_new_levels: bool = False, offset: np.ndarray | None = None) -> PredictionInputs:
    """Model matrices of new data, with the checks of :func:`new_linear_predictor`."""
    newdata = to_pandas(newdata, "newdata")
    grouping = {v for t in design.terms for v in t.group_vars}
    needed = list(design.predictor_vars)
    if not include_random:  # population level (lme4's re.form = NA): only what the fixed part and offsets use
        fixed_text = " ".join([design.formula.fixed_text(), *design.formula.offsets])
        needed = [c for c in needed if c in newdata.columns or re.search(
            rf"(?<![\w.]){re.escape(str(c))}(?![\w.])", fixed_text)]
    missing = [c for c in needed if c not in newdata.columns]
    if missing:
        raise DesignError(f"the new data lack the column(s) {', '.join(missing)} that the model uses")
    raw = newdata[needed]
    complete = ~raw.isna().any(axis=1).to_numpy()
    frame = _prepare_frame(raw, design.frame)
    for col in needed:
        lost = frame[col].isna().to_numpy() & ~raw[col].isna().to_numpy()
        if lost.any() and col not in grouping:
            bad = sorted({str(v) for v in raw.loc[lost, col]})
            raise NewLevelError(f"factor {col!r} has level(s) {', '.join(bad[:5])} not seen when fitting; "
                                "fixed effects cannot be predicted for them")
    sub = frame.loc[complete]
    raw_sub = raw.loc[complete]
    m = len(sub)
    if m == 0:
        return PredictionInputs(complete, np.zeros((0, design.n_fixef)), np.zeros(0), [])
    try:
        X = design.fixed_matrix(sub) if design.n_fixef else np.zeros((m, 0))
    except Exception as exc:
        raise DesignError(f"cannot build the fixed-effects matrix for the new data: {exc}") from None
    off = np.zeros(m)
    for text in design.formula.offsets:
        off = off + evaluate(text, sub, "offset", design.functions)
    if offset is not None:
        off = off + np.asarray(offset, dtype=float)[complete]
    terms = []
    if include_random:
        for k, t in enumerate(design.terms):
            codes = level_codes(design, k, raw_sub)
            unseen = codes < 0
            labels = raw_sub[list(t.group_vars)].astype(str).agg(":".join, axis=1).to_numpy()
            if unseen.any() and not allow_new_levels:
                bad = sorted(set(labels[unseen]))
                raise NewLevelError(
                    f"new levels of {t.group!r} in the new data: {', '.join(bad[:5])}"
                    f"{' ...' if len(bad) > 5 else ''}; pass allow_new_levels=True to predict them at the "
                    "population level (random effect 0), or include_random=False for population predictions"
                )
            terms.append((codes, np.asarray(t.spec.matrix(sub), dtype=float), labels))
    return PredictionInputs(complete, np.asarray(X, dtype=float), off, terms)


def new_linear_predictor(
    design: ModelMatrices,
    beta: np.ndarray,
    b: np.ndarray,
    newdata: pd.DataFrame,
    include_random: bool = True,
    allow_new_levels: bool = False,
    offset: np.ndarray | None = None,
) -> np.ndarray:
    """eta = X beta + Z b + offset for new data.

    Unseen levels contribute 0 (the population level) when ``allow_new_levels``; otherwise they raise
    :class:`NewLevelError`.  Rows with missing predictor values give NaN.
    """
    if not isinstance(newdata, pd.DataFrame):
        newdata = pd.DataFrame(newdata)
    inputs = prediction_inputs(design, newdata, include_random, allow_new_levels, offset)
    eta = np.full(len(newdata), np.nan)
    if not inputs.complete.any():
        return eta
    value = inputs.X @ beta + inputs.offset
    for bt, (codes, z, _) in zip(effect_blocks(design.terms, b), inputs.terms, strict=False):
        unseen = codes < 0
        contrib = np.einsum("ij,ij->i", z, bt[np.where(unseen, 0, codes)])
        value = value + np.where(unseen, 0.0, contrib)
    eta[inputs.complete] = value
    return eta
