"""F tests of linear hypotheses and lmerTest's ANOVA tables, with Satterthwaite or Kenward-Roger df.

A hypothesis L beta = rhs with q > 1 rows is tested as lmerTest's ``contestMD`` does.  Satterthwaite: with
L C L' = P D P' (eigen-decomposition, eigenvalues below sqrt(eps) times the largest dropped), the rows of P'L
are q independent 1-df contrasts with t_m^2 = (P'L beta)_m^2 / d_m and Satterthwaite df nu_m; then

    F = sum_m t_m^2 / q,   E = sum_m nu_m / (nu_m - 2),   ddf = 2 E / (E - q)   (ddf = 2 if any nu_m <= 2).

Kenward-Roger: pbkrtest's ``KRmodcomp`` (see :mod:`.kenward_roger`).  As lmerTest reports it, Mean Sq is
F_unscaled sigma^2 and Sum Sq is q times that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import NotSupportedError
from .contrasts import as_contrast_matrix, contrast_labels, t_table
from .satterthwaite import satterthwaite_df, varpar_derivatives

if TYPE_CHECKING:
    from ..protocols import LmmFitLike as LmmFit

__all__ = ["FTABLE_COLUMNS", "anova_table", "contest", "contest_f", "normalize_ddf"]

FTABLE_COLUMNS = ["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"]


def normalize_ddf(ddf: str) -> str:
    """``"satterthwaite"`` or ``"kenward-roger"`` from the spellings lmerTest and users write."""
    key = ddf.lower().replace("_", "-").replace(" ", "-")
    if key in ("satterthwaite", "sat"):
        return "satterthwaite"
    if key in ("kenward-roger", "kr", "kenwardroger"):
        return "kenward-roger"
    raise NotSupportedError(f"unknown ddf method {ddf!r}: use 'satterthwaite' or 'kenward-roger'")


def _row(F: float, ndf: float, ddf: float, sigma: float, scale: float = 1.0) -> dict[str, float]:
    ms = F * sigma**2
    F_scaled = F * scale
    return {"Sum Sq": ms * ndf, "Mean Sq": ms, "NumDF": ndf, "DenDF": ddf, "F value": F_scaled,
            "Pr(>F)": float(stats.f.sf(F_scaled, ndf, ddf))}


def _empty_row() -> dict[str, float]:
    """The NA row lmerTest gives a term without testable columns."""
    return dict.fromkeys(FTABLE_COLUMNS, np.nan)


def _fstat_ddf(nu: np.ndarray, tol: float = 1e-8) -> float:
    """lmerTest's ``get_Fstat_ddf``."""
    if len(nu) == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(np.mean(nu))
    if np.any(nu <= 2):
        return 2.0
    E = float(np.sum(nu / (nu - 2)))
    return 2.0 * E / (E - len(nu))


def _satterthwaite_f(fit: LmmFit, L: np.ndarray, rhs: np.ndarray) -> dict[str, float]:
    beta = fit.beta
    if np.any(rhs != 0):
        beta = beta - np.linalg.pinv(L) @ rhs
    if L.shape[0] == 1:
        var, df = satterthwaite_df(fit, L)
        t = (L[0] @ fit.beta - rhs[0]) / np.sqrt(var[0])
        return _row(float(t**2), 1, float(df[0]), fit.sigma)
    d = varpar_derivatives(fit)
    VL = L @ d.vcov @ L.T
    evals, evecs = np.linalg.eigh(VL)
    order = np.argsort(evals)[::-1]
    evals, evecs = evals[order], evecs[:, order]
    tol = max(np.sqrt(np.finfo(float).eps) * evals[0], 0.0)
    pos = evals > tol
    q = int(pos.sum())
    if q == 0:
        return _empty_row()
    PtL = (evecs.T @ L)[:q]
    if q == 1:
        var, df = satterthwaite_df(fit, PtL)
        t = (PtL[0] @ beta) / np.sqrt(var[0])
        return _row(float(t**2), 1, float(df[0]), fit.sigma)
    t2 = (PtL @ beta) ** 2 / evals[:q]
    grads = np.einsum("ij,mjk,ik->im", PtL, d.jac, PtL)
    nu = 2.0 * evals[:q] ** 2 / np.einsum("im,mn,in->i", grads, d.A, grads)
    return _row(float(np.sum(t2) / q), q, _fstat_ddf(nu), fit.sigma)


