"""Posterior predictions for new data, with unseen grouping levels drawn from the population distribution."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from ..exceptions import ArgumentError
from ..results.prediction import prediction_inputs
from .posterior import draw_observations

if TYPE_CHECKING:
    from ..design.matrices import ModelMatrices
    from .posterior import ParameterDraws

__all__ = ["prediction_draws"]


class BayesFit(Protocol):
    """What a prediction reads of a :class:`~mixbayes.bayes.results.BayesFit` (which imports this module)."""

    design: ModelMatrices
    params: ParameterDraws


def prediction_draws(fit: BayesFit, newdata: pd.DataFrame | None, include_random: bool, allow_new_levels: bool,
                     type: str, predictive: bool, rng: np.random.Generator) -> tuple[np.ndarray, pd.Index]:
    """(S, rows) draws of the prediction and the rows' index; rows with missing predictors are NaN."""
    if type not in ("response", "link"):
        raise ArgumentError(f"type must be 'response' or 'link', not {type!r}")
    design = fit.design
    p = fit.params
    beta = p.flat(p.beta)
    S = beta.shape[0]
    if newdata is None:  # the fitted data, with their own offset and random-effects columns
        eta = p.eta(design) if include_random else beta @ np.asarray(design.X).T + np.asarray(design.offset)
        return _finish(fit, eta, type, predictive, rng), design.row_index
    from ..frames import to_pandas

    newdata = to_pandas(newdata, "newdata")
    inputs = prediction_inputs(design, newdata, include_random, allow_new_levels)
    out = np.full((S, len(newdata)), np.nan)
    if not inputs.complete.any():
        return out, newdata.index
    eta = beta @ inputs.X.T + inputs.offset
    for k, (codes, z, labels) in enumerate(inputs.terms):
        b = p.flat(p.b[k])  # (S, levels, q)
        seen = codes >= 0
        if seen.any():
            eta[:, seen] += np.einsum("snj,nj->sn", b[:, codes[seen], :], z[seen])
        unseen = ~seen
        if unseen.any():
            new_levels, inverse = np.unique(labels[unseen], return_inverse=True)
            L = p.flat(p.chol(k))  # (S, q, q)
            e = rng.standard_normal((S, len(new_levels), L.shape[-1]))
            b_new = np.einsum("slj,sij->sli", e, L)  # N(0, L L') per draw and new level
            eta[:, unseen] += np.einsum("snj,nj->sn", b_new[:, inverse, :], z[unseen])
    values = _finish(fit, eta, type, predictive, rng)
    out[:, inputs.complete] = values
    return out, newdata.index


def _finish(fit: BayesFit, eta: np.ndarray, type: str, predictive: bool, rng: np.random.Generator) -> np.ndarray:
    if type == "link" and not predictive:
        return eta
    fam = fit.design.family
    mu = fam.link.inverse_numpy(eta)
    # new observations: unit weight, one binomial trial (a 0/1 outcome)
    return draw_observations(fam, mu, fit.params, slice(None), rng) if predictive else mu
