"""R expressions inside formulas (``log(x + 1)``, ``I(x^2)``, ``poly(x, 2, raw = TRUE)``, ``Reaction > 250``).

Formula text is never run as code.  An expression is parsed here into a small syntax tree and accepted only if
every part is on a whitelist: numbers, strings, column names, arithmetic, comparison and boolean operators,
parentheses, and calls to the R-named functions of :data:`FUNCTIONS` (or to functions the user passes
explicitly with ``functions={"name": f}``).  Attribute access (``$``, ``@``), subscripts, namespaces (``::``),
assignment, braces, names starting with ``_`` and Python syntax (``lambda``, comprehensions, ...) are refused
with a :class:`~mixbayes.exceptions.FormulaSyntaxError` whose caret points into the original formula.  The tree
is then evaluated by :mod:`mixbayes.design.expressions` and never handed to Python's ``eval``.
"""

from __future__ import annotations

import keyword
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..exceptions import FormulaSyntaxError

__all__ = [
    "CONSTANTS", "FUNCTIONS", "MAX_DEPTH", "EArg", "EBin", "ECall", "ENum", "EParen", "EStr", "EUnary", "EVar",
    "Expr", "Signature", "deparse", "parse_expression", "variables",
]

MAX_DEPTH = 100
"""Deepest nesting of parentheses and operators accepted in a formula or an expression."""


@dataclass(frozen=True)
class Signature:
    """What a whitelisted function accepts: positional arguments (``max_args=None``: any number) and keywords."""

    min_args: int
    max_args: int | None
    keywords: frozenset[str] = frozenset()


def _sig(lo: int, hi: int | None, *kw: str) -> Signature:
    return Signature(lo, hi, frozenset(kw))


FUNCTIONS: dict[str, Signature] = {
    **{f: _sig(1, 1) for f in ("log2", "log10", "log1p", "exp", "expm1", "sqrt", "abs", "sin", "cos", "tan",
                               "floor", "ceiling", "trunc", "sign", "as.numeric", "as.double", "as.integer",
                               "I", "center", "offset", "as.factor")},
    "log": _sig(1, 2, "base"),
    "round": _sig(1, 2, "digits"),
    "pmin": _sig(1, None),
    "pmax": _sig(1, None),
    "scale": _sig(1, 3, "center", "scale"),
    "poly": _sig(1, 2, "degree", "raw"),
    "ns": _sig(1, 5, "df", "knots", "intercept", "Boundary.knots"),
    "factor": _sig(1, 2, "levels"),
    "C": _sig(1, 2, "contr"),
    "cbind": _sig(2, 2),
    "c": _sig(1, None),
}
"""The R-named functions a formula may call, with the arguments each takes."""

CONSTANTS = ("TRUE", "FALSE", "T", "F", "pi", "Inf", "contr.poly", "contr.treatment", "contr.sum",
             "contr.helmert")
"""Names that mean a constant unless the data have a column of that name."""

# ---- syntax tree ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ENum:
    text: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class EStr:
    value: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class EVar:
    name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class EParen:
    inner: Expr
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class EUnary:
    op: str
    operand: Expr
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class EBin:
    op: str
    left: Expr
    right: Expr
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class EArg:
    name: str | None
    value: Expr
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class ECall:
    func: str
    args: tuple[EArg, ...]
    pos: int = field(default=0, compare=False)


Expr = ENum | EStr | EVar | EParen | EUnary | EBin | ECall

# ---- tokens --------------------------------------------------------------------------------------------

_OPS = ("%/%", "%in%", "%%", "**", "<=", ">=", "==", "!=", "&&", "||", "<-", "->", "::", "+", "-", "*", "/",
        "^", "<", ">", "!", "&", "|", "(", ")", ",", "=", ":", "~", "$", "@", "[", "]", "{", "}", "?", ";")
