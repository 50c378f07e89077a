"""Satterthwaite's degrees of freedom, as lmerTest computes them.

With varpar = (theta, sigma), A = 2 H^{-1} the asymptotic covariance of varpar (H the Hessian of the deviance in
varpar, profiled over beta only) and C(varpar) = sigma^2 (R_X'R_X)^{-1} the covariance of beta, a contrast l has

    var = l'Cl,   g_k = l' (dC/dvarpar_k) l,   df = 2 var^2 / (g'Ag).

Derivatives are Richardson-extrapolated central differences (numDeriv, as lmerTest uses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..likelihood.derivatives import richardson_hessian, richardson_jacobian
from .contrasts import t_table

if TYPE_CHECKING:
    from ..protocols import LmmFitLike as LmmFit

__all__ = ["VarparDerivatives", "satterthwaite_df", "satterthwaite_table", "varpar_derivatives"]


@dataclass
class VarparDerivatives:
    """A: covariance of (theta, sigma); jac: (k, p, p) derivatives of vcov(beta) in each varpar."""

    varpar: np.ndarray
    A: np.ndarray
    jac: np.ndarray
    vcov: np.ndarray


def varpar_derivatives(fit: LmmFit) -> VarparDerivatives:
    cached = fit.estimate.varpar_derivs
    if cached is not None:
        return cached
    from ..likelihood.lmm import blas_limit

    with blas_limit(fit.design):
        return _varpar_derivatives(fit)


def _varpar_derivatives(fit: LmmFit) -> VarparDerivatives:
    obj = fit.estimate.objective
    varpar = np.concatenate([fit.theta, [fit.sigma]])
    p = fit.design.n_fixef
    H = richardson_hessian(obj.deviance_varpar, varpar)
    try:
        A = 2.0 * np.linalg.inv(H)
    except np.linalg.LinAlgError:
        A = 2.0 * np.linalg.pinv(H)
    J = richardson_jacobian(lambda vp: obj.vcov_beta_varpar(vp).ravel(), varpar)
    jac = np.stack([J[:, k].reshape(p, p) for k in range(len(varpar))])
    obj(fit.theta)  # restore the factor at the optimum
    out = VarparDerivatives(varpar, A, jac, fit.estimate.vcov)
    fit.estimate.varpar_derivs = out
    return out


def satterthwaite_df(fit: LmmFit, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(variance of each contrast, Satterthwaite df) for the rows of L."""
    d = varpar_derivatives(fit)
    L = np.atleast_2d(np.asarray(L, dtype=float))
    var = np.einsum("ij,jk,ik->i", L, d.vcov, L)
    grads = np.einsum("ij,mjk,ik->im", L, d.jac, L)
    denom = np.einsum("im,mn,in->i", grads, d.A, grads)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = 2.0 * var**2 / denom
    return var, df


def satterthwaite_table(fit: LmmFit, L: Any = None) -> pd.DataFrame:
    """Estimate, SE, df, t and p for each contrast (default: each fixed effect)."""
    names = list(fit.design.fixef_names)
    if L is None:
        Lm = np.eye(len(names))
        index = names
    else:
        Lm = np.atleast_2d(np.asarray(L, dtype=float))
        index = list(L.index) if isinstance(L, pd.DataFrame) else [f"contrast {i + 1}" for i in range(len(Lm))]
    var, df = satterthwaite_df(fit, Lm)
    return t_table(Lm @ fit.beta, var, df, index)
