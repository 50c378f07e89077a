"""Syntax-tree nodes of a formula and their canonical rendering back to lme4 text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Bar", "BinOp", "Call", "Expr", "Name", "Neg", "Node", "Number", "Paren", "render", "spine", "squash"]


@dataclass(frozen=True)
class Name:
    """A variable name (``Days``, or a backtick-quoted one)."""

    name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Number:
    """A numeric literal; in formulas ``0``/``1`` switch the intercept."""

    text: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Call:
    """A function call kept as text (``log(x)``, ``I(x^2)``, ``offset(log(t))``, ``cbind(s, f)``)."""

    func: str
    args: tuple[str, ...]
    pos: int = field(default=0, compare=False)
    label: str = field(default="", compare=False)

    @property
    def text(self) -> str:
        """The call as R's ``deparse`` writes it (R's column name), e.g. ``poly(x, 2, raw = TRUE)``."""
        return self.label or f"{self.func}({', '.join(squash(a) for a in self.args)})"


@dataclass(frozen=True)
class Expr:
    """Any other checked R expression, kept as R's deparsed text (e.g. the response ``Reaction > 250``)."""

    text: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Paren:
    """A parenthesised sub-expression."""

    inner: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class BinOp:
    """A binary operator: ``+ - * / : ^ %in%``."""

    op: str
    left: Node
    right: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Neg:
    """A leading minus, as in ``-1 + x``."""

    operand: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Bar:
    """A random-effects term ``(lhs | group)`` or, with ``double``, ``(lhs || group)``."""

    lhs: Node
    group: Node
    double: bool
    pos: int = field(default=0, compare=False)


Node = Name | Number | Call | Expr | Paren | BinOp | Neg | Bar

_IDENT = re.compile(r"^[A-Za-z.][A-Za-z0-9._]*$|^[A-Za-z_][A-Za-z0-9._]*$")


def squash(text: str) -> str:
    """Canonical spacing inside call arguments: one space around binary operators' neighbours kept as is."""
    out = re.sub(r"\s+", " ", text.strip())
    out = re.sub(r"\(\s+", "(", out)
    out = re.sub(r"\s+\)", ")", out)
    return re.sub(r"\s*,\s*", ", ", out)


def spine(node: Node) -> tuple[Node, list[tuple[str, Node]]]:
    """A left-nested chain of ``+``/``-`` without recursion: (first operand, [(op, operand), ...])."""
    rest: list[tuple[str, Node]] = []
    while isinstance(node, BinOp) and node.op in ("+", "-"):
        rest.append((node.op, node.right))
        node = node.left
    rest.reverse()
    return node, rest


def render(node: Node) -> str:
    """Render a node as canonical lme4 formula text."""
    if isinstance(node, BinOp) and node.op in ("+", "-"):
        first, rest = spine(node)
        return " ".join([render(first), *(f"{op} {render(operand)}" for op, operand in rest)])
    match node:
        case Name(name=name):
            return name if _IDENT.match(name) and not name[0].isdigit() else f"`{name}`"
        case Number(text=text):
            return text
        case Call() | Expr():
            return node.text
        case Paren(inner=inner):
            return f"({render(inner)})"
        case Neg(operand=operand):
            return f"-{render(operand)}"
        case Bar(lhs=lhs, group=group, double=double):
            return f"({render(lhs)} {'||' if double else '|'} {render(group)})"
        case BinOp(op=op, left=left, right=right):
            if op in (":", "^"):
                return f"{render(left)}{op}{render(right)}"
            return f"{render(left)} {op} {render(right)}"
    raise TypeError(f"not a formula node: {node!r}")
