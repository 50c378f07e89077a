"""Wilkinson term algebra, as R's ``terms()`` computes it: used to split ``||`` terms as lme4 does.

A term is a set of factors (variable names or call texts); ``a*b`` is ``a + b + a:b``, ``a/b`` is
``a + a:b``, ``(a + b)^2`` is ``a + b + a:b``, ``-`` removes terms and ``0``/``-1`` the intercept.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import FormulaSyntaxError
from .nodes import BinOp, Call, Expr, Name, Neg, Node, Number, Paren, render, spine

__all__ = ["TermSet", "term_set"]


@dataclass(frozen=True)
class TermSet:
    """Expanded terms of an expression.

    intercept : True/False when the expression says so (``1``, ``0``, ``-1``), None when it does not.
    terms : frozensets of factor texts, in order of first appearance.
    atoms : factor text -> syntax node, to rebuild nodes for single factors.
    """

    intercept: bool | None
    terms: tuple[frozenset[str], ...]
    atoms: tuple[tuple[str, Node], ...] = ()

    def plus(self, other: TermSet) -> TermSet:
        intercept = other.intercept if other.intercept is not None else self.intercept
        terms = self.terms + tuple(t for t in other.terms if t not in self.terms)
        return TermSet(intercept, _unique(terms), _merge(self.atoms, other.atoms))

    def minus(self, other: TermSet) -> TermSet:
        intercept = self.intercept
        if other.intercept is True:
            intercept = False
        elif other.intercept is False:
            intercept = True
        return TermSet(intercept, tuple(t for t in self.terms if t not in other.terms), self.atoms)

    def colon(self, other: TermSet) -> TermSet:
        terms = tuple(a | b for a in self.terms for b in other.terms)
        return TermSet(None, _unique(terms), _merge(self.atoms, other.atoms))

    def star(self, other: TermSet) -> TermSet:
        return self.plus(other).plus(self.colon(other))

    def slash(self, other: TermSet) -> TermSet:
        if not self.terms:
            return self.plus(other)
        outer = frozenset().union(*self.terms)
        nested = TermSet(None, tuple(outer | t for t in other.terms), other.atoms)
        return self.plus(nested)

    def power(self, n: int) -> TermSet:
        result = self
        for _ in range(n - 1):
            result = result.star(self)
        terms = tuple(t for t in result.terms if len(t) <= n)
        return TermSet(self.intercept, terms, result.atoms)

    def ordered(self, variable_order: list[str]) -> list[tuple[str, ...]]:
        """Terms sorted as R sorts them: by degree, then appearance; factors by variable order."""
        rank = {v: i for i, v in enumerate(variable_order)}
        ordered = sorted(self.terms, key=len)
        return [tuple(sorted(t, key=lambda f: rank.get(f, len(rank)))) for t in ordered]


def _unique(terms: tuple[frozenset[str], ...]) -> tuple[frozenset[str], ...]:
    seen: list[frozenset[str]] = []
    for t in terms:
        if t not in seen:
            seen.append(t)
    return tuple(seen)


def _merge(a: tuple[tuple[str, Node], ...], b: tuple[tuple[str, Node], ...]) -> tuple[tuple[str, Node], ...]:
    known = dict(a)
    return a + tuple((k, v) for k, v in b if k not in known)


def term_set(node: Node, formula: str = "") -> TermSet:
    """Expand an expression into its terms (no data needed)."""
    if isinstance(node, BinOp) and node.op in ("+", "-"):
        first, rest = spine(node)
        result = term_set(first, formula)
        for op, operand in rest:
            other = term_set(operand, formula)
            result = result.plus(other) if op == "+" else result.minus(other)
        return result
    match node:
        case Number(text=text):
            value = float(text)
            if value == 1:
                return TermSet(True, ())
            if value == 0:
                return TermSet(False, ())
            raise FormulaSyntaxError(f"only 0 and 1 may appear as bare numbers, not {text}", formula, node.pos)
        case Name() | Call() | Expr():
            key = render(node)
            return TermSet(None, (frozenset([key]),), ((key, node),))
        case Paren(inner=inner):
            return term_set(inner, formula)
        case Neg(operand=operand):
            return TermSet(None, ()).minus(term_set(operand, formula))
        case BinOp(op=op, left=left, right=right):
            lhs = term_set(left, formula)
            if op == "^":
                if not isinstance(right, Number) or not float(right.text).is_integer():
                    raise FormulaSyntaxError("the power in '(...)^n' must be a whole number", formula, right.pos)
                return lhs.power(int(float(right.text)))
            rhs = term_set(right, formula)
            if op == "+":
                return lhs.plus(rhs)
            if op == "-":
                return lhs.minus(rhs)
            if op in (":", "%in%"):
                return lhs.colon(rhs)
            if op == "*":
                return lhs.star(rhs)
            if op == "/":
                return lhs.slash(rhs)
    raise FormulaSyntaxError("unexpected random-effects term here", formula, getattr(node, "pos", 0))
