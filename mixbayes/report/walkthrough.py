"""``mb.convergence_walkthrough``: lme4's remedies for a convergence warning applied in order (rescale the
predictors, simplify the random effects, switch the optimiser, raise the evaluation limit), recording which were
tried and which one resolved the warning.  Each remedy derives a model with :meth:`~mixbayes.Model.update`.
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
from .format import Displayed, TextTable, fmt

__all__ = ["ConvergenceWalkthrough", "WalkthroughStep", "convergence_walkthrough"]


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
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = model.update(formula=formula, data=data)
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

    def try_formula(remedy: str, action: str, formula: str) -> bool:
        """Fit ``formula`` on the current data and record the step."""
        m2 = _new_model(current_model, formula, current_model.data, notes)
        f2, _ = _fit_quietly(m2, method)
        kinds = _kinds(f2, m2)
        return record(WalkthroughStep(remedy=remedy, tried=True, action=action, formula=formula, problems=kinds,
                                      resolved=f2 is not None and not kinds, fit=f2))

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
            done = try_formula(remedies[0], f"dropped {term.columns[k]!r} from {term.expr}{why}",
                               _rewrite(current_model, term, [f"({lhs} | {term.group})"]))
        full = _lhs_text(list(term.columns))
        if done:
            skip(remedies[1], "not tried: already resolved")
        elif term.split_from is not None or full is None:
            skip(remedies[1], f"not applicable: {term.expr} is already uncorrelated or not plain variables")
        else:
            done = try_formula(remedies[1], f"{term.expr} made uncorrelated",
                               _rewrite(current_model, term, [f"({full} || {term.group})"]))

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
