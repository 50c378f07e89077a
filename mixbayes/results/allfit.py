"""``mb.allfit``: refit a model with every available optimiser and compare, as lme4's ``allFit``."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..likelihood.optimizers import OPTIMIZERS

__all__ = ["AllFit", "allfit"]


@dataclass
class AllFit:
    """Fits by optimiser.

    table : one row per optimiser: objective, its difference from the best, seconds, evaluations, converged,
        warnings, then the fixed effects and theta.
    fits : optimiser -> fit (or the exception it raised).
    """

    table: pd.DataFrame
    fits: dict[str, Any]

    @property
    def spread(self) -> pd.Series:
        """Largest difference across the successful optimisers, per fixed effect and theta entry."""
        cols = [c for c in self.table.columns if c.startswith(("beta:", "theta"))]
        ok = self.table["objective"].notna()
        return (self.table.loc[ok, cols].max() - self.table.loc[ok, cols].min()).rename("spread")

    def __str__(self) -> str:
        shown = self.table[["objective", "delta", "seconds", "evals", "converged", "warnings"]]
        spread = self.spread
        worst = spread.abs().max() if len(spread) else float("nan")
        return (f"{shown.to_string()}\n\nLargest spread across optimisers in fixed effects/theta: {worst:.3g}"
                + ("  (the optimisers agree: the fit is not an optimiser artefact)" if worst < 1e-3 else
                   "  (the optimisers disagree: inspect the table and fit.diagnose())"))

    def __repr__(self) -> str:
        return str(self)


def allfit(model_or_fit: Any, optimizers: list[str] | None = None, **fit_kwargs: Any) -> AllFit:
    """Refit with each optimiser (default: all in the registry except ``none``) and tabulate the results."""
    if getattr(model_or_fit, "model", None) is None:  # a Model (a fit holds the model it came from)
        model, method = model_or_fit, None
    else:
        model = model_or_fit.model
        method = getattr(model_or_fit, "method", None)
        if method in ("REML", "ML"):
            method = method.lower()
        elif hasattr(model_or_fit, "nAGQ"):
            fit_kwargs.setdefault("nAGQ", model_or_fit.nAGQ)
            method = None
    names = optimizers or [o for o in OPTIMIZERS if o != "none"]
    rows, fits = [], {}
    for name in names:
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fit = model.fit(method=method, control={"optimizer": name}, **fit_kwargs)
            except Exception as exc:  # recorded: allfit reports failures rather than stopping
                fits[name] = exc
                rows.append({"optimizer": name, "objective": np.nan, "seconds": time.perf_counter() - t0,
                             "evals": 0, "converged": False, "warnings": f"error: {exc}"})
                continue
        fits[name] = fit
        row: dict[str, Any] = {
            "optimizer": name,
            "objective": -2.0 * fit.loglik,
            "seconds": time.perf_counter() - t0,
            "evals": fit.optsummary.feval,
            "converged": fit.optsummary.converged,
            "warnings": "; ".join(str(w.message).split(". Remedy")[0] for w in caught
                                  if issubclass(w.category, UserWarning)) or "",
        }
        row.update({f"beta:{k}": v for k, v in fit.fixef.items()})
        row.update({f"theta[{i}]": v for i, v in enumerate(fit.theta)})
        rows.append(row)
    table = pd.DataFrame(rows).set_index("optimizer")
    table.insert(1, "delta", table["objective"] - table["objective"].min())
    return AllFit(table, fits)
