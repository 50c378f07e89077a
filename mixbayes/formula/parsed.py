"""From a syntax tree to :class:`ParsedFormula`: fixed part, offsets and expanded random-effects terms."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from ..exceptions import FormulaSyntaxError
from .nodes import Bar, BinOp, Call, Expr, Name, Neg, Node, Number, Paren, render, spine
from .parser import parse_tree
from .terms import term_set

__all__ = ["ParsedFormula", "RandomSpec", "expand_formula", "parse_formula"]


@dataclass(frozen=True)
class RandomSpec:
    """One explicit random-effects term ``(lhs | g1:g2:...)`` after ``||`` and ``/`` expansion.

    lhs : the model part of the term (``1``, ``Days``, ``0 + Days``).
    group : names of the columns whose interaction is the grouping factor, outermost first.
    source : the bar as the user wrote it.
    split : True when the term came from splitting a ``||`` term (independent of its siblings).
    """

    lhs: Node
    group: tuple[str, ...]
    source: str = field(default="", compare=False)
    split: bool = field(default=False, compare=False)

    @property
    def group_name(self) -> str:
        """The grouping factor's name: ``Subject``, or ``site:subject`` for an interaction."""
        return ":".join(self.group)

    @property
    def group_text(self) -> str:
        return ":".join(render(Name(g)) for g in self.group)

    @property
    def text(self) -> str:
        return f"({render(self.lhs)} | {self.group_text})"


@dataclass(frozen=True)
class ParsedFormula:
    """A formula understood with lme4's semantics; no data involved.

    lhs : the response expression, or None for a one-sided formula.
    fixed : signed summands of the fixed part, as (``'+'`` or ``'-'``, node).
    offsets : the expressions inside ``offset(...)`` terms.
    random : explicit random-effects terms, in formula order (``/`` gives outer before inner).
    """

    lhs: Node | None
    fixed: tuple[tuple[str, Node], ...]
    offsets: tuple[str, ...]
    random: tuple[RandomSpec, ...]
    text: str = field(default="", compare=False)

    @property
    def response_text(self) -> str | None:
        return None if self.lhs is None else render(self.lhs)

    def fixed_text(self) -> str:
        """The fixed part as formula text (``1`` when nothing but random terms was given)."""
        if not self.fixed:
            return "1"
        parts: list[str] = []
        for i, (sign, node) in enumerate(self.fixed):
            body = render(node)
            if i == 0:
                parts.append(body if sign == "+" else f"-{body}")
            else:
                parts.append(f"{sign} {body}")
        return " ".join(parts)

    def explicit(self) -> str:
        """The fully explicit lme4 form: ``||`` split into independent terms and ``/`` into interactions."""
        rhs = [self.fixed_text()] if self.fixed or not self.random else []
        rhs += [f"offset({o})" for o in self.offsets]
        rhs += [spec.text for spec in self.random]
        body = " + ".join(rhs) if rhs else "1"
        body = body.replace("+ -", "- ")
        return f"{self.response_text} ~ {body}" if self.lhs is not None else f"~ {body}"

    def fixed_variables(self) -> list[str]:
        """Variables of the response and fixed part in order of appearance (R's ``variables`` order)."""
        order: list[str] = []
        roots = ([self.lhs] if self.lhs is not None else []) + [node for _, node in self.fixed]
        stack: list[Node] = list(reversed(roots))
        while stack:
            node = stack.pop()
            match node:
                case Name() | Call() | Expr():
                    key = render(node)
                    if key not in order:
                        order.append(key)
                case Paren(inner=inner):
                    stack.append(inner)
                case Neg(operand=operand):
                    stack.append(operand)
                case BinOp(left=left, right=right):
                    stack.extend((right, left))
        return order

    def __str__(self) -> str:
        return self.explicit()


def _summands(node: Node, sign: str = "+") -> list[tuple[str, Node]]:
    out: list[tuple[str, Node]] = []
    stack: list[tuple[str, Node]] = [(sign, node)]
    while stack:
        sign, node = stack.pop()
        match node:
            case BinOp(op="+" | "-"):
                first, rest = spine(node)
                items = [(sign, first)] + [(sign if op == "+" else ("-" if sign == "+" else "+"), operand)
                                           for op, operand in rest]
                stack.extend(reversed(items))
            case Neg(operand=operand):
                stack.append(("-" if sign == "+" else "+", operand))
            case _:
                out.append((sign, node))
    return out


def _find_bar(node: Node) -> Bar | None:
    stack: list[Node] = [node]
    while stack:
        cur = stack.pop()
        match cur:
            case Bar():
                return cur
            case Paren(inner=inner):
                stack.append(inner)
            case Neg(operand=operand):
                stack.append(operand)
            case BinOp(left=left, right=right):
                stack.extend((right, left))
    return None


