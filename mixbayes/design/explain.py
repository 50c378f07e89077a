"""``Model.explain()``: a readable account of the structure a formula finds in the data."""

from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd

from .checks import DesignIssue, Relation, design_issues, relations
from .matrices import ModelMatrices

__all__ = ["Explanation", "explain"]


@dataclass(kw_only=True, frozen=True)
class Explanation:
    """Terms, grouping-factor relations and warnings of a model; prints as text, renders as HTML."""

    formula: str
    explicit: str
    family: str
    n_obs: int
    n_dropped: int
    fixef_names: tuple[str, ...]
    dropped_fixef: tuple[str, ...]
    terms: pd.DataFrame
    relations: tuple[Relation, ...]
    issues: tuple[DesignIssue, ...]

    def __str__(self) -> str:
        lines = [
            f"Formula:   {self.formula}",
            f"Explicit:  {self.explicit}",
            f"Family:    {self.family}",
            f"Data:      {self.n_obs} observations"
            + (f" ({self.n_dropped} rows with missing values dropped)" if self.n_dropped else ""),
            f"Fixed effects ({len(self.fixef_names)}): {', '.join(self.fixef_names) or 'none'}",
        ]
        if self.dropped_fixef:
            lines.append(f"  dropped as aliased: {', '.join(self.dropped_fixef)}")
        lines.append("Random effects (lme4 order):")
        if len(self.terms):
            lines += ["  " + row for row in self.terms.to_string(index=False).splitlines()]
        else:
            lines.append("  none")
        if self.relations:
            lines.append("Grouping factors in the data:")
            lines += [f"  {r}" for r in self.relations]
        lines.append("Warnings:" if self.issues else "Warnings: none")
        lines += [f"  ! {i}" for i in self.issues]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        rel = "".join(f"<li>{html.escape(str(r))}</li>" for r in self.relations)
        iss = "".join(f"<li>{html.escape(str(i))}</li>" for i in self.issues) or "<li>none</li>"
        return (
            f"<div class='mixbayes-explain'><p><b>Formula</b> <code>{html.escape(self.formula)}</code><br>"
            f"<b>Explicit</b> <code>{html.escape(self.explicit)}</code><br><b>Family</b> {self.family}<br>"
            f"<b>Observations</b> {self.n_obs} ({self.n_dropped} dropped)</p>"
            f"<p><b>Fixed effects</b>: {html.escape(', '.join(self.fixef_names))}</p>"
            f"{self.terms.to_html(index=False)}<p><b>Grouping factors</b></p><ul>{rel}</ul>"
            f"<p><b>Warnings</b></p><ul>{iss}</ul></div>"
        )


def explain(design: ModelMatrices) -> Explanation:
    rows = []
    for t in design.terms:
        counts = t.counts()
        rows.append({
            "term": t.expr,
            "group": t.group,
            "levels": t.n_levels,
            "obs/level min": int(counts.min()),
            "mean": round(float(counts.mean()), 2),
            "max": int(counts.max()),
            "columns": ", ".join(t.columns),
            "covariance": t.covariance if t.split_from is None else f"independent (from {t.split_from})",
            "theta": t.n_theta,
        })
    return Explanation(
        formula=design.formula.text,
        explicit=design.formula.explicit(),
        family=str(design.family),
        n_obs=design.n_obs,
        n_dropped=len(design.dropped_index),
        fixef_names=design.fixef_names,
        dropped_fixef=design.dropped_fixef,
        terms=pd.DataFrame(rows),
        relations=tuple(relations(design)),
        issues=tuple(design_issues(design)),
    )
