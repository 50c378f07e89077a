"""Evaluation of checked formula expressions (``log(x)``, ``I(x^2)``, ``size - incidence``, ``Reaction > 250``).

Nothing here calls Python's ``eval``: an expression is parsed by :func:`mixbayes.formula.expr.parse_expression`
(which refuses anything outside the whitelist) and its tree is walked, with each whitelisted R function mapped
to a fixed implementation.  The user's own functions are used only when passed as ``functions={"name": f}``.
The fixed and random-effects model matrices are built by formulaic from Python code rendered from the same
checked tree (:mod:`mixbayes.design.safe_formulaic`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DesignError, FormulaSyntaxError, UnknownColumnError
from ..formula.expr import (
    CONSTANTS,
    EBin,
    ECall,
    ENum,
    EParen,
    EStr,
    EUnary,
    EVar,
    Expr,
    parse_expression,
    variables,
)
from .bases import ns_basis, ns_state, poly_basis, poly_state

__all__ = ["check_functions", "constant", "evaluate", "evaluate_tree", "expression_variables", "r_functions"]


def check_functions(functions: Mapping[str, Callable[..., Any]] | None) -> dict[str, Callable[..., Any]]:
    """Validate the user's ``functions={"name": f}``: R-style names, callables, no clash with the whitelist."""
    if functions is None:
        return {}
    if not isinstance(functions, Mapping):
        raise FormulaSyntaxError(f"functions must be a dict {{name: function}}, not {type(functions).__name__}",
                                 "", 0)
    out: dict[str, Callable[..., Any]] = {}
    for name, f in functions.items():
        ok = isinstance(name, str) and name[:1].isalpha() and all(c.isalnum() or c in "._" for c in name)
        if not ok or "._" in name or "__" in name:
            raise FormulaSyntaxError(f"functions: {name!r} is not a usable function name (letters, digits, '.' "
                                     "and '_', starting with a letter)", str(name), 0)
        if not callable(f):
            raise FormulaSyntaxError(f"functions[{name!r}] is not callable", name, 0)
        out[name] = f
    return out


def _scale(x: Any, center: bool = True, scale: bool = True) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    out = arr - np.nanmean(arr) if center else arr.copy()
    if scale:
        sd = np.sqrt(np.nansum(out**2) / max(np.sum(np.isfinite(out)) - 1, 1))
        out = out / sd
    return out


def _log(x: Any, base: Any = None) -> np.ndarray:
    out = np.log(np.asarray(x, dtype=float))
    return out if base is None else out / np.log(float(base))


def _round(x: Any, digits: Any = 0) -> np.ndarray:
    return np.round(np.asarray(x, dtype=float), int(digits))


def _as_numeric(x: Any) -> np.ndarray:
    if isinstance(x, pd.Categorical):
        return x.codes.astype(float) + 1.0
    return np.asarray(x, dtype=float)


def _pminmax(op: Callable[..., Any]) -> Callable[..., np.ndarray]:
    def f(*args: Any) -> np.ndarray:
        out = np.asarray(args[0], dtype=float)
        for a in args[1:]:
            out = op(out, np.asarray(a, dtype=float))
        return out
    return f


def _poly(x: Any, degree: Any = 1, raw: Any = False) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    deg = int(degree)
    return poly_basis(arr, None if raw else poly_state(arr, deg), deg, bool(raw))


def _ns(x: Any, df: Any = None, knots: Any = None, intercept: Any = False, Boundary_knots: Any = None) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    return ns_basis(arr, ns_state(arr, df, knots, bool(intercept), Boundary_knots))


def _factor(x: Any, levels: Any = None) -> pd.Categorical:
    values = pd.Series(np.asarray(x, dtype=object)).map(lambda v: v if isinstance(v, str) else str(v))
    return pd.Categorical(values, categories=None if levels is None else [str(v) for v in np.ravel(levels)])


