"""Teaching views from the mixed-models chapter this project grew from.

- :func:`naive_vs_mixed`: the regression that ignores the groups against the mixed model -- the fixed-effect
  standard errors both ways, the design effect and the effective sample size;
- :func:`explain_icc`: the intraclass correlation in words, with the model's numbers;
- :func:`convergence_walkthrough`: lme4's remedies for a convergence warning applied in order (rescale the
  predictors, simplify the random effects, switch the optimiser, raise the evaluation limit), recording which
  were tried and which one resolved the warning.
"""

from __future__ import annotations

import html
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..design.checks import non_varying_columns
from ..exceptions import DesignError
from . import _bayes
from .format import Displayed, TextTable, fmt
from .regression import fit_regression

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
    name = "least squares" if d.family.name == "gaussian" else f"a {d.family.name} GLM"
    return NaiveVsMixed(table, groups, d.n_obs, name, fit)


# ---- the ICC in words ---------------------------------------------------------------------------------------------

def explain_icc(fit: Any, bayes_fit: Any = None) -> str:
    """The intraclass correlation explained with the model's own numbers (and its posterior, when given)."""
    icc = fit.icc()
    d = fit.design
    groups = list(icc.groups.index)
    gaussian = d.family.name == "gaussian"
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


# ---- the convergence walkthrough ----------------------------------------------------------------------------------

@dataclass(kw_only=True)
class WalkthroughStep:
    """One remedy: what was done, and with what result.

    remedy : ``rescale predictors``, ``drop the smallest-variance slope``, ``uncorrelated random effects (||)``,
        ``switch optimizer``, ``raise the evaluation limit``.
    tried : whether it was applied (False: not applicable, or not needed any more).
    action : what was changed (or why it was not tried).
    formula : the formula fitted in this step.
    problems : the kinds of the problems left after the step (``scale``, ``gradient``, ``hessian``, ``singular``,
        ``optimizer``).
    resolved : whether the step's fit had no convergence problem left.
    """

    remedy: str
    tried: bool
    action: str
    formula: str = ""
    problems: list[str] = field(default_factory=list)
    resolved: bool = False
    fit: Any = field(default=None, repr=False)


@dataclass(kw_only=True, repr=False)
class ConvergenceWalkthrough(Displayed):
    """The remedies applied to a model with a convergence warning, in order.

    Attributes
    ----------
    initial_problems : the original fit's problems as (kind, message, remedy).
    steps : one :class:`WalkthroughStep` per remedy, in the order applied.
    resolved_by : the remedy that resolved the warning (None if none did, or there was nothing to resolve).
    final_fit : the fit the walkthrough ends with (the resolving fit, else the original).
    notes : design warnings raised while building the models.
    """

    formula: str
    initial_problems: list[tuple[str, str, str]]
    steps: list[WalkthroughStep]
    resolved_by: str | None
    final_fit: Any = field(repr=False, default=None)
    notes: list[str] = field(default_factory=list)

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{"remedy": s.remedy, "tried": s.tried, "action": s.action, "formula": s.formula,
                              "problems left": ", ".join(s.problems), "resolved": s.resolved} for s in self.steps])

    def to_text(self) -> str:
        lines = [f"Convergence walkthrough: {self.formula}"]
        if not self.initial_problems:
            lines.append("The fit has no convergence problem; nothing to do.")
            return "\n".join(lines)
        lines.append("Problems of the original fit:")
        lines += [f"  [{k}] {m}" for k, m, _ in self.initial_problems]
        for i, s in enumerate(self.steps, 1):
            status = ("RESOLVED" if s.resolved else ("still: " + ", ".join(s.problems) if s.problems else "ok")) \
                if s.tried else "not tried"
            lines.append(f"{i}. {s.remedy}: {s.action}" + (f"\n   formula: {s.formula}" if s.tried else "")
                         + f"\n   -> {status}")
        lines.append(f"Resolved by: {self.resolved_by}" if self.resolved_by else
                     "No remedy resolved every problem; see the last fit's diagnose() and consider a Bayesian fit, "
                     "whose priors keep variance components off the boundary.")
        lines += self.notes
        return "\n".join(lines)

    def to_html(self) -> str:
        if not self.initial_problems:
            return f"<p>{html.escape(self.formula)}: no convergence problem; nothing to do.</p>"
        probs = "".join(f"<li><b>[{html.escape(k)}]</b> {html.escape(m)}</li>" for k, m, _ in self.initial_problems)
        t = TextTable(header=["#", "remedy", "tried", "action", "formula", "problems left", "resolved"],
                      right=[True, False, False, False, False, False, False], css_class="mb-table mb-walkthrough")
        for i, s in enumerate(self.steps, 1):
            t.add([str(i), s.remedy, "yes" if s.tried else "no", s.action, s.formula if s.tried else "",
                   ", ".join(s.problems) if s.tried else "", "yes" if s.resolved else ""],
                  "resolved" if s.resolved else ("" if s.tried else "skipped"))
        end = (f"Resolved by: <b>{html.escape(self.resolved_by)}</b>." if self.resolved_by else
               "No remedy resolved every problem.")
        notes = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in self.notes)
        return f"<p>Problems of the original fit:</p><ul>{probs}</ul>{t.to_html()}<p>{end}</p>{notes}"