def contest_f(fit: LmmFit, L: Any, ddf: str = "satterthwaite", rhs: Any = 0.0) -> dict[str, float]:
    """One F test of ``L beta = rhs`` (lmerTest's ``contestMD``): Sum Sq, Mean Sq, NumDF, DenDF, F value, Pr(>F)."""
    method = normalize_ddf(ddf)
    Lm = as_contrast_matrix(fit, L)
    rhs_v = np.broadcast_to(np.asarray(rhs, dtype=float), (Lm.shape[0],)).copy()
    if method == "kenward-roger":
        from .kenward_roger import kr_test

        res = kr_test(fit, Lm, rhs_v)
        return _row(res.F_unscaled, res.ndf, res.ddf, fit.sigma, res.F_scaling)
    return _satterthwaite_f(fit, Lm, rhs_v)


def contest(fit: LmmFit, L: Any, ddf: str = "satterthwaite", joint: bool = True, rhs: Any = 0.0,
            confint: bool = False, level: float = 0.95) -> pd.DataFrame:
    """Tests of user contrasts, as lmerTest's ``contest``.

    Parameters
    ----------
    L : contrast matrix (rows are contrasts; see :func:`~mixbayes.inference.contrasts.as_contrast_matrix`).
    ddf : ``"satterthwaite"`` or ``"kenward-roger"``.
    joint : True: one F test of all rows (Sum Sq, Mean Sq, NumDF, DenDF, F value, Pr(>F)); False: a t test
        per row (Estimate, Std. Error, df, t value, Pr(>|t|), and lower/upper with ``confint=True``).
    rhs : right-hand side of the hypotheses (default 0).
    """
    method = normalize_ddf(ddf)
    Lm = as_contrast_matrix(fit, L)
    if joint:
        return pd.DataFrame([contest_f(fit, Lm, method, rhs)], index=["1"], columns=FTABLE_COLUMNS)
    if method == "kenward-roger":
        from .kenward_roger import _require_reml, kr_t_df

        _require_reml(fit)
        var, df = kr_t_df(fit, Lm)
    else:
        var, df = satterthwaite_df(fit, Lm)
    return t_table(Lm @ fit.beta, var, df, contrast_labels(L, len(Lm)), rhs, confint, level)


def anova_table(fit: LmmFit, type: int | str = 3, ddf: str = "satterthwaite") -> pd.DataFrame:
    """lmerTest's ``anova(fit, type=, ddf=)``: one F test per model term.

    ``type`` 3 (``"III"``) builds lmerTest's type III hypotheses (treatment contrasts), 1 (``"I"``) the
    sequential ones.  Terms whose columns were all dropped as aliased get an NA row at the end, as in lmerTest.
    """
    from .type3 import type1_hypotheses, type3_hypotheses

    key = str(type).upper()
    if key in ("3", "III"):
        hyps = type3_hypotheses(fit.design)
    elif key in ("1", "I"):
        hyps = type1_hypotheses(fit.design)
    else:
        raise NotSupportedError(f"ANOVA type {type!r} is not implemented: use 3 (type III) or 1 (type I)")
    method = normalize_ddf(ddf)
    rows, index, missing = [], [], []
    for label, H in hyps.items():
        if H.shape[0] == 0:
            missing.append(label)
            continue
        rows.append(contest_f(fit, H, method))
        index.append(label)
    for label in missing:
        rows.append(_empty_row())
        index.append(label)
    table = pd.DataFrame(rows, index=index, columns=FTABLE_COLUMNS)
    what = "Type III" if key in ("3", "III") else "Type I"
    table.attrs["heading"] = (f"{what} Analysis of Variance Table with "
                              f"{'Satterthwaite' if method == 'satterthwaite' else 'Kenward-Roger'}'s method")
    table.attrs["hypotheses"] = hyps
    return table
