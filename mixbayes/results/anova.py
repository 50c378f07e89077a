"""Likelihood-ratio tests between nested fits: ``mb.anova(m1, m2, ...)``, as lme4's ``anova``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import MixbayesError
from ..inference.refit import same_data as _same_data

__all__ = ["AnovaTable", "anova"]


@dataclass
class AnovaTable:
    """The LRT table (``table``) and notes (e.g. that REML fits were refitted by ML).

    Columns: npar, AIC, BIC, logLik, deviance, Chisq, Df, Pr(>Chisq), and Pr(>Chisq) boundary, the p-value
    from the 50:50 chi-square mixture when the larger model adds one variance component (the null value is on
    the boundary of the parameter space).
    """

    table: pd.DataFrame
    notes: list[str]
    fits: list[Any]

    def formatted(self) -> pd.DataFrame:
        """The table as strings: AIC, BIC, logLik, deviance and Chisq with two decimals (not rounded to
        integers), p-values with 4 significant digits, empty cells for the first model's test columns."""
        t = self.table
        out = pd.DataFrame(index=t.index)
        for col in t.columns:
            if col in ("npar", "Df"):
                out[col] = [("" if not np.isfinite(v) else f"{int(v)}") for v in t[col].astype(float)]
            elif col.startswith("Pr("):
                out[col] = [("" if not np.isfinite(v) else f"{v:.4g}") for v in t[col].astype(float)]
            else:
                out[col] = [("" if not np.isfinite(v) else f"{v:.2f}") for v in t[col].astype(float)]
        return out

    def __str__(self) -> str:
        lines = ["Models:"] + [f"{name}: {fit.formula}" for name, fit in zip(self.table.index, self.fits, strict=True)]
        lines.append(self.formatted().to_string())
        lines += self.notes
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _models(self) -> pd.DataFrame:
        return pd.DataFrame({"formula": [f.formula for f in self.fits]}, index=self.table.index)

    def _repr_html_(self) -> str:
        import html

        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
        return (self._models().to_html(classes="mb-table") + self.formatted().to_html(classes="mb-table")
                + notes)

    def to_markdown(self) -> str:
        """The table as Markdown (the models with their formulas, then the tests)."""
        from ..tables import frame_markdown

        return "\n\n".join([frame_markdown(self._models()), frame_markdown(self.formatted()), *self.notes]) + "\n"

    def to_latex(self) -> str:
        """The table as LaTeX (booktabs)."""
        from ..tables import frame_latex, latex_escape

        return "\n\n".join([frame_latex(self._models()), frame_latex(self.formatted()),
                             *[latex_escape(n) for n in self.notes]]) + "\n"


def _variance_components(fit: Any) -> set[tuple[str, str]]:
    out = set()
    for t in fit.design.terms:
        for c in t.columns:
            out.add((t.group, c))
    return out


def _caller_names(fits: list[Any], depth: int = 2) -> list[str]:
    """Each fit labelled as R's ``anova`` labels it: by the caller's variable name bound to it (``fm1``), else by
    its formula (made unique)."""
    import inspect

    frame = inspect.currentframe()
    try:
        for _ in range(depth):
            frame = frame.f_back if frame is not None else None
        scopes = [] if frame is None else [frame.f_locals, frame.f_globals]
        out = []
        for f in fits:
            found = None
            for scope in scopes:
                names = [k for k, v in scope.items() if v is f and not k.startswith("_")]
                if len(names) == 1:
                    found = names[0]
                    break
            out.append(found)
    finally:
        del frame
    labels = [n if n is not None else f.formula for n, f in zip(out, fits, strict=True)]
    if len(set(labels)) < len(labels):  # the same variable or formula twice: number them
        labels = [f"{lab} ({k + 1})" for k, lab in enumerate(labels)]
    return labels


def anova(*fits: Any, refit: bool = True, names: list[str] | None = None) -> AnovaTable:
    """Likelihood-ratio test of nested models fitted to the same data.

    REML fits are refitted by ML first (``refit=True``, as lme4 does), since REML likelihoods of models with
    different fixed effects are not comparable; with ``refit=False`` REML fits are compared only when their
    fixed effects are identical.  The rows are labelled by ``names`` or, as R does, by the variable names the
    fits have in the calling code (``mb.anova(fm1, fm2)``: ``fm1``, ``fm2``), else by their formulas.
    """
    fits_list = list(fits)
    if len(fits_list) < 2:
        raise MixbayesError("anova compares at least two fits")
    if not _same_data(fits_list):
        raise MixbayesError("models were not all fitted to the same data (different observations or response); "
                            "refit them on the same rows")
    notes: list[str] = []
    labels = list(names) if names else _caller_names(fits_list)
    is_reml = [getattr(f, "reml", False) for f in fits_list]
    if any(is_reml):
        fixed_same = len({tuple(f.design.fixef_names) for f in fits_list}) == 1
        if refit:
            fits_list = [f.model.fit("ml", emit_warnings=False) if r else f for f, r in zip(fits_list, is_reml,
                                                                                       strict=True)]
            notes.append("refitting model(s) with ML (instead of REML)")
        elif not fixed_same:
            raise MixbayesError("REML fits with different fixed effects cannot be compared; use refit=True")
    order = np.argsort([f.npar for f in fits_list], kind="stable")
    fits_list = [fits_list[i] for i in order]
    labels = [labels[i] for i in order]
    rows = []
    for k, f in enumerate(fits_list):
        row: dict[str, float] = {"npar": f.npar, "AIC": f.aic, "BIC": f.bic, "logLik": f.loglik,
                                 "deviance": -2.0 * f.loglik, "Chisq": np.nan, "Df": np.nan,
                                 "Pr(>Chisq)": np.nan, "Pr(>Chisq) boundary": np.nan}
        if k > 0:
            prev = fits_list[k - 1]
            chisq = max(2.0 * (f.loglik - prev.loglik), 0.0)
            df = f.npar - prev.npar
            row["Chisq"], row["Df"] = chisq, df
            row["Pr(>Chisq)"] = stats.chi2.sf(chisq, df) if df > 0 else np.nan
            small, large = _variance_components(prev), _variance_components(f)
            same_fixed = tuple(prev.design.fixef_names) == tuple(f.design.fixef_names)
            added = large - small
            if df > 0 and same_fixed and small <= large and len(added) == 1:
                low = stats.chi2.sf(chisq, df - 1) if df > 1 else (0.0 if chisq > 0 else 1.0)
                row["Pr(>Chisq) boundary"] = 0.5 * stats.chi2.sf(chisq, df) + 0.5 * low
                notes.append(f"{labels[k]} adds the variance of {sorted(added)[0][1]!r} for {sorted(added)[0][0]!r}: "
                             "its null value is on the boundary, so the boundary p-value uses the 50:50 mixture "
                             f"of chi-square({df - 1}) and chi-square({df}).")
        rows.append(row)
    table = pd.DataFrame(rows, index=labels)
    table["npar"] = table["npar"].astype(int)
    return AnovaTable(table, notes, fits_list)
