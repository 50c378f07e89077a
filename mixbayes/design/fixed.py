"""Model matrices from formula parts through formulaic, with R's column names and lme4's rank handling."""

from __future__ import annotations

import keyword
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DesignError, FormulaSyntaxError, RankDeficiencyWarning
from ..formula.expr import parse_expression
from ..formula.nodes import BinOp, Call, Name, Neg, Node, Number, Paren, render, spine
from ..warn import warn_user
from .naming import r_column_names
from .safe_formulaic import callable_names, check_code, python_code, safe_context

__all__ = ["MatrixSpec", "build_matrix", "drop_aliased"]


@dataclass(frozen=True)
class MatrixSpec:
    """How to rebuild a model matrix on new data.

    formulaic_spec : formulaic's ModelSpec (keeps categories and stateful transforms such as ``scale``).
    order : permutation of formulaic's columns into R's order.
    names : R column names, after aliased columns were dropped.
    keep : positions (in R order) of the columns kept.
    """

    formulaic_spec: Any
    order: tuple[int, ...]
    names: tuple[str, ...]
    keep: tuple[int, ...]
    functions: Mapping[str, Callable[..., Any]] = field(default_factory=dict)

    def matrix(self, data: pd.DataFrame) -> np.ndarray:
        """The model matrix of ``data`` with the training categories and transforms."""
        mm = self.formulaic_spec.get_model_matrix(data, context=safe_context(self.functions), na_action="ignore")
        values = np.asarray(mm, dtype=float)[:, list(self.order)]
        return values[:, list(self.keep)]


def _context(functions: Mapping[str, Callable[..., Any]] | None = None) -> dict[str, Any]:
    """formulaic's evaluation context (no builtins; see :mod:`mixbayes.design.safe_formulaic`)."""
    return safe_context(functions)


def model_matrix(text: str, frame: pd.DataFrame, functions: Mapping[str, Callable[..., Any]] | None = None,
                 **kwargs: Any) -> Any:
    """formulaic's ``model_matrix`` through the checking materializer, without builtins."""
    import formulaic

    from .safe_materializer import SafeMaterializer

    return formulaic.model_matrix(text, frame, context=safe_context(functions), materializer=SafeMaterializer,
                                  na_action="ignore", **kwargs)


def _sequential_keep(X: np.ndarray, norms: np.ndarray, tol: float) -> list[int]:
    keep: list[int] = []
    for j in range(X.shape[1]):
        if norms[j] == 0:
            continue
        if keep:
            coef, *_ = np.linalg.lstsq(X[:, keep], X[:, j], rcond=None)
            resid = np.linalg.norm(X[:, j] - X[:, keep] @ coef)
        else:
            resid = norms[j]
        if resid > tol * norms[j]:
            keep.append(j)
    return keep


def _formulaic_text(node: Node, frame: pd.DataFrame, names: dict[str, str],
                    functions: Mapping[str, Callable[..., Any]]) -> str:
    """Render a fixed-part node for formulaic, recording formulaic factor text -> R text."""
    match node:
        case Name(name=name):
            col = frame[name] if name in frame.columns else None
            if col is not None and isinstance(col.dtype, pd.CategoricalDtype) and col.cat.ordered:
                text = f"C(`{name}`, contr_poly)" if not name.isidentifier() else f"C({name}, contr_poly)"
                names[text] = name
                return text
            if not name.isidentifier() or keyword.iskeyword(name):
                names[f"`{name}`"] = name
                names[name] = name
                return f"`{name}`"
            return name
        case Number(text=text):
            return text
        case Call():
            code = python_code(parse_expression(node.text, functions), list(frame.columns))
            check_code(code, callable_names(safe_context(functions)))
            names[code] = node.text
            names[code.replace("`", "")] = node.text
            return code
        case Paren(inner=inner):
            return f"({_formulaic_text(inner, frame, names, functions)})"
        case Neg(operand=operand):
            return f"-{_formulaic_text(operand, frame, names, functions)}"
        case BinOp(op="+" | "-"):
            first, rest = spine(node)
            return " ".join([_formulaic_text(first, frame, names, functions),
                             *(f"{op} {_formulaic_text(r, frame, names, functions)}" for op, r in rest)])
        case BinOp(op=op, left=left, right=right):
            fop = {"^": "**", "%in%": ":"}.get(op, op)
            return (f"{_formulaic_text(left, frame, names, functions)} {fop} "
                    f"{_formulaic_text(right, frame, names, functions)}")
    raise DesignError(f"cannot use {render(node)!r} in a model matrix")


@dataclass(frozen=True)
class _Factor:
    expr: str


@dataclass(frozen=True)
class _Term:
    """One single-variable term (stands in for formulaic's Term)."""

    text: str

    @property
    def factors(self) -> list[_Factor]:
        return [_Factor(self.text)]

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class _Encoded:
    term: _Term
    columns: list[str]


