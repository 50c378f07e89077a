"""Hypothesis matrices of lmerTest's type III (and type I) ANOVA, one per model term.

lmerTest's construction (``get_contrasts_type3`` for treatment contrasts): with X the model matrix and rdX the
"rank-deficient" matrix that codes every term with all its levels (``model.matrix(~ 0 + term)`` per term,
an intercept column first), L = t(ginv(X) rdX) says how each rdX column is written in X's coefficients.
Going through the terms from the highest order down, the columns of L that belong to a term contained in
others (its variables are a strict subset of theirs, with the same numeric variables) are replaced by their
residuals on the columns of the containing terms.  The hypothesis of a term is then read off the rows of L
that name X's columns.  For a single term (or a single column) lmerTest falls back to type I, whose
hypotheses are rows of the transposed unit lower factor of the Doolittle decomposition of X'X.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..design.naming import split_components
from ..exceptions import NotSupportedError

if TYPE_CHECKING:
    from ..design.matrices import ModelMatrices

__all__ = ["FixedTerm", "doolittle", "fixed_terms", "type1_hypotheses", "type3_hypotheses", "zapsmall"]


@dataclass(frozen=True)
class FixedTerm:
    """One term of the fixed part.

    label : R's term label (``x``, ``f``, ``x:f``); ``(Intercept)`` for the intercept.
    formulaic : the term as formulaic writes it (to rebuild its all-levels coding).
    variables : the term's variables (formulaic factor expressions).
    numeric : the variables that are single numeric columns (R's ``dataClasses == "numeric"``).
    columns : indices of the term's columns in X (aliased columns dropped; may be empty).
    """

    label: str
    formulaic: str
    variables: tuple[str, ...]
    numeric: tuple[str, ...]
    columns: tuple[int, ...]

    @property
    def order(self) -> int:
        return len(self.variables)


def zapsmall(x: np.ndarray, digits: int = 7) -> np.ndarray:
    """R's ``zapsmall``: round to ``digits`` significant digits relative to the largest absolute entry."""
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        return x
    mx = float(np.max(np.abs(x)))
    d = max(0, digits - int(np.ceil(np.log10(mx)))) if mx > 0 else digits
    return np.round(x, d)


def ginv(a: np.ndarray) -> np.ndarray:
    """MASS's ``ginv``: Moore-Penrose inverse dropping singular values below sqrt(eps) times the largest."""
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    if s.size == 0:
        return np.zeros(a.T.shape)
    keep = s > max(np.sqrt(np.finfo(float).eps) * s[0], 0.0)
    return (vt[keep].T / s[keep]) @ u[:, keep].T


def doolittle(x: np.ndarray, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """LU decomposition without pivoting (L unit lower triangular), as lmerTest's ``doolittle``."""
    n = x.shape[0]
    L = np.eye(n)
    U = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            U[i, j] = x[i, j] - L[i, :i] @ U[:i, j]
        for j in range(i + 1, n):
            value = x[j, i] - L[j, :i] @ U[:i, i]
            L[j, i] = 0.0 if abs(U[i, i]) < eps else value / U[i, i]
    L[np.abs(L) < eps] = 0.0
    U[np.abs(U) < eps] = 0.0
    return L, U


def _factor_columns(expr: str, design: ModelMatrices) -> np.ndarray:
    from ..design.fixed import model_matrix

    mm = model_matrix(f"0 + {expr}", design.frame, design.functions, ensure_full_rank=False)
    return np.asarray(mm, dtype=float)


def _label(r_name: str, variables: list[str], categorical: set[str], multi: set[str]) -> str:
    """R's term label from the R name of one of the term's columns."""
    parts = []
    for comp in split_components(r_name):
        cat = [v for v in variables if v in categorical and comp.startswith(v)]
        if cat:
            parts.append(max(cat, key=len))
            continue
        numeric_multi = [v for v in variables if v in multi and comp.startswith(v)]
        parts.append(re.sub(r"\d+$", "", comp) if numeric_multi else comp)
    return ":".join(parts)


def fixed_terms(design: ModelMatrices) -> list[FixedTerm]:
    """The fixed part's terms in R's order, with the columns of X each one owns."""
    spec = design.fixed_spec
    if spec is None or design.frame is None:
        raise NotSupportedError("this design does not record its fixed-effects terms")
    fspec = spec.formulaic_spec
    structure = list(fspec.structure)
    owner: list[int] = []
    for k, s in enumerate(structure):
        owner += [k] * len(s.columns)
    n_full = len(spec.order)
    full_names: list[str] = []
    dropped = iter(design.dropped_fixef)
    kept = {pos: i for i, pos in enumerate(spec.keep)}
    for pos in range(n_full):
        full_names.append(spec.names[kept[pos]] if pos in kept else next(dropped))
    enc = fspec.encoder_state
    categorical = set()
    for name, (kind, state) in enc.items():
        if getattr(kind, "value", str(kind)) == "categorical":
            categorical.add(name)
            contrasts = state.get("contrasts")
            cname = type(getattr(contrasts, "contrasts", None)).__name__
            if contrasts is not None and cname != "TreatmentContrasts":
                raise NotSupportedError(f"type III tests are implemented for treatment contrasts; {name!r} uses "
                                        f"{cname}")
    multi: set[str] = set()
    terms: list[tuple[int, FixedTerm]] = []
    for k, s in enumerate(structure):
        positions = [pos for pos in range(n_full) if owner[spec.order[pos]] == k]
        variables = [str(f.expr) for f in s.term.factors if str(f.expr) != "1"]
        if not variables:
            terms.append((positions[0], FixedTerm("(Intercept)", "1", (), (), tuple(kept[p] for p in positions
                                                                                  if p in kept))))
            continue
        numeric = []
        for v in variables:
            if v in categorical:
                continue
            if _factor_columns(v, design).shape[1] == 1:
                numeric.append(v)
            else:
                multi.add(v)
        label = _label(full_names[positions[0]], variables, categorical, multi)
        columns = tuple(kept[p] for p in positions if p in kept)
        terms.append((positions[0], FixedTerm(label, str(s.term), tuple(variables), tuple(numeric), columns)))
    terms.sort(key=lambda t: t[0])
    return [t for _, t in terms]


def _contains(term: FixedTerm, other: FixedTerm) -> bool:
    """lmerTest's ``term_contain``: term's variables are a strict subset of other's, same numeric variables."""
    a, b = set(term.variables), set(other.variables)
    return a <= b and len(b - a) > 0 and set(term.numeric) == set(other.numeric)


def type1_hypotheses(design: ModelMatrices, terms: list[FixedTerm] | None = None) -> dict[str, np.ndarray]:
    """Type I hypotheses per term: rows of t(L) from the Doolittle decomposition of X'X."""
    blocks = getattr(design, "blocks", None)  # out-of-core data: X'X summed over the partitions
    xtx = blocks.xtx if blocks is not None else np.asarray(design.X, dtype=float).T @ np.asarray(design.X, float)
    design = getattr(design, "coding", None) or design
    p = xtx.shape[1]
    terms = fixed_terms(design) if terms is None else terms
    model_terms = [t for t in terms if t.label != "(Intercept)"]
    if p == 0:
        return {}
    if p == 1:
        Lt = np.ones((1, 1))
    else:
        Lt = doolittle(xtx)[0].T
    return {t.label: Lt[list(t.columns), :] for t in model_terms}


def type3_hypotheses(design: ModelMatrices) -> dict[str, np.ndarray]:
    """Type III hypothesis matrix of each model term, as lmerTest builds them for treatment contrasts.

    Terms whose columns were all dropped as aliased get a 0-row matrix (their ANOVA row is NA).
    """
    coding = getattr(design, "coding", None)  # out-of-core data: the coding read off synthetic rows
    terms = fixed_terms(coding or design)
    model_terms = [t for t in terms if t.label != "(Intercept)"]
    if design.n_fixef <= 1 or len(model_terms) <= 1:
        return type1_hypotheses(design, terms)
    design = coding or design
    X = np.asarray(design.X, dtype=float)
    blocks: list[np.ndarray] = []
    rd_term: list[int] = []
    has_intercept = any(t.label == "(Intercept)" for t in terms)
    if has_intercept:
        blocks.append(np.ones((X.shape[0], 1)))
        rd_term.append(-1)
    for k, t in enumerate(model_terms):
        cols = _factor_columns(t.formulaic, design)
        blocks.append(cols)
        rd_term += [k] * cols.shape[1]
    rdX = np.column_stack(blocks)
    rd_term_a = np.asarray(rd_term)
    L = zapsmall((ginv(X) @ rdX).T)  # rdX columns x X columns
    contained = {t.label: [o for o in model_terms if _contains(t, o)] for t in model_terms}
    for t in sorted(model_terms, key=lambda t: -t.order):  # stable: ties keep the formula order
        others = [c for o in contained[t.label] for c in o.columns]
        if not others or not t.columns:
            continue
        x, y = L[:, others], L[:, list(t.columns)]
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        L[:, list(t.columns)] = zapsmall(y - x @ coef)
    # the rows of L named like X's columns: the rdX column of the same term equal to each X column
    rows = np.empty(X.shape[1], dtype=int)
    for t in terms:
        k_term = -1 if t.label == "(Intercept)" else model_terms.index(t)
        candidates = np.where(rd_term_a == k_term)[0]
        for j in t.columns:
            match = [c for c in candidates if np.allclose(rdX[:, c], X[:, j], rtol=1e-10, atol=1e-12)]
            if not match:
                raise NotSupportedError(f"cannot relate column {design.fixef_names[j]!r} of X to the coding of "
                                        f"term {t.label!r} for type III tests")
            rows[j] = match[0]
    Lsel = L[rows, :]
    out = {}
    for t in model_terms:
        H = Lsel[:, list(t.columns)].T
        out[t.label] = H[np.sum(np.abs(H), axis=1) > 1e-8] if len(H) else np.zeros((0, X.shape[1]))
    return out
