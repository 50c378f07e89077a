"""Structure found in the data: how grouping factors relate, and the classic modelling mistakes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .matrices import ModelMatrices
from .terms import RandomTerm

__all__ = ["DesignIssue", "Relation", "design_issues", "relations"]

FEW_LEVELS = 5


@dataclass(frozen=True)
class Relation:
    """How two grouping factors relate in the data: ``nested`` (every level of ``inner`` occurs within one level
    of ``outer``), ``crossed`` (every combination observed) or ``partially crossed``."""

    first: str
    second: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.first} / {self.second}: {self.kind} ({self.detail})"


@dataclass(frozen=True)
class DesignIssue:
    """A likely modelling mistake: ``kind`` is ``reused-ids``, ``non-varying-slope`` or ``few-levels``."""

    kind: str
    message: str

    def __str__(self) -> str:
        return self.message


def _unique_groups(design: ModelMatrices) -> list[RandomTerm]:
    seen: dict[str, RandomTerm] = {}
    for t in design.terms:
        seen.setdefault(t.group, t)
    return list(seen.values())


def _pair_stats(a: RandomTerm, b: RandomTerm) -> tuple[int, np.ndarray, np.ndarray]:
    """Number of observed (a, b) cells, and for each level of a / b the number of partner levels."""
    cell = a.codes * b.n_levels + b.codes
    cells = np.unique(cell)
    a_of, b_of = cells // b.n_levels, cells % b.n_levels
    return len(cells), np.bincount(a_of, minlength=a.n_levels), np.bincount(b_of, minlength=b.n_levels)


def relations(design: ModelMatrices) -> list[Relation]:
    """Nesting and crossing between each pair of distinct grouping factors."""
    groups = _unique_groups(design)
    out: list[Relation] = []
    for i, a in enumerate(groups):
        for b in groups[i + 1 :]:
            n_cells, b_per_a, a_per_b = _pair_stats(a, b)
            if np.all(a_per_b == 1):
                out.append(Relation(b.group, a.group, "nested",
                                    f"each level of {b.group} occurs within one level of {a.group}"))
            elif np.all(b_per_a == 1):
                out.append(Relation(a.group, b.group, "nested",
                                    f"each level of {a.group} occurs within one level of {b.group}"))
            elif n_cells == a.n_levels * b.n_levels:
                out.append(Relation(a.group, b.group, "crossed", "every combination of levels is observed"))
            else:
                share = n_cells / (a.n_levels * b.n_levels)
                out.append(Relation(a.group, b.group, "partially crossed",
                                    f"{share:.0%} of the combinations of levels are observed"))
    return out


def _reused_ids(design: ModelMatrices) -> list[DesignIssue]:
    issues = []
    groups = _unique_groups(design)
    names = {t.group for t in design.terms}
    for outer in groups:
        for inner in groups:
            if outer is inner or outer.n_levels >= inner.n_levels or len(inner.group_vars) != 1:
                continue
            if f"{outer.group}:{inner.group}" in names or f"{inner.group}:{outer.group}" in names:
                continue
            n_cells, inner_per_outer, outer_per_inner = _pair_stats(outer, inner)
            shared = outer_per_inner > 1
            if shared.mean() < 0.5 or n_cells <= inner.n_levels:
                continue
            # reused IDs restart within each outer level, so each outer level holds much of the inner label set;
            # genuinely crossed units (students across departments) cover a small share of it per level
            if np.mean(inner_per_outer / inner.n_levels) < 0.5:
                continue
            if design.n_obs / n_cells <= 1.0:
                continue  # one observation per cell: a genuinely crossed design (e.g. items x subjects)
            example = int(np.argmax(outer_per_inner))
            issues.append(DesignIssue(
                "reused-ids",
                f"IDs of {inner.group!r} recur across {outer.group!r}: level {inner.levels[example]!r} occurs in "
                f"{outer_per_inner[example]} of {outer.n_levels} levels of {outer.group!r}, and "
                f"{shared.mean():.0%} of the {inner.group} levels occur in more than one. The formula treats "
                f"{inner.group} and {outer.group} as crossed, so different units that share an ID are pooled. "
                f"If {inner.group} IDs are only unique within {outer.group}, write "
                f"(1 | {outer.group}/{inner.group}) or (1 | {outer.group}:{inner.group}).",
            ))
    return issues


def non_varying_columns(term: RandomTerm) -> list[str]:
    """The term's slope columns that are constant within every level of its grouping factor (their random
    slopes cannot be told apart from random intercepts)."""
    out = []
    for j, col in enumerate(term.columns):
        if col == "(Intercept)":
            continue
        z = term.z[:, j]
        lo = np.full(term.n_levels, np.inf)
        hi = np.full(term.n_levels, -np.inf)
        np.minimum.at(lo, term.codes, z)
        np.maximum.at(hi, term.codes, z)
        if np.all(hi - lo <= 1e-12 * max(1.0, float(np.max(np.abs(z))))):
            out.append(col)
    return out


def _non_varying_slopes(design: ModelMatrices) -> list[DesignIssue]:
    return [
        DesignIssue(
            "non-varying-slope",
            f"{col!r} does not vary within levels of {t.group!r}, so the random slope in {t.expr} "
            f"cannot be separated from the intercept variance; drop {col!r} from the term "
            f"(e.g. (1 | {t.group})).",
        )
        for t in design.terms
        for col in non_varying_columns(t)
    ]


def _few_levels(design: ModelMatrices) -> list[DesignIssue]:
    return [
        DesignIssue(
            "few-levels",
            f"grouping factor {t.group!r} has only {t.n_levels} levels; a variance estimated from so few is "
            f"unreliable (it is often zero). Consider {t.group} as a fixed effect, or a Bayesian fit whose "
            "prior regularises the SD.",
        )
        for t in _unique_groups(design)
        if t.n_levels < FEW_LEVELS
    ]


def design_issues(design: ModelMatrices) -> list[DesignIssue]:
    """Likely mistakes: reused IDs across an outer factor, non-varying slopes, too few levels."""
    return _reused_ids(design) + _non_varying_slopes(design) + _few_levels(design)