class NumericSpec:
    """Model matrix of plain numeric columns (and an intercept): the fast path that needs no formulaic."""

    def __init__(self, columns: list[str], intercept: bool) -> None:
        self.columns = columns
        self.intercept = intercept

    @property
    def structure(self) -> list[Any]:
        """Terms and their columns, in the shape of formulaic's ``ModelSpec.structure``."""
        intercept = [_Encoded(_Term("1"), ["Intercept"])] if self.intercept else []
        return intercept + [_Encoded(_Term(c), [c]) for c in self.columns]

    @property
    def encoder_state(self) -> dict[str, Any]:
        return {}

    def get_model_matrix(self, data: pd.DataFrame, **_: Any) -> np.ndarray:
        parts = ([np.ones(len(data))] if self.intercept else []) + [
            pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float) for c in self.columns]
        return np.column_stack(parts) if parts else np.zeros((len(data), 0))


def _numeric_only(summands: list[tuple[str, Node]], frame: pd.DataFrame) -> NumericSpec | None:
    """A NumericSpec when the part is only numeric column names, 0/1/-1 (R's column order is then the written
    order); None otherwise."""
    columns: list[str] = []
    intercept = True
    for sign, node in summands:
        if isinstance(node, Number):
            value = float(node.text)
            if (value == 0 and sign == "+") or (value == 1 and sign == "-"):
                intercept = False
            elif not (value == 1 and sign == "+"):
                return None
        elif (isinstance(node, Name) and sign == "+" and node.name in frame.columns and node.name not in columns
              and pd.api.types.is_numeric_dtype(frame[node.name].dtype)
              and not pd.api.types.is_bool_dtype(frame[node.name].dtype)):
            columns.append(node.name)
        else:
            return None
    return NumericSpec(columns, intercept)


def build_matrix(
    summands: list[tuple[str, Node]], frame: pd.DataFrame, variable_order: list[str], what: str,
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> tuple[np.ndarray, list[str], Any, list[int]]:
    """Evaluate a formula part on ``frame``: (matrix in R's column order, R names, formulaic spec, order)."""
    fast = _numeric_only(summands, frame)
    if fast is not None:
        values = fast.get_model_matrix(frame)
        names = (["(Intercept)"] if fast.intercept else []) + list(fast.columns)
        if not np.all(np.isfinite(values)):
            bad = [names[j] for j in range(values.shape[1]) if not np.all(np.isfinite(values[:, j]))]
            raise DesignError(f"non-finite values in the {what} column(s) {', '.join(bad)}")
        return values, names, fast, list(range(len(names)))

    names: dict[str, str] = {}
    parts = []
    for i, (sign, node) in enumerate(summands):
        body = _formulaic_text(node, frame, names, functions or {})
        parts.append(body if i == 0 and sign == "+" else f"{sign} {body}")
    text = " ".join(parts) if parts else "1"
    if text.startswith("-"):
        text = "1 " + text
    try:
        mm = model_matrix(text, frame, functions)
    except FormulaSyntaxError:
        raise
    except Exception as exc:
        raise DesignError(f"cannot build the {what} matrix from {text!r}: {exc}") from None
    spec = mm.model_spec
    term_columns = [list(s.columns) for s in spec.structure]
    r_names, order = r_column_names(term_columns, names, variable_order)
    values = np.asarray(mm, dtype=float)[:, order]
    if values.shape[0] != len(frame):
        raise DesignError(f"the {what} matrix has {values.shape[0]} rows for {len(frame)} observations")
    if not np.all(np.isfinite(values)):
        bad = [r_names[j] for j in range(values.shape[1]) if not np.all(np.isfinite(values[:, j]))]
        raise DesignError(f"non-finite values in the {what} column(s) {', '.join(bad)}")
    return values, r_names, spec, order


def drop_aliased(X: np.ndarray, names: list[str], tol: float = 1e-7) -> list[int]:
    """Columns to keep, dropping aliased ones as lme4's ``chkRank.drop.cols`` does (R's pivoting QR).

    R's ``dqrdc2`` moves a column to the end when its norm, after projecting out the columns before it, falls
    below ``tol`` times its original norm; |R_jj| of an unpivoted Householder QR is that residual norm.
    """
    p = X.shape[1]
    if p == 0:
        return []
    norms = np.linalg.norm(X, axis=0)
    R = np.linalg.qr(X, mode="r")
    resid = np.zeros(p)  # with fewer rows than columns, R has n diagonal entries: the rest are aliased
    diag = np.abs(np.diagonal(R))
    resid[: len(diag)] = diag
    keep = [j for j in range(p) if norms[j] > 0 and resid[j] > tol * norms[j]]
    if len(keep) < p:  # confirm against the accepted columns only (QR above also projected on rejected ones)
        keep = _sequential_keep(X, norms, tol)
    dropped = [names[j] for j in range(p) if j not in keep]
    if dropped:
        warn_user(
            f"fixed-effect model matrix is rank deficient so dropping {len(dropped)} "
            f"column{'s' if len(dropped) > 1 else ''} / coefficient{'s' if len(dropped) > 1 else ''} "
            f"({', '.join(dropped)}); remove the aliased predictor(s) from the formula to silence this",
            RankDeficiencyWarning)
    return keep