_REFUSED = {
    "$": "attribute access ('$') is not allowed in a formula",
    "@": "attribute access ('@') is not allowed in a formula",
    "[": "subscripts ('[') are not allowed in a formula",
    "]": "subscripts (']') are not allowed in a formula",
    "{": "braces are not allowed in a formula",
    "}": "braces are not allowed in a formula",
    "<-": "assignment ('<-') is not allowed in a formula",
    "->": "assignment ('->') is not allowed in a formula",
    "::": "namespaces ('::') are not allowed in a formula: call the function by its name, e.g. ns(x, 3)",
    "?": "'?' is not allowed in a formula",
    ";": "';' is not allowed in a formula",
    "~": "'~' is not allowed inside an expression",
    ":": "':' (a sequence) is not allowed inside an expression; write interactions outside calls",
}
_R_RESERVED = frozenset({"function", "repeat", "next", "break", "if", "else", "while", "for", "in", "NULL", "NA",
                         "NaN", "...", "NA_integer_", "NA_real_", "NA_character_"})
_KEYWORDS = frozenset(keyword.kwlist) | _R_RESERVED
_PREC = {"|": 1, "||": 1, "&": 2, "&&": 2, "<": 4, ">": 4, "<=": 4, ">=": 4, "==": 4, "!=": 4, "+": 5, "-": 5,
         "*": 6, "/": 6, "%%": 7, "%/%": 7, "%in%": 7, "^": 9}
_NOT_PREC = 3
_UNARY_PREC = 8


@dataclass(frozen=True)
class _Tok:
    kind: str  # num, str, name, op, eof
    text: str
    pos: int


