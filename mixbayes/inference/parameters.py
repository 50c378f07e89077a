"""Variance parameters on lme4's SD/correlation scale, with lme4's names (``oldNames = FALSE``).

Per random-effects term the lower triangle of the term's SD/correlation matrix, column by column (SDs on the
diagonal, correlations below it), then the residual SD ``sigma``:

    sd_(Intercept)|Subject, cor_Days.(Intercept)|Subject, sd_Days|Subject, sigma

``sdcor_from_theta`` and ``theta_from_sdcor`` are lme4's ``Cv_to_Sv`` and ``Sv_to_Cv``.
"""

from __future__ import annotations

import numpy as np

from ..design.matrices import ModelMatrices

__all__ = ["percent_labels", "safe_cholesky", "sdcor_from_theta", "theta_from_sdcor", "varpar_bounds", "varpar_names"]


def varpar_names(design: ModelMatrices, sigma: bool = True) -> list[str]:
    """lme4's ``profnames(fit, oldNames = FALSE)``."""
    out = []
    for t in design.terms:
        rows, cols = t.tril_index
        for i, j in zip(rows, cols, strict=True):
            if i == j:
                out.append(f"sd_{t.columns[i]}|{t.group}")
            else:
                out.append(f"cor_{t.columns[i]}.{t.columns[j]}|{t.group}")
    if sigma:
        out.append("sigma")
    return out


def percent_labels(level: float) -> list[str]:
    """R's column names of a two-sided interval: ``["2.5 %", "97.5 %"]`` for level 0.95."""
    a = (1 - level) / 2
    return [f"{100 * x:.3g} %" for x in (a, 1 - a)]


def varpar_bounds(design: ModelMatrices) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of (SDs, correlations, sigma): [0, inf) for SDs and sigma, [-1, 1] for correlations."""
    lower = np.maximum(design.lower, -1.0)
    upper = np.where(design.lower == 0, np.inf, 1.0)
    return np.append(lower, 0.0), np.append(upper, np.inf)


def sdcor_from_theta(design: ModelMatrices, theta: np.ndarray, sigma: float) -> np.ndarray:
    """(SDs and correlations of every term, sigma) from theta and sigma (lme4's ``Cv_to_Sv``)."""
    out = []
    for t in design.terms:
        T = t.factor(theta)
        cov = (T @ T.T) * sigma**2
        sd = np.sqrt(np.diag(cov))
        rows, cols = t.tril_index
        for i, j in zip(rows, cols, strict=True):
            if i == j:
                out.append(sd[i])
            else:
                with np.errstate(invalid="ignore", divide="ignore"):
                    out.append(cov[i, j] / (sd[i] * sd[j]))
    out.append(sigma)
    return np.asarray(out, dtype=float)


def safe_cholesky(m: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a positive semi-definite matrix (zero pivots give zero columns)."""
    n = m.shape[0]
    L = np.zeros_like(m, dtype=float)
    for j in range(n):
        d = m[j, j] - L[j, :j] @ L[j, :j]
        if d <= 1e-14 * max(abs(m[j, j]), 1e-300):
            continue
        L[j, j] = np.sqrt(d)
        L[j + 1 :, j] = (m[j + 1 :, j] - L[j + 1 :, :j] @ L[j, :j]) / L[j, j]
    return L


def theta_from_sdcor(design: ModelMatrices, sdcor: np.ndarray) -> np.ndarray:
    """theta from (SDs, correlations, sigma) (lme4's ``Sv_to_Cv``)."""
    sdcor = np.asarray(sdcor, dtype=float)
    sigma = sdcor[-1]
    theta = np.empty(design.n_theta)
    for t in design.terms:
        v = sdcor[t.theta_slice]
        rows, cols = t.tril_index
        if t.q == 1:
            theta[t.theta_slice] = v[0] / sigma
            continue
        corr = np.eye(t.q)
        sd = np.empty(t.q)
        for k, (i, j) in enumerate(zip(rows, cols, strict=True)):
            if i == j:
                sd[i] = v[k]
            else:
                corr[i, j] = corr[j, i] = v[k]
        cov = corr * np.outer(sd, sd) / sigma**2
        T = safe_cholesky(cov)
        theta[t.theta_slice] = T[rows, cols]
    return theta