def r_functions() -> dict[str, Callable[..., Any]]:
    """The whitelisted R functions as mixbayes evaluates them (the formulaic path uses stateful versions)."""
    return {
        "log": _log, "log2": np.log2, "log10": np.log10, "log1p": np.log1p, "exp": np.exp, "expm1": np.expm1,
        "sqrt": np.sqrt, "abs": np.abs, "sin": np.sin, "cos": np.cos, "tan": np.tan, "round": _round,
        "floor": np.floor, "ceiling": np.ceil, "trunc": np.trunc, "sign": np.sign,
        "pmin": _pminmax(np.minimum), "pmax": _pminmax(np.maximum),
        "as.numeric": _as_numeric, "as.double": _as_numeric, "as.integer": lambda x: np.trunc(_as_numeric(x)),
        "I": lambda x: x, "scale": _scale, "center": lambda x: _scale(x, True, False),
        "poly": _poly, "ns": _ns, "factor": _factor, "as.factor": _factor, "C": lambda x, contr=None: _factor(x),
        "c": lambda *a: np.concatenate([np.ravel(np.asarray(v)) for v in a]),
        "offset": lambda x: x, "cbind": lambda *a: np.column_stack(a),
    }


def constant(name: str) -> Any:
    """The value of a constant name (``TRUE``, ``pi``, ...) when no column has that name."""
    return {"TRUE": True, "FALSE": False, "T": True, "F": False, "pi": np.pi, "Inf": np.inf}.get(name, name)


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "^": np.power,
    "%%": np.mod, "%/%": np.floor_divide, "<": np.less, ">": np.greater, "<=": np.less_equal,
    ">=": np.greater_equal, "==": np.equal, "!=": np.not_equal, "&": np.logical_and, "&&": np.logical_and,
    "|": np.logical_or, "||": np.logical_or, "%in%": lambda a, b: np.isin(a, b),
}


def _column(col: pd.Series) -> Any:
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.astype(object).to_numpy()
    if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
        return col.to_numpy(dtype=float)
    return col.to_numpy(dtype=object)


def evaluate_tree(node: Expr, frame: pd.DataFrame, functions: Mapping[str, Callable[..., Any]]) -> Any:
    """Walk a checked expression tree over the columns of ``frame``."""
    match node:
        case ENum(text=text):
            return float(text)
        case EStr(value=value):
            return value
        case EVar(name=name):
            if name in frame.columns:
                return _column(frame[name])
            return constant(name)
        case EParen(inner=inner):
            return evaluate_tree(inner, frame, functions)
        case EUnary(op=op, operand=operand):
            value = evaluate_tree(operand, frame, functions)
            return np.logical_not(value) if op == "!" else (np.negative(value) if op == "-" else value)
        case EBin(op=op, left=left, right=right):
            return _BINARY[op](evaluate_tree(left, frame, functions), evaluate_tree(right, frame, functions))
        case ECall(func=func, args=args):
            f = functions.get(func) or r_functions()[func]
            positional = [evaluate_tree(a.value, frame, functions) for a in args if a.name is None]
            named = {a.name.replace(".", "_"): evaluate_tree(a.value, frame, functions)
                     for a in args if a.name is not None}
            return f(*positional, **named)
    raise TypeError(f"not an expression node: {node!r}")


def expression_variables(text: str, columns: list[str], where: str = "formula",
                         functions: Mapping[str, Any] | None = None) -> list[str]:
    """Data columns an R expression reads; unknown names raise :class:`UnknownColumnError`."""
    tree = parse_expression(text, functions or ())
    used: list[str] = []
    for name in variables(tree):
        if name in columns:
            used.append(name)
        elif name not in CONSTANTS:
            raise UnknownColumnError(name, columns, where)
    return used


def evaluate(text: str, frame: pd.DataFrame, where: str = "formula",
             functions: Mapping[str, Callable[..., Any]] | None = None) -> np.ndarray:
    """Evaluate an R expression on the columns of ``frame`` and return a float array of its length."""
    functions = functions or {}
    tree = parse_expression(text, functions)
    expression_variables(text, list(frame.columns), where, functions)
    try:
        with np.errstate(all="ignore"):
            value = evaluate_tree(tree, frame, functions)
        arr = np.asarray(value, dtype=float)
    except Exception as exc:  # a failing user function, or values of the wrong kind
        raise DesignError(f"cannot evaluate {text!r} in the {where}: {exc}") from None
    if arr.ndim == 0:
        arr = np.full(len(frame), float(arr))
    if arr.shape != (len(frame),):
        raise DesignError(f"{text!r} in the {where} gives {arr.shape} values for {len(frame)} rows")
    return arr
