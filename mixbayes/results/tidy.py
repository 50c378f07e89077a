"""One table per fit (broom.mixed's ``tidy``): one row per parameter, the same columns for every fit type.

Columns: ``effect`` (``fixed`` or ``ran_pars``), ``group`` (the grouping factor, ``Residual`` for sigma, empty
for fixed effects), ``term`` (broom.mixed's names: the fixed effect's name, ``sd__(Intercept)``,
``cor__(Intercept).Days``, ``sd__Observation``), ``estimate``, ``std_error``, ``conf_low``, ``conf_high``,
``df`` and ``p_value``.

- LmmFit: fixed effects with Satterthwaite df and t tests (``ddf=`` as ``summary``), t intervals;
  variance parameters without SE (their intervals with ``conf_method="profile"`` or ``"boot"``).
- GlmmFit and MapFit: Wald z tests and intervals (df inf).
- BayesFit: posterior means of the fixed effects and posterior medians of the variance parameters (the same
  centres as :func:`mixbayes.compare` and ``posterior.summary()``: SD posteriors are skewed), posterior SDs in
  ``std_error`` and equal-tailed credible intervals; no df or p.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["COLUMNS", "tidy"]

COLUMNS = ["effect", "group", "term", "estimate", "std_error", "conf_low", "conf_high", "df", "p_value"]


def _ran_pars_rows(frame: pd.DataFrame, est_col: str) -> list[dict[str, Any]]:
    rows = []
    for r in frame.itertuples(index=False):
        g, v1, v2 = r.grp, r.var1, r.var2
        if g == "Residual":
            term = "sd__Observation"
        elif v2 is None or (isinstance(v2, float) and np.isnan(v2)):
            term = f"sd__{v1}"
        else:
            term = f"cor__{v1}.{v2}"
        rows.append({"effect": "ran_pars", "group": g, "term": term, "estimate": float(getattr(r, est_col)),
                     "std_error": np.nan, "conf_low": np.nan, "conf_high": np.nan, "df": np.nan, "p_value": np.nan})
    return rows


def _lme4_name(row: dict[str, Any], fit: Any) -> str:
    """lme4's confint row name of a tidy ran_pars row."""
    if row["group"] == "Residual":
        return "sigma"
    kind, rest = row["term"].split("__", 1)
    if kind == "sd":
        return f"sd_{rest}|{row['group']}"
    a, b = rest.split(".", 1) if "." in rest else (rest, "")
    return f"cor_{b}.{a}|{row['group']}"


def tidy(fit: Any, conf_level: float = 0.95, conf_method: str = "wald", ddf: str = "satterthwaite",
         **kwargs: Any) -> pd.DataFrame:
    """A tidy table of a fit's parameters (see the module notes for what each fit type fills in).

    Parameters
    ----------
    conf_level : level of the intervals.
    conf_method : likelihood fits: ``"wald"`` (fixed effects only), ``"profile"`` or ``"boot"`` (every
        parameter, from ``fit.confint``; kwargs go there).
    ddf : LmmFit's df for the fixed effects: ``"satterthwaite"`` or ``"kenward-roger"``.
    """
    if hasattr(fit, "params") and hasattr(fit.params, "beta"):
        return _tidy_bayes(fit, conf_level)
    if hasattr(fit, "fixef_zi"):  # glmmTMB-family fit: conditional, zero-inflation and dispersion rows
        return fit.tidy(conf_level)
    names = list(fit.design.fixef_names)
    est, se = fit.beta, fit.se.to_numpy()
    if hasattr(fit, "reml") and ddf != "none":
        if ddf == "kenward-roger":
            from ..inference.kenward_roger import kr_t_df

            var, df = kr_t_df(fit, np.eye(len(names)))
            se = np.sqrt(var)
        else:
            from ..inference.satterthwaite import satterthwaite_df

            _, df = satterthwaite_df(fit, np.eye(len(names)))
    else:
        df = np.full(len(names), np.inf)
    t = est / se
    p = 2 * stats.t.sf(np.abs(t), df)
    q = stats.t.ppf((1 + conf_level) / 2, df)
    rows = [{"effect": "fixed", "group": "", "term": n, "estimate": est[i], "std_error": se[i],
             "conf_low": est[i] - q[i] * se[i], "conf_high": est[i] + q[i] * se[i], "df": df[i], "p_value": p[i]}
            for i, n in enumerate(names)]
    ran = _ran_pars_rows(fit.varcorr.as_frame(), "sdcor")
    if conf_method != "wald" and hasattr(fit, "confint"):
        ci = fit.confint(method=conf_method, level=conf_level, **kwargs)
        for r in ran:
            key = _lme4_name(r, fit)
            if key in ci.index:
                r["conf_low"], r["conf_high"] = ci.loc[key].to_numpy()
        for r in rows:
            if r["term"] in ci.index:
                r["conf_low"], r["conf_high"] = ci.loc[r["term"]].to_numpy()
    out = pd.DataFrame(rows + ran, columns=COLUMNS)
    return out


def _tidy_bayes(fit: Any, conf_level: float) -> pd.DataFrame:
    p = fit.params
    beta = p.flat(p.beta)
    a = (1 - conf_level) / 2
    q = np.quantile(beta, [a, 1 - a], axis=0)
    rows = [{"effect": "fixed", "group": "", "term": n, "estimate": beta[:, i].mean(),
             "std_error": beta[:, i].std(ddof=1), "conf_low": q[0, i], "conf_high": q[1, i], "df": np.nan,
             "p_value": np.nan} for i, n in enumerate(fit.design.fixef_names)]
    vc = fit.varcorr
    ran = []
    for g, v1, v2, d, _ in vc.rows:
        term = "sd__Observation" if g == "Residual" else (f"sd__{v1}" if v2 is None else f"cor__{v1}.{v2}")
        lo, hi = np.quantile(d, [a, 1 - a])
        ran.append({"effect": "ran_pars", "group": g, "term": term, "estimate": float(np.median(d)),
                    "std_error": float(np.std(d, ddof=1)), "conf_low": lo, "conf_high": hi, "df": np.nan,
                    "p_value": np.nan})
    return pd.DataFrame(rows + ran, columns=COLUMNS)