def _group_levels(node: Node, formula: str) -> list[list[str]]:
    """Nesting levels of a grouping expression: ``a/b:c`` -> [[a], [a, b, c]]."""
    match node:
        case Name(name=name):
            return [[name]]
        case Paren(inner=inner):
            return _group_levels(inner, formula)
        case BinOp(op=":" | "%in%", left=left, right=right):
            lhs, rhs = _group_levels(left, formula), _group_levels(right, formula)
            if len(lhs) > 1 or len(rhs) > 1:
                raise FormulaSyntaxError("write nesting as 'a/b', not inside an interaction", formula, node.pos)
            return [lhs[0] + rhs[0]]
        case BinOp(op="/", left=left, right=right):
            outer, inner = _group_levels(left, formula), _group_levels(right, formula)
            if len(inner) > 1:
                raise FormulaSyntaxError("nest left to right: 'a/b/c'", formula, node.pos)
            return [*outer, outer[-1] + inner[0]]
    raise FormulaSyntaxError(
        "a grouping factor is a column name, an interaction 'a:b' or a nesting 'a/b'",
        formula,
        getattr(node, "pos", 0),
    )


def _atom_node(factors: tuple[str, ...], atoms: dict[str, Node]) -> Node:
    node = atoms[factors[0]]
    for f in factors[1:]:
        node = BinOp(":", node, atoms[f])
    return node


def _expand_bar(bar: Bar, formula: str, variable_order: list[str]) -> list[RandomSpec]:
    if _find_bar(bar.lhs) or _find_bar(bar.group):
        raise FormulaSyntaxError("random-effects terms cannot be nested inside each other", formula, bar.pos)
    levels = _group_levels(bar.group, formula)
    source = render(bar)
    if not bar.double:
        lhs_parts: list[tuple[Node, bool]] = [(bar.lhs, False)]
    else:
        ts = term_set(bar.lhs, formula)
        atoms = dict(ts.atoms)
        lhs_parts = [(Number("1"), True)] if ts.intercept is not False else []
        for factors in ts.ordered(variable_order + list(atoms)):
            lhs_parts.append((BinOp("+", Number("0"), _atom_node(factors, atoms)), True))
        if not lhs_parts:
            raise FormulaSyntaxError("this '||' term has no columns", formula, bar.pos)
    return [
        RandomSpec(lhs, tuple(level), source, split)
        for lhs, split in lhs_parts
        for level in levels
    ]


def parse_formula(text: str, functions: Iterable[str] = ()) -> ParsedFormula:
    """Parse an lme4 formula.

    ``functions`` names the user's own functions that expressions in the formula may call (besides the
    whitelisted R functions, see :mod:`mixbayes.formula.expr`).

    Raises :class:`~mixbayes.exceptions.FormulaSyntaxError`, with a caret under the offending position, for
    malformed input and for anything that is not on the whitelist.
    """
    if not isinstance(text, str):
        raise FormulaSyntaxError(f"a formula must be a string, not {type(text).__name__}", str(text), 0)
    return _parse_formula(text, frozenset(functions))


@lru_cache(maxsize=256)
def _parse_formula(text: str, functions: frozenset[str]) -> ParsedFormula:
    lhs, rhs = parse_tree(text, functions)
    if lhs is not None and (bar := _find_bar(lhs)):
        raise FormulaSyntaxError("random-effects terms belong on the right of '~'", text, bar.pos)
    fixed: list[tuple[str, Node]] = []
    offsets: list[str] = []
    bars: list[Bar] = []
    for sign, node in _summands(rhs):
        if isinstance(node, Bar):
            if sign == "-":
                raise FormulaSyntaxError("a random-effects term cannot be removed with '-'", text, node.pos)
            bars.append(node)
        elif (inner := _find_bar(node)) is not None:
            raise FormulaSyntaxError(
                "a random-effects term is added with '+', not combined with other operators", text, inner.pos
            )
        elif isinstance(node, Call) and node.func == "offset":
            if sign == "-" or len(node.args) != 1:
                raise FormulaSyntaxError("write an offset as '+ offset(expression)'", text, node.pos)
            offsets.append(node.args[0])
        else:
            fixed.append((sign, node))
    probe = ParsedFormula(lhs, tuple(fixed), tuple(offsets), (), text)
    order = probe.fixed_variables()
    random = [spec for bar in bars for spec in _expand_bar(bar, text, order)]
    return ParsedFormula(lhs, tuple(fixed), tuple(offsets), tuple(random), text)


def expand_formula(text: str) -> str:
    """The fully explicit lme4 form of a formula.

    Examples
    --------
    >>> expand_formula("y ~ x + (x || g)")
    'y ~ x + (1 | g) + (0 + x | g)'
    >>> expand_formula("y ~ 1 + (1 | site/subject)")
    'y ~ 1 + (1 | site) + (1 | site:subject)'
    """
    return parse_formula(text).explicit()
