"""The compare table of a glmmTMB-family fit: conditional and zero-inflation fixed effects, random-effect SDs and
the dispersion (glmmTMB's ``sigma``), with Wald intervals (the SDs and sigma on the log scale)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import NotSupportedError

__all__ = ["tmb_comparison"]


def tmb_comparison(fit: Any, bayes_fit: Any, empty_row: Callable[[str], dict[str, Any]], comparison: Any,
                   columns: list[str]) -> Any:
    """Build the :class:`~mixbayes.report.compare.Comparison` of a :class:`~mixbayes.results.tmb.TmbFit`."""
    if bayes_fit is not None:
        raise NotSupportedError("the Bayesian fit of the glmmTMB families is not available yet: compare() shows "
                                "the likelihood columns of a glmmTMB-family fit only")
    tidy = fit.tidy()
    rows: dict[str, dict[str, Any]] = {}
    for _, r in tidy.iterrows():
        if r["effect"] == "fixed" and r["component"] in ("cond", "zi"):
            kind, name = "fixed", (r["term"] if r["component"] == "cond" else f"zi~{r['term']}")
            interval = "Wald"
        elif r["effect"] == "ran_pars":
            kind, name, interval = "sd", f"sd_{r['term'][4:]}|{r['group']}", "Wald (log scale)"
        else:
            kind, name, interval = "sigma", f"sigma ({fit.family.name})", "Wald (log scale)"
        row = empty_row(kind)
        row.update(estimate=float(r["estimate"]), se=float(r["std.error"]), lower=float(r["conf.low"]),
                   upper=float(r["conf.high"]), interval=interval if np.isfinite(r["conf.low"]) else "")
        rows[name] = row
    table = pd.DataFrame([{c: row[c] for c in columns} for row in rows.values()],
                         index=pd.Index(list(rows), name="parameter"))
    for col in columns:
        if col not in ("kind", "interval", "flag"):
            table[col] = table[col].astype(float)
    notes = []
    if fit.zi_formula:
        what = "hurdle (probability of a zero)" if fit.family.truncated else "zero-inflation"
        notes.append(f"zi~ rows: the {what} model, logit scale.")
    return comparison(table, "Laplace (glmmTMB)", None, fit.formula, notes)