def _tokens(text: str, base: int, formula: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(text)

    def fail(reason: str, at: int) -> FormulaSyntaxError:
        return FormulaSyntaxError(reason, formula, base + at)

    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "'\"":
            j, chars = i + 1, []
            while j < n and text[j] != ch:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                chars.append(text[j])
                j += 1
            if j >= n:
                raise fail("unterminated string", i)
            out.append(_Tok("str", "".join(chars), i))
            i = j + 1
        elif ch == "`":
            j = text.find("`", i + 1)
            if j < 0:
                raise fail("unterminated backtick-quoted name", i)
            out.append(_Tok("qname", text[i + 1 : j], i))
            i = j + 1
        elif ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            j = i
            while j < n and (text[j].isdigit() or text[j] == "."):
                j += 1
            if j < n and text[j] in "eE" and j + 1 < n and (text[j + 1].isdigit() or text[j + 1] in "+-"):
                j += 2
                while j < n and text[j].isdigit():
                    j += 1
            lit = text[i:j]
            if j < n and text[j] == "L":
                j += 1
            if j < n and (text[j].isalpha() or text[j] == "_"):
                raise fail(f"malformed number {text[i:j + 1]!r}", i)
            try:
                float(lit)
            except ValueError:
                raise fail(f"malformed number {lit!r}", i) from None
            out.append(_Tok("num", lit, i))
            i = j
        elif ch.isalpha() or ch in "._":
            j = i
            while j < n and (text[j].isalnum() or text[j] in "._"):
                j += 1
            out.append(_Tok("name", text[i:j], i))
            i = j
        else:
            for op in _OPS:
                if text.startswith(op, i):
                    break
            else:
                if ch == "%":
                    raise fail("only the operators %%, %/% and %in% are allowed", i)
                raise fail(f"unexpected character {ch!r}", i)
            out.append(_Tok("op", "^" if op == "**" else op, i))
            i += len(op)
    out.append(_Tok("eof", "", n))
    return out


def _check_name(name: str, pos: int, formula: str, quoted: bool, python: bool = True) -> None:
    """Refuse names starting with '_' (quoted or not) and, unquoted, R's reserved words and (inside expressions,
    ``python=True``) Python's keywords; a column with such a name is written in backticks."""
    if name.startswith("_") or "._" in name or "__" in name:
        raise FormulaSyntaxError(f"names starting with '_' are not allowed in a formula ({name!r})", formula, pos)
    if not quoted and (name in _R_RESERVED or (python and name in _KEYWORDS)):
        raise FormulaSyntaxError(f"{name!r} is not allowed in a formula: only column names, numbers, operators "
                                 f"and the listed functions are (a column of that name is written `{name}`)",
                                 formula, pos)


class _ExprParser:
    def __init__(self, text: str, base: int, formula: str, functions: Iterable[str]) -> None:
        self.formula = formula
        self.base = base
        self.toks = _tokens(text, base, formula)
        self.i = 0
        self.depth = 0
        self.functions = frozenset(functions)

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def fail(self, reason: str, tok: _Tok | None = None) -> FormulaSyntaxError:
        return FormulaSyntaxError(reason, self.formula, self.base + (tok or self.tok).pos)

    def at(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"the expression nests too deeply (more than {MAX_DEPTH} levels): simplify it")

    def parse(self) -> Expr:
        node = self.expr(0)
        if self.tok.kind != "eof":
            raise self.unexpected()
        return node

    def unexpected(self) -> FormulaSyntaxError:
        tok = self.tok
        if tok.kind == "op" and tok.text in _REFUSED:
            return self.fail(_REFUSED[tok.text])
        if tok.kind == "op" and tok.text == "=":
            return self.fail("'=' is only allowed to name a function's argument, e.g. poly(x, 2, raw = TRUE)")
        if tok.kind == "eof" or (tok.kind == "op" and tok.text in (")", ",")):
            return self.fail(f"expected a value before {tok.text!r}" if tok.text else
                             "the expression ends where a value is expected")
        if tok.kind == "name" and tok.text in _KEYWORDS:
            _check_name(tok.text, self.base + tok.pos, self.formula, False)
        return self.fail(f"unexpected {tok.text!r} in an expression")

    def expr(self, min_prec: int) -> Expr:
        self.enter()
        left = self.unary()
        chain = 0
        while self.tok.kind == "op" and _PREC.get(self.tok.text, 0) >= max(min_prec, 1):
            op = self.tok
            prec = _PREC[op.text]
            self.i += 1
            chain += 1
            if self.depth + chain > MAX_DEPTH:
                raise self.fail(f"the expression is too long or nests too deeply (more than {MAX_DEPTH} "
                                "operations in a row): simplify it, or compute the column beforehand", op)
            right = self.expr(prec if op.text == "^" else prec + 1)
            left = EBin(op.text, left, right, self.base + op.pos)
        self.depth -= 1
        return left

    def unary(self) -> Expr:
        tok = self.tok
        if self.at("-", "+", "!"):
            self.i += 1
            self.enter()
            operand = self.expr(_NOT_PREC if tok.text == "!" else _UNARY_PREC)
            self.depth -= 1
            return EUnary(tok.text, operand, self.base + tok.pos)
        return self.postfix()

    def postfix(self) -> Expr:
        node = self.primary()
        if self.at("(") and not isinstance(node, EVar):
            raise self.fail("only a function's name may be called")
        if self.at("$", "@", "[", "::"):
            raise self.unexpected()
        return node

    def primary(self) -> Expr:
        tok = self.tok
        pos = self.base + tok.pos
        if tok.kind == "num":
            self.i += 1
            return ENum(tok.text, pos)
        if tok.kind == "str":
            self.i += 1
            return EStr(tok.text, pos)
        if tok.kind in ("name", "qname"):
            quoted = tok.kind == "qname"
            nxt = self.toks[self.i + 1]
            as_value = nxt.kind == "eof" or (nxt.kind == "op" and (nxt.text in _PREC or nxt.text in (")", ",")))
            # a Python keyword followed by an operator is a column name ('class + 1'); as syntax it is refused
            _check_name(tok.text, pos, self.formula, quoted, python=not as_value)
            self.i += 1
            if not quoted and self.at("("):
                return self.call(tok.text, pos)
            if not tok.text:
                raise self.fail("empty backtick-quoted name", tok)
            return EVar(tok.text, pos)
        if self.at("("):
            self.i += 1
            self.enter()
            if self.at(")"):
                raise self.fail("empty parentheses")
            inner = self.expr(0)
            if not self.at(")"):
                raise self.unexpected()
            self.i += 1
            self.depth -= 1
            return EParen(inner, pos)
        raise self.unexpected()

    def call(self, func: str, pos: int) -> ECall:
        sig = FUNCTIONS.get(func)
        if sig is None and func not in self.functions:
            raise FormulaSyntaxError(
                f"unknown function {func!r}: a formula may call {', '.join(sorted(FUNCTIONS))}; pass your own as "
                f"functions={{{func!r}: f}}", self.formula, pos)
        self.i += 1  # '('
        self.enter()
        args: list[EArg] = []
        while not self.at(")"):
            if args:
                if not self.at(","):
                    raise self.unexpected()
                self.i += 1
            tok = self.tok
            name = None
            if tok.kind in ("name", "qname") and self.toks[self.i + 1].kind == "op" and \
                    self.toks[self.i + 1].text == "=":
                name = tok.text
                _check_name(name, self.base + tok.pos, self.formula, tok.kind == "qname")
                if sig is not None and name not in sig.keywords:
                    allowed = ", ".join(sorted(sig.keywords)) or "none"
                    raise self.fail(f"{func}() has no argument {name!r} (named arguments: {allowed})", tok)
                if any(a.name == name for a in args):
                    raise self.fail(f"argument {name!r} given twice", tok)
                self.i += 2
            elif args and args[-1].name is not None:
                raise self.fail("a positional argument cannot follow a named one", tok)
            if self.at(",", ")"):
                raise self.fail(f"empty argument in {func}(...)")
            args.append(EArg(name, self.expr(0), self.base + tok.pos))
        self.i += 1  # ')'
        self.depth -= 1
        if sig is not None:
            positional = sum(a.name is None for a in args)
            if positional < sig.min_args or (sig.max_args is not None and positional > sig.max_args):
                want = (f"{sig.min_args}" if sig.max_args == sig.min_args else
                        f"at least {sig.min_args}" if sig.max_args is None else
                        f"{sig.min_args} to {sig.max_args}")
                raise FormulaSyntaxError(f"{func}() takes {want} positional argument(s), got {positional}",
                                         self.formula, pos)
        return ECall(func, tuple(args), pos)


def parse_expression(text: str, functions: Iterable[str] = (), formula: str | None = None,
                     base: int = 0) -> Expr:
    """Parse and check one R expression.

    Parameters
    ----------
    text : the expression.
    functions : names of the user's own functions that the expression may call.
    formula, base : the whole formula and the expression's offset in it, so that errors point into the formula.

    Raises
    ------
    FormulaSyntaxError
        For anything outside the whitelist, with a caret under the offending position.
    """
    if not isinstance(text, str):
        raise FormulaSyntaxError(f"an expression must be a string, not {type(text).__name__}", str(text), 0)
    return _ExprParser(text, base, text if formula is None else formula, functions).parse()


_SPACED = {"+", "-", "*", "<", ">", "<=", ">=", "==", "!=", "&", "&&", "|", "||", "%in%"}


def _name(name: str) -> str:
    ok = name[:1].isalpha() or (name[:1] == "." and not name[1:2].isdigit())
    ok = ok and all(c.isalnum() or c in "._" for c in name)
    return name if ok and name not in _R_RESERVED else f"`{name}`"


def deparse(node: Expr) -> str:
    """The expression as R's ``deparse`` writes it (R's column names of model matrices)."""
    match node:
        case ENum(text=text):
            return text
        case EStr(value=value):
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        case EVar(name=name):
            return _name(name)
        case EParen(inner=inner):
            return f"({deparse(inner)})"
        case EUnary(op=op, operand=operand):
            return f"{op}{deparse(operand)}"
        case EBin(op=op, left=left, right=right):
            sep = f" {op} " if op in _SPACED else op
            return f"{deparse(left)}{sep}{deparse(right)}"
        case ECall(func=func, args=args):
            parts = [deparse(a.value) if a.name is None else f"{_name(a.name)} = {deparse(a.value)}" for a in args]
            return f"{func}({', '.join(parts)})"
    raise TypeError(f"not an expression node: {node!r}")


def variables(node: Expr) -> list[str]:
    """Names an expression reads (column names or constants), in order of appearance."""
    out: list[str] = []
    stack: list[Expr] = [node]
    while stack:
        cur = stack.pop()
        match cur:
            case EVar(name=name):
                if name not in out:
                    out.append(name)
            case EParen(inner=inner):
                stack.append(inner)
            case EUnary(operand=operand):
                stack.append(operand)
            case EBin(left=left, right=right):
                stack.extend((right, left))
            case ECall(args=args):
                stack.extend(a.value for a in reversed(args))
    return out