def _fit_quietly(model: Any, method: str | None, control: Any = None) -> tuple[Any, str | None]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.fit(method=method, control=control, emit_warnings=False), None
    except Exception as exc:  # a failed refit is a result of the walkthrough, not an error of it
        return None, f"{type(exc).__name__}: {exc}"


def _non_varying(term: Any) -> list[str]:
    """Slope columns of a term with an intercept that do not vary within its groups (see the design checks)."""
    return non_varying_columns(term) if "(Intercept)" in term.columns else []


def _design_problems(model: Any) -> list[tuple[str, str, str]]:
    out = []
    for t in model.design.terms:
        for col in _non_varying(t):
            out.append(("design", f"{col!r} does not vary within levels of {t.group!r}, so its random slope in "
                                  f"{t.expr} cannot be separated from the random intercept",
                        f"drop {col!r} from {t.expr}"))
    return out


def _kinds(fit: Any, model: Any = None) -> list[str]:
    if fit is None:
        return ["error"]
    kinds = {k for k, _, _ in fit.convergence.problems}
    if model is not None and _design_problems(model):
        kinds.add("non-varying slope")
    return sorted(kinds)


def _new_model(model: Any, formula: str, data: pd.DataFrame, notes: list[str]) -> Any:
    from ..model import Model

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = Model(formula, data, family=model.family, weights=model._weights_arg, offset=model._offset_arg,
                  functions=model.functions)
    for w in caught:
        msg = f"({formula}) {w.message}"
        if "does not vary within levels" in msg:  # listed as a 'design' problem instead
            continue
        if msg not in notes:
            notes.append(msg)
    return m


def _lhs_text(columns: list[str]) -> str | None:
    """The left-hand side of a bar term with these model columns, when they are plain variables."""
    parts = []
    for c in columns:
        if c == "(Intercept)":
            parts.append("1")
        elif re.fullmatch(r"[A-Za-z_.][A-Za-z0-9_.]*", c):
            parts.append(c)
        else:
            return None
    if "1" not in parts:
        parts.insert(0, "0")
    return " + ".join(parts)


def _rewrite(model: Any, term: Any, new_terms: list[str]) -> str:
    f = model.formula
    rhs = [f.fixed_text()] + [f"offset({o})" for o in f.offsets]
    replaced = False
    for spec in f.random:
        if spec.text == term.expr and not replaced:
            rhs += new_terms
            replaced = True
        elif spec.text != term.expr:
            rhs.append(spec.text)
    return f"{f.response_text} ~ " + " + ".join(rhs).replace("+ -", "- ")


def _target_term(fit: Any) -> Any:
    """The term to simplify: one with a slope that does not vary within groups, else a singular one, else the
    largest one with slopes."""
    d = fit.design
    for t in d.terms:
        if _non_varying(t):
            return t
    for t in d.terms:
        T = t.factor(fit.theta)
        if t.q > 1 and np.any(np.abs(np.diag(T)) < 1e-4):
            return t
    multi = [t for t in d.terms if t.q > 1]
    return max(multi, key=lambda t: t.q) if multi else None


