"""The lme4-style summary of a likelihood fit (text and HTML)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from .display import Exportable
from .format import SIGNIF_LEGEND, abbreviate, coef_table_text

if TYPE_CHECKING:
    from ..protocols import LmmFitLike as LmmFit
    from .base import MixedFit

__all__ = ["LmmSummary", "fixed_correlation_text"]


def fixed_correlation_text(fit: MixedFit) -> str:
    v = fit.vcov.to_numpy()
    if v.shape[0] < 2 or v.shape[0] > 12:
        return ""
    sd = np.sqrt(np.diag(v))
    c = v / np.outer(sd, sd)
    names = list(fit.design.fixef_names)
    short = [abbreviate(n) for n in names]
    wname = max(len(n) for n in names[1:])
    lines = [" " * wname + " " + " ".join(s.rjust(6) for s in short[:-1])]
    for i in range(1, len(names)):
        cells = [f"{c[i, j]:.3f}".replace("0.", ".", 1) if c[i, j] >= 0 else f"{c[i, j]:.3f}".replace("-0.", "-.", 1)
                 for j in range(i)]
        lines.append(names[i].ljust(wname) + " " + " ".join(x.rjust(6) for x in cells))
    return "Correlation of Fixed Effects:\n" + "\n".join(lines)


def summary_tail(fit: MixedFit, coefficients: pd.DataFrame, correlation: bool) -> list[str]:
    """The lines both summaries end with: groups, fixed effects, their correlation, convergence notes."""
    groups = ", ".join(f"{g}, {n}" for g, n in fit.ngroups.items())
    lines = [f"Number of obs: {fit.nobs}, groups:  {groups}", "", "Fixed effects:"]
    text, has_p = coef_table_text(coefficients)
    lines.append(text)
    if has_p:
        lines += ["---", SIGNIF_LEGEND]
    if correlation:
        corr = fixed_correlation_text(fit)
        if corr:
            lines += ["", corr]
    if fit.convergence.problems:
        lines += ["", "Convergence notes:"] + [f"  {m}" for _, m, _ in fit.convergence.problems]
    strategy = getattr(fit.optsummary, "strategy", [])
    if strategy:
        lines += ["", "Optimisation restarts (hard surface):"] + [f"  {m}" for m in strategy]
    return lines


def residual_lines(values: np.ndarray) -> list[str]:
    """The 'Scaled residuals' block: Min, 1Q, Median, 3Q, Max."""
    q = np.quantile(values, [0, 0.25, 0.5, 0.75, 1])
    return ["Scaled residuals: ", "  ".join(f"{k:>7}" for k in ("Min", "1Q", "Median", "3Q", "Max")),
            "  ".join(f"{v:7.4f}" for v in q), ""]


class LmmSummary(Exportable):
    """What ``summary(lmer(...))`` prints, with lmerTest's df and p-values.

    Attributes
    ----------
    coefficients : DataFrame with Estimate, Std. Error, (df,) t value, (Pr(>|t|)).
    residual_quantiles : Min, 1Q, Median, 3Q, Max of the scaled residuals.
    """

    def __init__(self, fit: LmmFit, ddf: str = "satterthwaite", correlation: bool = True) -> None:
        self.fit = fit
        self.ddf = ddf.lower().replace("_", "-")
        self.correlation = correlation
        # out-of-core (Dask) data: residual quantiles need every row, so the summary leaves them out (None)
        self.residual_quantiles: pd.Series | None = None
        if getattr(fit.design, "blocks", None) is None:
            r = fit.residuals("scaled").to_numpy()
            self.residual_quantiles = pd.Series(np.quantile(r, [0, 0.25, 0.5, 0.75, 1]),
                                                index=["Min", "1Q", "Median", "3Q", "Max"])
        self.coefficients = self._coefficients()

    def _coefficients(self) -> pd.DataFrame:
        fit = self.fit
        if self.ddf == "satterthwaite":
            return fit.satterthwaite()
        if self.ddf in ("kenward-roger", "kr"):
            from ..inference.kenward_roger import kenward_roger_table

            return kenward_roger_table(fit)
        est, se = fit.fixef.to_numpy(), fit.se.to_numpy()
        return pd.DataFrame({"Estimate": est, "Std. Error": se, "t value": est / se},
                            index=list(fit.design.fixef_names))

    @property
    def title(self) -> str:
        method = "REML" if self.fit.reml else "maximum likelihood"
        tests = {"satterthwaite": "Satterthwaite's method", "kenward-roger": "Kenward-Roger's method",
                 "kr": "Kenward-Roger's method"}.get(self.ddf)
        t = f"Linear mixed model fit by {method}"
        return t + (f". t-tests use {tests}" if tests else "")

    def __str__(self) -> str:
        fit = self.fit
        d = fit.design
        lines = [self.title, f"Formula: {fit.formula}"]
        if d.has_prior_weights:
            lines.append("Weights: yes")
        lines.append("")
        if fit.reml:
            lines.append(f"REML criterion at convergence: {fit.objective_value:.1f}")
        else:
            lines.append(f"{'AIC':>9}{'BIC':>10}{'logLik':>10}{'deviance':>10}{'df.resid':>10}")
            lines.append(f"{fit.aic:9.1f}{fit.bic:10.1f}{fit.loglik:10.1f}{fit.deviance:10.1f}{fit.df_residual:10d}")
        if self.residual_quantiles is None:
            lines += ["", "Scaled residuals: not computed (Dask data: they need a pass over every row; "
                      "fit.residuals('scaled') is a Dask series)", ""]
        else:
            lines += ["", *residual_lines(fit.residuals("scaled").to_numpy())]
        lines += ["Random effects:", fit.varcorr.table(variance=True)]
        lines += summary_tail(fit, self.coefficients, self.correlation)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        fit = self.fit
        coef = self.coefficients.copy()
        if "Pr(>|t|)" in coef:
            coef["Pr(>|t|)"] = [f"{p:.3g}" for p in coef["Pr(>|t|)"]]
        crit = (f"REML criterion at convergence: {fit.objective_value:.1f}" if fit.reml else
                f"AIC {fit.aic:.1f} &middot; BIC {fit.bic:.1f} &middot; logLik {fit.loglik:.1f}")
        vc = fit.varcorr.as_frame()
        warn = "".join(f"<li>{html.escape(m)}</li>" for _, m, _ in fit.convergence.problems)
        return (
            f"<div class='mixbayes-summary'><p><b>{html.escape(self.title)}</b><br>"
            f"<code>{html.escape(fit.formula)}</code><br>{crit}<br>{fit.nobs} observations; "
            + ", ".join(f"{html.escape(g)}: {n} levels" for g, n in fit.ngroups.items())
            + f"</p><p><b>Random effects</b></p>{vc.to_html(index=False, float_format=lambda x: f'{x:.4g}')}"
            f"<p><b>Fixed effects</b></p>{coef.to_html(float_format=lambda x: f'{x:.4g}')}"
            + (f"<p><b>Convergence</b></p><ul>{warn}</ul>" if warn else "") + "</div>"
        )


def wald_table(fit: MixedFit) -> pd.DataFrame:
    """Estimate, SE, z and p for each fixed effect (GLMMs)."""
    est, se = fit.fixef.to_numpy(), fit.se.to_numpy()
    z = est / se
    return pd.DataFrame({"Estimate": est, "Std. Error": se, "z value": z, "Pr(>|z|)": 2 * stats.norm.sf(np.abs(z))},
                        index=list(fit.design.fixef_names))
