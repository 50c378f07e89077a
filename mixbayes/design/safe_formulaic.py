"""formulaic, closed: what it evaluates is rendered from a checked expression tree, checked again as Python,
and evaluated in a context without builtins.

formulaic evaluates the Python code of each factor with ``eval(code, {}, context)``; an empty globals dict gives
that code Python's builtins.  Three layers keep formula text from running code there:

1. the code formulaic sees is rendered here from the tree that :mod:`mixbayes.formula.expr` accepted;
2. :func:`check_code` re-checks that code as a Python syntax tree (names, constants, arithmetic, comparisons and
   calls of whitelisted names only) before formulaic parses it, and
   :class:`~mixbayes.design.safe_materializer.SafeMaterializer` checks each factor again right before formulaic
   evaluates it;
3. :func:`safe_context` shadows every builtin (``__import__``, ``eval``, ``open``, ...) and every formulaic
   transform that is not on the whitelist (``np``, ``contr``, ...) with a stub that refuses to run.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..exceptions import FormulaSyntaxError
from ..formula.expr import EBin, ECall, ENum, EParen, EStr, EUnary, EVar, Expr
from .bases import ns_basis, ns_state, poly_basis, poly_state
from .expressions import r_functions

__all__ = ["callable_names", "check_code", "key", "python_code", "safe_context"]

_PY_OPS = {"^": "**", "%%": "%", "%/%": "//", "&&": "&", "||": "|"}
_CONTRASTS = {"contr.poly": "poly", "contr.treatment": "treatment", "contr.sum": "sum", "contr.helmert": "helmert"}
_PY_CONSTANTS = {"TRUE": "True", "FALSE": "False", "T": "True", "F": "False", "pi": "pi", "Inf": "Inf"}


def key(name: str) -> str:
    """The Python name under which an R function or argument name is bound (``as.numeric`` -> ``as_numeric``)."""
    return name.replace(".", "_")


def python_code(node: Expr, columns: set[str] | list[str]) -> str:
    """Render a checked tree as the Python code formulaic evaluates (fully parenthesised, then normalised)."""
    cols = set(columns)

    def render(n: Expr) -> str:
        match n:
            case ENum(text=text):
                return repr(float(text)) if "." in text or "e" in text.lower() else str(int(text))
            case EStr(value=value):
                return repr(value)
            case EVar(name=name):
                if name in cols:
                    return name if name.isidentifier() and not _is_keyword(name) else f"`{name}`"
                if name in _CONTRASTS:
                    return key(name)
                return _PY_CONSTANTS.get(name, f"`{name}`")
            case EParen(inner=inner):
                return f"({render(inner)})"
            case EUnary(op=op, operand=operand):
                return f"(~({render(operand)}))" if op == "!" else f"({op}({render(operand)}))"
            case EBin(op="%in%", left=left, right=right):
                return f"r_in({render(left)}, {render(right)})"
            case EBin(op=op, left=left, right=right):
                return f"(({render(left)}) {_PY_OPS.get(op, op)} ({render(right)}))"
            case ECall(func=func, args=args):
                parts = [render(a.value) if a.name is None else f"{key(a.name)}={render(a.value)}" for a in args]
                return f"{key(func)}({', '.join(parts)})"
        raise TypeError(f"not an expression node: {n!r}")

    code = render(node)
    quoted: list[str] = []

    def hide(m: re.Match[str]) -> str:
        quoted.append(m.group(0))
        return f"BTQ{len(quoted) - 1}Q"

    hidden = re.sub(r"`[^`]*`", hide, code)
    normal = ast.unparse(ast.parse(hidden, mode="eval"))
    return re.sub(r"BTQ(\d+)Q", lambda m: quoted[int(m.group(1))], normal)


def _is_keyword(name: str) -> bool:
    import keyword

    return keyword.iskeyword(name)


_ALLOWED_NODES = (ast.Expression, ast.Name, ast.Load, ast.Constant, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Call,
                  ast.keyword, ast.operator, ast.unaryop, ast.cmpop, ast.Tuple, ast.List)


def check_code(code: str, functions: set[str] | frozenset[str]) -> None:
    """Refuse Python code that is more than names, constants, arithmetic, comparisons and calls of ``functions``.

    Raises
    ------
    FormulaSyntaxError
        Naming the construct refused (attribute access, subscripts, lambdas, comprehensions, ...).
    """
    hidden = re.sub(r"`[^`]*`", lambda m: "BTQ" + str(abs(hash(m.group(0))) % 10**8) + "Q", code)
    try:
        tree = ast.parse(hidden, mode="eval")
    except SyntaxError as exc:
        raise FormulaSyntaxError(f"not a valid expression: {exc.msg}", code, max((exc.offset or 1) - 1, 0)) from None
    for node in ast.walk(tree):
        pos = max(getattr(node, "col_offset", 0), 0)
        if not isinstance(node, _ALLOWED_NODES):
            raise FormulaSyntaxError(f"{type(node).__name__} is not allowed in a formula expression", code, pos)
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise FormulaSyntaxError(f"names starting with '_' are not allowed ({node.id!r})", code, pos)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in functions:
                raise FormulaSyntaxError("only the whitelisted functions may be called", code, pos)
        if isinstance(node, ast.keyword) and (node.arg is None or node.arg.startswith("_")):
            raise FormulaSyntaxError("'**' and names starting with '_' are not allowed as arguments", code, pos)


class _Refused:
    """Stands in for a builtin or a formulaic transform that formulas may not use."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise FormulaSyntaxError(f"{self._name!r} is not allowed in a formula", self._name, 0)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise FormulaSyntaxError(f"{self._name!r} is not allowed in a formula", self._name, 0)

    def __repr__(self) -> str:
        return f"<refused {self._name}>"