def convergence_walkthrough(model: Any, method: str | None = None, stop_when_resolved: bool = True,
                            maxeval_factor: int = 10) -> ConvergenceWalkthrough:
    """Apply lme4's remedies for a convergence warning in order and record what each one did.

    1. **rescale predictors**: continuous predictors that the scale check names are centred and scaled (in a
       copy of the data; the formula is unchanged);
    2. **drop the smallest-variance slope** of the term that is singular (or has the most columns), then, if
       that does not resolve it, **make the term uncorrelated** (``||``) instead;
    3. **switch optimizer**: refit with every optimiser (:func:`mixbayes.allfit`) and keep the first that
       converges cleanly;
    4. **raise the evaluation limit** when the optimiser stopped at it.

    Rescaling is kept for the later steps (it changes the units, not the model); a structural change is kept
    only if it resolves the problem.  A problem is resolved when the refit has no convergence problem left
    (``fit.convergence.problems`` empty, singular fits included).

    Parameters
    ----------
    model : Model
        The model (a fitted model's ``fit.model`` also works).
    method : ``"reml"``/``"ml"`` for linear mixed models (default REML), or a GLMM method.
    stop_when_resolved : stop at the first remedy that resolves the warning (the rest are listed as not tried).
    maxeval_factor : the evaluation limit is multiplied by this in step 4.
    """
    from ..likelihood.convergence import scale_problems, smallest_slope
    from ..results.allfit import allfit

    model = getattr(model, "model", model)
    notes: list[str] = []
    fit, err = _fit_quietly(model, method)
    if fit is None:
        raise DesignError(f"the model cannot be fitted at all ({err}); the walkthrough needs a fit to start from")
    initial = list(fit.convergence.problems) + _design_problems(model)
    steps: list[WalkthroughStep] = []
    result = ConvergenceWalkthrough(formula=model.formula.text, initial_problems=initial, steps=steps,
                                    resolved_by=None, final_fit=fit, notes=notes)
    if not initial:
        return result
    current_model, current_fit = model, fit
    done = False

    def skip(remedy: str, why: str) -> None:
        steps.append(WalkthroughStep(remedy=remedy, tried=False, action=why))

    def record(step: WalkthroughStep) -> bool:
        steps.append(step)
        if step.resolved and result.resolved_by is None:
            result.resolved_by = step.remedy
            result.final_fit = step.fit
        return step.resolved and stop_when_resolved

    # 1. rescale
    remedy = "rescale predictors"
    bad = scale_problems(current_model.design)
    data = current_model.data
    cols = [c for c in bad if c in data.columns and pd.api.types.is_numeric_dtype(data[c])]
    if not bad:
        skip(remedy, "not needed: no predictor is on a very different scale")
    elif not cols:
        skip(remedy, f"not applicable automatically: {', '.join(bad)} are not plain data columns "
                     "(rescale them in the data)")
    else:
        new_data = data.copy()
        desc = []
        for c in cols:
            mu, sd = float(new_data[c].mean()), float(new_data[c].std())
            new_data[c] = (new_data[c] - mu) / (sd if sd > 0 else 1.0)
            desc.append(f"{c} -> ({c} - {fmt(mu)}) / {fmt(sd)}")
        m2 = _new_model(current_model, current_model.formula.text, new_data, notes)
        f2, err = _fit_quietly(m2, method)
        kinds = _kinds(f2, m2)
        step = WalkthroughStep(remedy=remedy, tried=True, action="centred and scaled " + "; ".join(desc),
                               formula=m2.formula.text, problems=kinds, resolved=f2 is not None and not kinds, fit=f2)
        if f2 is not None:
            current_model, current_fit = m2, f2
        done = record(step)

    # 2. simplify the random effects
    remedies = ("drop the smallest-variance slope", "uncorrelated random effects (||)")
    term = _target_term(current_fit) if not done else None
    if done:
        for r in remedies:
            skip(r, "not tried: already resolved")
    elif term is None:
        for r in remedies:
            skip(r, "not applicable: no random-effects term has slopes")
    else:
        sds = np.sqrt(np.sum(term.factor(current_fit.theta) ** 2, axis=1))
        k = smallest_slope(term, current_fit.theta)
        flat = _non_varying(term)
        why = f" (smallest SD, {fmt(sds[k] * (current_fit.scale_sigma or 1.0))})"
        if flat:
            k = term.columns.index(flat[0])
            why = f" (it does not vary within {term.group})"
        kept = [c for i, c in enumerate(term.columns) if i != k]
        lhs = _lhs_text(kept)
        if lhs is None:
            skip(remedies[0], f"not applicable automatically: the columns of {term.expr} are not plain variables")
        else:
            formula = _rewrite(current_model, term, [f"({lhs} | {term.group})"])
            m2 = _new_model(current_model, formula, current_model.data, notes)
            f2, err = _fit_quietly(m2, method)
            kinds = _kinds(f2, m2)
            done = record(WalkthroughStep(remedy=remedies[0], tried=True,
                                          action=f"dropped {term.columns[k]!r} from {term.expr}{why}", formula=formula,
                                          problems=kinds, resolved=f2 is not None and not kinds, fit=f2))
        full = _lhs_text(list(term.columns))
        if done:
            skip(remedies[1], "not tried: already resolved")
        elif term.split_from is not None or full is None:
            skip(remedies[1], f"not applicable: {term.expr} is already uncorrelated or not plain variables")
        else:
            formula = _rewrite(current_model, term, [f"({full} || {term.group})"])
            m2 = _new_model(current_model, formula, current_model.data, notes)
            f2, err = _fit_quietly(m2, method)
            kinds = _kinds(f2, m2)
            done = record(WalkthroughStep(remedy=remedies[1], tried=True, action=f"{term.expr} made uncorrelated",
                                          formula=formula, problems=kinds, resolved=f2 is not None and not kinds,
                                          fit=f2))

    # 3. switch optimizer
    remedy = "switch optimizer"
    if done:
        skip(remedy, "not tried: already resolved")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            af = allfit(current_fit)
        clean = [name for name, f2 in af.fits.items()
                 if not isinstance(f2, Exception) and not f2.convergence.problems]
        best = clean[0] if clean else None
        f2 = af.fits[best] if best else None
        spread = float(af.spread.abs().max()) if len(af.spread) else float("nan")
        action = (f"refitted with {len(af.fits)} optimizers (mb.allfit): "
                  + (f"{', '.join(clean)} converged cleanly" if clean else "none converged cleanly")
                  + f"; largest spread of the estimates {spread:.3g}")
        kinds = _kinds(f2, current_model) if f2 is not None else sorted({k for name, x in af.fits.items()
                                                          if not isinstance(x, Exception)
                                                          for k, _, _ in x.convergence.problems})
        done = record(WalkthroughStep(remedy=remedy, tried=True, action=action, formula=current_model.formula.text,
                                      problems=kinds, resolved=f2 is not None and not kinds, fit=f2))

    # 4. raise the evaluation limit
    remedy = "raise the evaluation limit"
    hit = any(k == "optimizer" for k, _, _ in current_fit.convergence.problems)
    if done:
        skip(remedy, "not tried: already resolved")
    elif not hit:
        skip(remedy, "not needed: the optimizer did not stop at its evaluation limit")
    else:
        ctrl = current_fit.control
        old = ctrl.get("maxeval") if isinstance(ctrl, dict) else getattr(ctrl, "maxeval", None)
        limit = int(old or 100000) * maxeval_factor
        f2, err = _fit_quietly(current_model, method, control={"maxeval": limit})
        kinds = _kinds(f2, current_model)
        record(WalkthroughStep(remedy=remedy, tried=True, action=f"maxeval raised to {limit}",
                               formula=current_model.formula.text, problems=kinds,
                               resolved=f2 is not None and not kinds, fit=f2))
    return result
