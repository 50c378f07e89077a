"""Population-level predictions with intervals (lme4's ``predict(..., re.form = NA)`` plus uncertainty).

For new data (the grouping columns are not needed) eta = X beta + offset, and:

- ``method="delta"``: confidence interval eta -+ z sqrt(x' V x) on the link scale, mapped through the inverse
  link (SE on the response scale by the delta method, |d mu / d eta| SE).  ``interval="prediction"`` adds the
  variance of a new group's random effects, z' G z for the model columns z of each term, and for the LMM the
  residual variance sigma^2 (a new observation in a new group); for a GLMM it is the interval of a new group's
  mean on the response scale.
- ``method="boot"``: percentile intervals of X beta* over a parametric bootstrap of the fixed effects (the fit's
  ``bootstrap``); for prediction intervals each replicate adds a draw of the random effects (and, for the LMM, of
  the residual).

Bayesian fits have ``BayesFit.predict(..., include_random=False, predictive=...)`` (posterior and posterior
predictive); :func:`prediction_intervals` gives them the same columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import NotSupportedError
from .prediction import prediction_inputs

__all__ = ["prediction_intervals"]

COLUMNS = ["estimate", "std_error", "conf_low", "conf_high"]


def _random_variance(fit: Any, newdata: pd.DataFrame, complete: np.ndarray, sigma2: float) -> np.ndarray:
    """z' G z summed over the terms, for the complete rows of the new data."""
    design = fit.design
    sub = newdata.loc[complete]
    from ..design.matrices import _prepare_frame

    frame = _prepare_frame(sub, design.frame)
    out = np.zeros(int(complete.sum()))
    for t in design.terms:
        z = np.asarray(t.spec.matrix(frame), dtype=float) if t.spec is not None else np.ones((len(out), 1))
        T = t.factor(fit.theta)
        G = sigma2 * (T @ T.T)
        out += np.einsum("ij,jk,ik->i", z, G, z)
    return out


def prediction_intervals(fit: Any, newdata: pd.DataFrame | None = None, interval: str = "confidence",
                         method: str = "delta", level: float = 0.95, type: str = "response", nsim: int = 200,
                         random_seed: Any = None) -> pd.DataFrame:
    """Population-level predictions and intervals, one row per row of ``newdata`` (default: the fitted data).

    Parameters
    ----------
    interval : ``"confidence"`` (for the population mean) or ``"prediction"`` (a new group; for the LMM a new
        observation in it).
    method : ``"delta"`` or ``"boot"`` for likelihood fits; Bayesian fits always use their draws (posterior,
        posterior predictive for ``interval="prediction"``).
    type : ``"response"`` or ``"link"``.
    nsim, random_seed : bootstrap replicates and seed (``method="boot"``).

    Returns
    -------
    DataFrame with ``estimate``, ``std_error``, ``conf_low``, ``conf_high``, indexed like ``newdata``.
    """
    if interval not in ("confidence", "prediction"):
        raise NotSupportedError(f"interval must be 'confidence' or 'prediction', not {interval!r}")
    if type not in ("response", "link"):
        raise NotSupportedError(f"type must be 'response' or 'link', not {type!r}")
    a = (1 - level) / 2
    if hasattr(fit, "params") and hasattr(fit.params, "beta"):
        draws = fit.predict(newdata, include_random=False, type=type, summary=False,
                            predictive=interval == "prediction", random_seed=random_seed)
        if interval == "prediction":  # a new group: its random effects are drawn from the population
            draws = _bayes_new_group(fit, newdata, type, random_seed)
        v = draws.to_numpy()
        q = np.nanquantile(v, [a, 1 - a], axis=0)
        return pd.DataFrame({"estimate": np.nanmean(v, axis=0), "std_error": np.nanstd(v, axis=0, ddof=1),
                             "conf_low": q[0], "conf_high": q[1]}, index=draws.columns)
    design = fit.design
    if newdata is None:
        newdata = design.frame.loc[design.row_index]
    from ..frames import to_pandas

    newdata = to_pandas(newdata, "newdata")
    inputs = prediction_inputs(design, newdata, include_random=False)
    X, complete = inputs.X, inputs.complete
    eta = X @ fit.beta + inputs.offset
    sigma = getattr(fit, "scale_sigma", None)
    gaussian = design.family.normal_residual
    extra = np.zeros(len(eta))
    if interval == "prediction":
        extra = _random_variance(fit, newdata, complete, sigma**2 if sigma is not None else 1.0)
        if gaussian and sigma is not None:
            extra = extra + sigma**2
    link = design.family.link
    out = pd.DataFrame(np.nan, index=newdata.index, columns=COLUMNS)
    if method == "delta":
        se = np.sqrt(np.einsum("ij,jk,ik->i", X, fit.vcov.to_numpy(), X) + extra)
        z = stats.norm.ppf(1 - a)
        lo, hi = eta - z * se, eta + z * se
        if type == "response":
            se = se * np.abs(link.mu_eta(eta))
            est, lo, hi = link.inverse(eta), link.inverse(lo), link.inverse(hi)
            lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
        else:
            est = eta
    elif method in ("boot", "bootstrap"):
        boot = fit.bootstrap(nsim=nsim, statistic="fixef", random_seed=random_seed, progressbar=False)
        B = boot.replicates.to_numpy()
        B = B[np.all(np.isfinite(B), axis=1)]
        sims = B @ X.T + inputs.offset
        if interval == "prediction":
            rng = np.random.default_rng(random_seed)
            sims = sims + rng.standard_normal(sims.shape) * np.sqrt(extra)
        if type == "response":
            sims = link.inverse(sims)
        est = link.inverse(eta) if type == "response" else eta
        se = sims.std(axis=0, ddof=1)
        from ..inference.bootstrap import percentile_interval

        ends = np.array([percentile_interval(sims[:, j], level) for j in range(sims.shape[1])]).reshape(-1, 2)
        lo, hi = ends[:, 0], ends[:, 1]
    else:
        raise NotSupportedError(f"method must be 'delta' or 'boot', not {method!r}")
    out.loc[out.index[complete], COLUMNS] = np.column_stack([est, se, lo, hi])
    return out


def _bayes_new_group(fit: Any, newdata: pd.DataFrame | None, type: str, seed: Any) -> pd.DataFrame:
    """Posterior predictive draws for rows of a new group: random effects from N(0, Sigma) per draw, and the
    observation noise."""
    design = fit.design
    if newdata is None:
        newdata = design.frame.loc[design.row_index]
    nd = newdata.copy()
    for t in design.terms:
        for v in t.group_vars:
            nd[v] = "__new_group__"
    return fit.predict(nd, include_random=True, allow_new_levels=True, type=type, summary=False, predictive=True,
                       random_seed=seed)
