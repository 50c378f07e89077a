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
    if bayes_fit is not None and not (hasattr(bayes_fit, "likelihood_fit") and hasattr(bayes_fit, "draws")):
        raise NotSupportedError("the Bayesian side of a glmmTMB-family fit is mb.glmmTMB(..., method='bayes'), not "
                                f"{type(bayes_fit).__name__}")
    post = bayes_fit.summary() if bayes_fit is not None else None
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
        if post is not None:
            _posterior(row, post, name, kind, r)
        rows[name] = row
    table = pd.DataFrame([{c: row[c] for c in columns} for row in rows.values()],
                         index=pd.Index(list(rows), name="parameter"))
    for col in columns:
        if col not in ("kind", "interval", "flag"):
            table[col] = table[col].astype(float)
    notes = []
    if bayes_fit is not None:
        notes.append("posterior columns: NUTS (mb.glmmTMB(..., method='bayes')) with the default priors of "
                     "docs/priors.md; intervals are 2.5% and 97.5% quantiles.")
    if fit.zi_formula:
        what = "hurdle (probability of a zero)" if fit.family.truncated else "zero-inflation"
        notes.append(f"zi~ rows: the {what} model, logit scale.")
    return comparison(table, "Laplace (glmmTMB)", None if bayes_fit is None else "NUTS (PyMC)", fit.formula, notes)


def _posterior(row: dict[str, Any], post: pd.DataFrame, name: str, kind: str, r: pd.Series) -> None:
    """Fill the posterior columns of one row from :meth:`TmbBayesFit.summary` (labels differ for SDs and sigma)."""
    if kind == "sd":
        label = next((i for i in post.index if i.startswith(f"sd_{r['group']}[") and i.endswith(f"[{r['term'][4:]}]")),
                     None)
    else:
        label = "sigma" if kind == "sigma" else name
    if label is None or label not in post.index:
        return
    p = post.loc[label]
    row.update(post_mean=p["mean"], post_median=p["median"], post_sd=p["sd"], post_lower=p["2.5%"],
               post_upper=p["97.5%"], r_hat=p["r_hat"], ess_bulk=p["ess_bulk"])
