"""Tables of a glmmTMB-family fit: glmmTMB's summary layout, coefficient tables and ``tidy``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import ArgumentError
from .format import SIGNIF_LEGEND, coef_table_text

TmbFit = Any  # mixbayes.results.tmb.TmbFit (not imported: that module imports this one)

__all__ = ["TmbSummary", "coef_table", "tidy"]


def coef_table(fit: TmbFit, part: str = "cond") -> pd.DataFrame:
    """Wald table (Estimate, Std. Error, z value, Pr(>|z|)) of the conditional or zero-inflation model."""
    if part not in ("cond", "zi"):
        raise ArgumentError(f"part must be 'cond' or 'zi', not {part!r}")
    est = fit.fixef if part == "cond" else fit.fixef_zi
    se = fit.se if part == "cond" else fit.se_zi
    if est is None or se is None:
        return pd.DataFrame(columns=["Estimate", "Std. Error", "z value", "Pr(>|z|)"])
    z = est.to_numpy() / se.to_numpy()
    return pd.DataFrame({"Estimate": est.to_numpy(), "Std. Error": se.to_numpy(), "z value": z,
                         "Pr(>|z|)": 2 * stats.norm.sf(np.abs(z))}, index=est.index)


def _g(x: float, digits: int = 5) -> str:
    return f"{x:.{digits}g}"


class TmbSummary:
    """glmmTMB's ``summary()``: printed as glmmTMB prints it; ``cond`` and ``zi`` hold the tables."""

    def __init__(self, fit: TmbFit) -> None:
        self.fit = fit
        self.cond = coef_table(fit, "cond")
        self.zi = coef_table(fit, "zi") if fit.zi_design is not None else None

    def __str__(self) -> str:
        f = self.fit
        fam = f.family
        lines = [f" Family: {fam.name}  ( {fam.link} )", f"Formula:          {f.design.formula.text}"]
        if f.zi_formula:
            lines.append(f"{'Hurdle' if fam.truncated else 'Zero inflation'}:{' ' * 9}{f.zi_formula}")
        stats_row = {"AIC": f.aic, "BIC": f.bic, "logLik": f.loglik, "deviance": -2 * f.loglik,
                     "df.resid": f.df_residual}
        cells = [f"{v:.1f}" if k != "df.resid" else str(int(v)) for k, v in stats_row.items()]
        w = max(8, *(len(c) for c in cells))
        lines += ["", " ".join(k.rjust(w) for k in stats_row), " ".join(c.rjust(w) for c in cells), "",
                  "Random effects:", "", "Conditional model:", " Groups Name        Variance Std.Dev."]
        for t in f.design.terms:
            T = t.factor(f.theta)
            sd = np.sqrt(np.diag(T @ T.T))
            for j, c in enumerate(t.columns):
                lines.append(f" {(t.group if j == 0 else ''):<6} {c:<11} {_g(sd[j] ** 2, 4):<8} {_g(sd[j], 4)}")
        groups = ", ".join(f"{g}, {n}" for g, n in f.ngroups.items())
        lines.append(f"Number of obs: {f.nobs}, groups:  {groups}")
        if fam.has_dispersion:
            lines += ["", f"Dispersion parameter for {fam.name} family (): {f.sigma:.3g} "]
        text, starred = coef_table_text(self.cond)
        lines += ["", "Conditional model:", text]
        if self.zi is not None:
            ztext, zstar = coef_table_text(self.zi)
            starred = starred or zstar
            lines += ["", f"{'Zero-truncated hurdle' if fam.truncated else 'Zero-inflation'} model:", ztext]
        if starred:
            lines += ["---", SIGNIF_LEGEND]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def tidy(fit: TmbFit, conf_level: float = 0.95) -> pd.DataFrame:
    """broom.mixed-style rows: effect, component (cond / zi / disp), group, term, estimate, std.error,
    statistic, p.value, conf.low, conf.high (Wald; the SDs and the dispersion on the log scale, back-transformed)."""
    zq = stats.norm.ppf(0.5 + conf_level / 2)
    rows = []
    for part in ("cond", "zi"):
        tab = coef_table(fit, part)
        for term, r in tab.iterrows():
            est, se = r["Estimate"], r["Std. Error"]
            rows.append({"effect": "fixed", "component": part, "group": None, "term": term, "estimate": est,
                         "std.error": se, "statistic": r["z value"], "p.value": r["Pr(>|z|)"],
                         "conf.low": est - zq * se, "conf.high": est + zq * se})
    V = fit.vcov_full
    names = list(V.index)
    for t in fit.design.terms:
        T = t.factor(fit.theta)
        sd = np.sqrt(np.diag(T @ T.T))
        for j, c in enumerate(t.columns):
            key = f"log_sd|{t.group}.{c}"
            se_log = float(np.sqrt(V.loc[key, key])) if key in names else np.nan
            rows.append({"effect": "ran_pars", "component": "cond", "group": t.group, "term": f"sd__{c}",
                         "estimate": sd[j], "std.error": np.nan, "statistic": np.nan, "p.value": np.nan,
                         "conf.low": sd[j] * np.exp(-zq * se_log), "conf.high": sd[j] * np.exp(zq * se_log)})
    if fit.family.has_dispersion:
        se_log = float(np.sqrt(V.loc["d~(Intercept)", "d~(Intercept)"]))
        s = fit.sigma
        rows.append({"effect": "fixed", "component": "disp", "group": None, "term": "sigma", "estimate": s,
                     "std.error": np.nan, "statistic": np.nan, "p.value": np.nan,
                     "conf.low": s * np.exp(-zq * se_log), "conf.high": s * np.exp(zq * se_log)})
    return pd.DataFrame(rows)
