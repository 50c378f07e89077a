"""Teaching views from the mixed-models chapter this project grew from.

- :func:`naive_vs_mixed`: the regression that ignores the groups against the mixed model -- the fixed-effect
  standard errors both ways, the design effect and the effective sample size;
- :func:`explain_icc`: the intraclass correlation in words, with the model's numbers;
- :func:`convergence_walkthrough` (:mod:`.walkthrough`, re-exported here): lme4's remedies for a convergence
  warning applied in order, recording which were tried and which one resolved the warning.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import _bayes
from .format import Displayed, TextTable, fmt
from .regression import fit_regression
from .walkthrough import ConvergenceWalkthrough, WalkthroughStep, convergence_walkthrough

__all__ = ["ConvergenceWalkthrough", "NaiveVsMixed", "WalkthroughStep", "convergence_walkthrough", "explain_icc",
           "naive_vs_mixed"]


# ---- naive regression against the mixed model -----------------------------------------------------------------

@dataclass(repr=False)
class NaiveVsMixed(Displayed):
    """The regression ignoring the groups against the mixed model.

    Attributes
    ----------
    table : per fixed effect: ``naive_estimate``, ``naive_se``, ``mixed_estimate``, ``mixed_se`` and ``se_ratio``
        (mixed SE / naive SE).
    groups : per grouping factor (from ``fit.icc().groups``): ``icc``, ``mean_size``, ``design_effect``, ``n_eff``.
    nobs : number of observations.
    """

    table: pd.DataFrame
    groups: pd.DataFrame
    nobs: int
    naive_name: str
    fit: Any = field(repr=False, default=None)

    def explain(self) -> str:
        """The lesson in words, with this model's numbers."""
        lines = []
        worst = self.table["se_ratio"].idxmax() if self.table["se_ratio"].notna().any() else None
        if worst is not None:
            r = self.table.loc[worst]
            direction = "too small" if r["se_ratio"] > 1 else "too large"
            lines.append(
                f"Ignoring the groups, {self.naive_name} estimates {worst!s} as {fmt(r['naive_estimate'])} with "
                f"standard error {fmt(r['naive_se'])}; the mixed model gives {fmt(r['mixed_estimate'])} with "
                f"standard error {fmt(r['mixed_se'])}. The naive standard error is {direction} by a factor "
                f"{max(r['se_ratio'], 1 / r['se_ratio']):.2f}: it treats the {self.nobs} observations as independent, "
                "but observations in the same group are correlated.")
        for g, r in self.groups.iterrows():
            lines.append(
                f"By {g}: ICC {r['icc']:.3f} with {fmt(r['mean_size'])} observations per group on average gives a "
                f"design effect of 1 + ({fmt(r['mean_size'])} - 1) x {r['icc']:.3f} = {r['design_effect']:.2f}, so "
                f"the {self.nobs} observations carry about as much information about a group-level quantity as "
                f"{r['n_eff']:.0f} independent ones (the effective sample size, n / design effect).")
        if worst is not None and len(self.groups):
            lines.append("Within-group effects (e.g. a slope over time measured in every group) can lose less than "
                         "the design effect suggests, or even gain precision; the mixed model's standard errors "
                         "account for the structure either way.")
        return "\n\n".join(lines)

    def _text_table(self) -> TextTable:
        t = TextTable(header=["fixed effect", "estimate", "SE", "estimate", "SE", "SE ratio"],
                      groups=[("", 1), (self.naive_name, 2), ("mixed model", 2), ("", 1)],
                      right=[False, True, True, True, True, True], css_class="mb-table mb-naive")
        for name, r in self.table.iterrows():
            t.add([str(name), fmt(r["naive_estimate"]), fmt(r["naive_se"]), fmt(r["mixed_estimate"]),
                   fmt(r["mixed_se"]), f"{r['se_ratio']:.2f}" if np.isfinite(r["se_ratio"]) else ""])
        return t

    def _groups_table(self) -> TextTable:
        t = TextTable(header=["group", "ICC", "obs per group", "design effect", "effective n"],
                      right=[False, True, True, True, True], css_class="mb-table mb-deff")
        for g, r in self.groups.iterrows():
            t.add([str(g), f"{r['icc']:.3f}", fmt(r["mean_size"]), f"{r['design_effect']:.3f}", f"{r['n_eff']:.1f}"])
        return t

    def to_text(self) -> str:
        return "\n\n".join([self._text_table().to_text(), self._groups_table().to_text(), self.explain()])

    def to_html(self) -> str:
        paras = "".join(f"<p>{html.escape(p)}</p>" for p in self.explain().split("\n\n"))
        return self._text_table().to_html() + self._groups_table().to_html() + paras