def _transforms() -> dict[str, Any]:
    from formulaic.transforms import C, center, scale
    from formulaic.transforms.contrasts import ContrastsRegistry
    from formulaic.utils.stateful_transforms import stateful_transform

    @stateful_transform
    def poly(x: Any, degree: Any = 1, raw: Any = False, _state: Any = None) -> Any:
        from formulaic.materializers.types import FactorValues

        arr = np.asarray(x, dtype=float)
        deg = int(degree)
        if not raw and "alpha" not in _state:
            _state.update(poly_state(arr, deg))
        out = poly_basis(arr, None if raw else _state, deg, bool(raw))
        return FactorValues(out, column_names=tuple(str(i) for i in range(1, deg + 1)))

    @stateful_transform
    def ns(x: Any, df: Any = None, knots: Any = None, intercept: Any = False, Boundary_knots: Any = None,
           _state: Any = None) -> Any:
        from formulaic.materializers.types import FactorValues

        arr = np.asarray(x, dtype=float)
        if "boundary" not in _state:
            _state.update(ns_state(arr, df, knots, bool(intercept), Boundary_knots))
        out = ns_basis(arr, _state)
        return FactorValues(out, column_names=tuple(str(i) for i in range(1, out.shape[1] + 1)))

    def factor(x: Any, levels: Any = None) -> Any:
        return C(x, levels=None if levels is None else [str(v) for v in np.ravel(levels)])

    def r_c(*values: Any) -> Any:
        return np.concatenate([np.ravel(np.asarray(v)) for v in values])

    base = r_functions()
    out: dict[str, Any] = {key(k): v for k, v in base.items() if k not in ("scale", "center", "poly", "ns",
                                                                             "factor", "as.factor", "C", "c")}
    out.update({"scale": scale, "center": center, "poly": poly, "ns": ns, "factor": factor, "as_factor": factor,
                "C": lambda x, contr=None: C(x, contr), "c": r_c, "r_in": lambda a, b: np.isin(a, b),
                "pi": np.pi, "Inf": np.inf, "True": True, "False": False})
    out.update({key(r): getattr(ContrastsRegistry, py) for r, py in _CONTRASTS.items()})
    return out


_BASE: dict[str, Any] | None = None


def safe_context(functions: Mapping[str, Callable[..., Any]] | None = None) -> dict[str, Any]:
    """formulaic's evaluation context: whitelisted functions, the user's own, and refusing stubs for every
    builtin and formulaic transform not on the whitelist."""
    global _BASE
    if _BASE is None:
        from formulaic.transforms import TRANSFORMS

        base = {name: _Refused(name) for name in [*dir(builtins), "__builtins__", *TRANSFORMS]}
        base.update(_transforms())
        _BASE = base
    ctx = dict(_BASE)
    ctx.update({key(k): v for k, v in (functions or {}).items()})
    return ctx


def callable_names(context: Mapping[str, Any]) -> frozenset[str]:
    """Names of the context that formula code may call."""
    return frozenset(k for k, v in context.items() if callable(v) and not isinstance(v, _Refused)
                     and not k.startswith("_"))
