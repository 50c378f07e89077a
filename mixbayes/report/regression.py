"""Ordinary regressions the teaching views compare the mixed model with: least squares (Gaussian) or a GLM fitted
by iteratively reweighted least squares, with the usual (naive) standard errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["RegressionFit", "fit_regression"]

MAX_ABS_COEF = 30.0  # a GLM coefficient beyond this on the link scale means separation: reported as not estimable


@dataclass
class RegressionFit:
    """coef, se : arrays (NaN when not estimable); ok : whether the fit converged to finite estimates."""

    coef: np.ndarray
    se: np.ndarray
    ok: bool
    sigma: float = np.nan


def _nan(p: int) -> RegressionFit:
    return RegressionFit(np.full(p, np.nan), np.full(p, np.nan), False)


def fit_regression(X: np.ndarray, y: np.ndarray, weights: np.ndarray, offset: np.ndarray, family: Any,
                   maxit: int = 50) -> RegressionFit:
    """Fit y ~ X (+ offset) ignoring any grouping: weighted least squares for the Gaussian family, IRLS otherwise
    (the negative binomial is fitted as Poisson: same mean model).  Not estimable (too few rows, rank deficient,
    separation): NaN estimates and ``ok`` False."""
    X = np.asarray(X, dtype=float)
    p = X.shape[1]
    w = np.asarray(weights, dtype=float)
    keep = w > 0
    if keep.sum() <= p - (1 if family.has_scale else 0) or p == 0:
        return _nan(p)
    if np.linalg.matrix_rank(X[keep]) < p:
        return _nan(p)
    if family.is_lmm:
        sw = np.sqrt(w)
        coef, *_ = np.linalg.lstsq(X * sw[:, None], (y - offset) * sw, rcond=None)
        resid = (y - offset - X @ coef) * sw
        df = int(keep.sum()) - p
        sigma = float(np.sqrt(resid @ resid / df)) if df > 0 else np.nan
        xtx = (X * w[:, None]).T @ X
        se = sigma * np.sqrt(np.diag(np.linalg.inv(xtx))) if np.isfinite(sigma) else np.full(p, np.nan)
        return RegressionFit(coef, se, True, sigma)
    family = family.mean_family
    link = family.link
    mu = family.mustart(y, w)
    eta = link.link(mu)
    coef = np.zeros(p)
    converged = False
    with np.errstate(all="ignore"):
        for _ in range(maxit):
            d = link.mu_eta(eta)
            ww = family.working_weights(mu, eta, w)
            z = eta - offset + (y - mu) / d
            sw = np.sqrt(ww)
            new, *_ = np.linalg.lstsq(X * sw[:, None], z * sw, rcond=None)
            if not np.all(np.isfinite(new)):
                return _nan(p)
            eta_new = X @ new + offset
            done = np.max(np.abs(new - coef)) < 1e-9 * (1 + np.max(np.abs(new)))
            coef, eta = new, eta_new
            mu = family.valid_mu(link.inverse(eta))
            if done:
                converged = True
                break
        if not converged or np.max(np.abs(coef)) > MAX_ABS_COEF:
            return _nan(p)
        ww = family.working_weights(mu, eta, w)
        try:
            cov = np.linalg.inv((X * ww[:, None]).T @ X)
        except np.linalg.LinAlgError:
            return _nan(p)
    return RegressionFit(coef, np.sqrt(np.diag(cov)), True)
