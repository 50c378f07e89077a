"""R expressions inside formulas (``log(x)``, ``I(x^2)``, ``size - incidence``) evaluated as Python.

Translation: ``^`` -> ``**``, ``TRUE``/``FALSE`` -> ``True``/``False``, R function names with dots
(``as.numeric``) -> Python names, and column names that are not Python identifiers -> backtick-quoted (for
formulaic) or placeholder names (for plain evaluation).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DesignError, UnknownColumnError

__all__ = ["evaluate", "expression_variables", "r_functions", "to_formulaic", "to_python"]

_TOKEN = re.compile(
    r"""(?P<str>'[^']*'|"[^"]*")|(?P<bt>`[^`]*`)|(?P<num>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+)"""
    r"""|(?P<id>[A-Za-z.][A-Za-z0-9._]*|_[A-Za-z0-9._]*)|(?P<pow>\^)|(?P<other>.)""",
    re.S,
)

_R_NAMES = {
    "as.numeric": "as_numeric",
    "as.integer": "as_numeric",
    "as.factor": "factor",
    "TRUE": "True",
    "FALSE": "False",
    "T": "True",
    "F": "False",
}


def _scale(x: Any, center: bool = True, scale: bool = True) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    out = arr - arr.mean() if center else arr.copy()
    if scale:
        sd = np.sqrt(np.sum(out**2) / max(len(arr) - 1, 1))
        out = out / sd
    return out


@cache
def r_functions() -> dict[str, Any]:
    """Functions available inside formula expressions, with R's meaning."""
    return {
        "log": np.log,
        "log2": np.log2,
        "log10": np.log10,
        "log1p": np.log1p,
        "exp": np.exp,
        "expm1": np.expm1,
        "sqrt": np.sqrt,
        "abs": np.abs,
        "sin": np.sin,
        "cos": np.cos,
        "round": np.round,
        "floor": np.floor,
        "ceiling": np.ceil,
        "pmin": np.minimum,
        "pmax": np.maximum,
        "as_numeric": lambda x: np.asarray(x, dtype=float),
        "I": lambda x: x,
        "np": np,
        "True": True,
        "False": False,
    }


def _tokens(text: str) -> Iterable[tuple[str, str]]:
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        assert kind is not None
        yield kind, m.group()


def to_python(text: str, columns: Iterable[str]) -> tuple[str, dict[str, str]]:
    """Translate an R expression to Python; non-identifier column names become placeholders.

    Returns the code and a map placeholder -> column name.
    """
    cols = set(columns)
    out: list[str] = []
    placeholders: dict[str, str] = {}

    def place(name: str) -> str:
        for key, value in placeholders.items():
            if value == name:
                return key
        key = f"_mb_col{len(placeholders)}"
        placeholders[key] = name
        return key

    for kind, tok in _tokens(text):
        if kind == "bt":
            out.append(place(tok[1:-1]))
        elif kind == "id":
            if tok in cols and not tok.isidentifier():
                out.append(place(tok))
            elif tok in _R_NAMES and tok not in cols:
                out.append(_R_NAMES[tok])
            else:
                out.append(tok)
        elif kind == "pow":
            out.append("**")
        else:
            out.append(tok)
    return "".join(out), placeholders


def to_formulaic(text: str, columns: Iterable[str]) -> str:
    """Translate an R expression for formulaic, which accepts backtick-quoted names."""
    code, placeholders = to_python(text, columns)
    for key, name in placeholders.items():
        code = re.sub(rf"\b{key}\b", f"`{name}`", code)
    return code


def expression_variables(text: str, columns: list[str], where: str = "formula") -> list[str]:
    """Data columns an R expression reads; unknown names raise :class:`UnknownColumnError`."""
    code, placeholders = to_python(text, columns)
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError as exc:
        raise DesignError(f"cannot read the expression {text!r} in the {where}: {exc.msg}") from None
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    attr_bases = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    known = set(r_functions()) | {"C", "contr", "center", "scale", "poly", "factor", "offset", "cbind"}
    used: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in called:
            name = placeholders.get(node.id, node.id)
            if name in columns:
                if name not in used:
                    used.append(name)
            elif id(node) in attr_bases or name in known:
                continue
            else:
                raise UnknownColumnError(name, columns, where)
    return used


def evaluate(text: str, frame: pd.DataFrame, where: str = "formula") -> np.ndarray:
    """Evaluate an R expression on the columns of ``frame`` and return a float array of its length."""
    code, placeholders = to_python(text, frame.columns)
    env: dict[str, Any] = dict(r_functions())
    env["scale"] = _scale
    for name in expression_variables(text, list(frame.columns), where):
        key = next((k for k, v in placeholders.items() if v == name), name)
        col = frame[name]
        env[key] = col.to_numpy(dtype=float) if not isinstance(col.dtype, pd.CategoricalDtype) else col
    try:
        value = eval(compile(code, f"<{where}>", "eval"), {"__builtins__": {}}, env)
    except Exception as exc:
        raise DesignError(f"cannot evaluate {text!r} in the {where}: {exc}") from None
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(len(frame), float(arr))
    if arr.shape != (len(frame),):
        raise DesignError(f"{text!r} in the {where} gives {arr.shape} values for {len(frame)} rows")
    return arr