def naive_vs_mixed(fit: Any) -> NaiveVsMixed:
    """Ordinary regression ignoring the groups (least squares, or a GLM for other families) against the mixed
    model: fixed-effect estimates and standard errors both ways, with the design effect and effective sample size
    of each grouping factor (``fit.icc().groups``).

    Examples
    --------
    >>> import mixbayes as mb
    >>> fit = mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    >>> round(float(mb.naive_vs_mixed(fit).table.loc["Days", "naive_se"]), 3)
    1.238
    """
    d = fit.design
    naive = fit_regression(d.X, d.y, d.weights, d.offset, d.family)
    names = list(d.fixef_names)
    se = fit.se.to_numpy(float)
    table = pd.DataFrame({"naive_estimate": naive.coef, "naive_se": naive.se, "mixed_estimate": fit.beta,
                          "mixed_se": se}, index=pd.Index(names, name="fixed effect"))
    table["se_ratio"] = table["mixed_se"] / table["naive_se"]
    try:
        groups = fit.icc().groups[["icc", "mean_size", "design_effect", "n_eff"]]
    except Exception:  # e.g. an ICC that cannot be computed for this family: the SE table still teaches
        groups = pd.DataFrame(columns=["icc", "mean_size", "design_effect", "n_eff"])
    name = "least squares" if d.family.normal_residual else f"a {d.family.name} GLM"
    return NaiveVsMixed(table, groups, d.n_obs, name, fit)


# ---- the ICC in words ---------------------------------------------------------------------------------------------

def explain_icc(fit: Any, bayes_fit: Any = None) -> str:
    """The intraclass correlation explained with the model's own numbers (and its posterior, when given)."""
    icc = fit.icc()
    d = fit.design
    groups = list(icc.groups.index)
    gaussian = d.family.normal_residual
    slopes = any(t.q > 1 or t.columns != ("(Intercept)",) for t in d.terms)
    resid = ("the residual variance" if gaussian else
             f"the {d.family.name} distribution's variance on the latent ({d.family.link.name}) scale")
    who = " and ".join(groups)
    parts = [
        f"The intraclass correlation (ICC) is the share of the variance that lies between groups. Here the "
        f"random effects of {who} have variance {fmt(icc.var_random)} and {resid} is {fmt(icc.var_residual)}, so "
        f"the adjusted ICC is {fmt(icc.var_random)} / ({fmt(icc.var_random)} + {fmt(icc.var_residual)}) = "
        f"{icc.adjusted:.3f}: {100 * icc.adjusted:.0f}% of the variance left after the fixed effects is "
        "between groups."]
    if slopes:
        parts.append("With random slopes the between-group variance depends on the predictors; it is averaged over "
                     "the observations here (as performance::icc does), so two observations from the same group "
                     "correlate more or less than this depending on where they are.")
    else:
        parts.append(f"In this random-intercept model the ICC is also the correlation between two observations "
                     f"from the same group: {icc.adjusted:.3f}.")
    parts.append(f"The unadjusted ICC, {icc.unadjusted:.3f}, also counts the variance explained by the fixed "
                 f"effects ({fmt(icc.var_fixed)}) in the denominator.")
    if len(groups) > 1:
        shares = ", ".join(f"{g} {r['icc']:.3f}" for g, r in icc.groups.iterrows())
        parts.append(f"Per grouping factor: {shares}.")
    if not gaussian:
        parts.append("For a non-Gaussian model the ICC is defined on the latent scale; it is not a correlation "
                     "between the observed responses.")
    if bayes_fit is not None:
        try:
            draws = _bayes.icc_posterior(bayes_fit)["adjusted"]
            lo, med, hi = np.quantile(draws, [0.025, 0.5, 0.975])
            parts.append(f"The posterior puts the adjusted ICC at {med:.3f} (median), with 95% probability between "
                         f"{lo:.3f} and {hi:.3f}: with {min(t.n_levels for t in d.terms)} groups the between-group "
                         "variance, and so the ICC, is known only roughly.")
        except Exception as exc:  # the text goes on without the posterior sentence
            parts.append(f"(Posterior ICC not available: {exc}.)")
    return "\n\n".join(parts)
