"""Recursive-descent parser: tokens -> syntax tree -> :class:`ParsedFormula`.

Operator precedence follows R for formulas (loosest first): ``~``, ``|``/``||`` (inside parentheses only),
``+ -``, ``* /``, ``%in%``, ``:``, ``^``.  A leading ``-`` applies to the whole following product (``-1``,
``- a:b``), which is what formula writers mean.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..exceptions import FormulaSyntaxError
from .expr import MAX_DEPTH, ECall, EVar, _check_name, deparse, parse_expression
from .nodes import Bar, BinOp, Call, Expr, Name, Neg, Node, Number, Paren
from .tokens import Token, tokenize

__all__ = ["parse_tree"]

_BINARY_PRECEDENCE = {"+": 2, "-": 2, "*": 3, "/": 3, "%in%": 4, ":": 5, "^": 6}
_OPERAND_KINDS = ("name", "number", "call")
_EXPRESSION_OPS = ("<", ">", "<=", ">=", "==", "!=", "!", "&", "&&", "%%", "%/%")


class _Parser:
    def __init__(self, text: str, functions: Iterable[str] = ()) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.paren_depth = 0
        self.depth = 0
        self.functions = frozenset(functions)

    # -- helpers -------------------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, reason: str, pos: int | None = None) -> FormulaSyntaxError:
        return FormulaSyntaxError(reason, self.text, self.tok.pos if pos is None else pos)

    def take(self) -> Token:
        tok = self.tok
        self.i += 1
        return tok

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def starts_operand(self) -> bool:
        return self.tok.kind in _OPERAND_KINDS or self.at_op("(")

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the formula nests too deeply (more than {MAX_DEPTH} levels of parentheses or "
                             "operators): simplify it", pos)

    # -- grammar -------------------------------------------------------------------------------------
    def formula(self) -> tuple[Node | None, Node]:
        tildes = [t for t in self.tokens if t.kind == "op" and t.text == "~"]
        if not tildes:
            raise FormulaSyntaxError(
                "missing '~': a formula is written 'response ~ predictors', e.g. 'y ~ x + (1 | g)'",
                self.text,
                0,
            )
        if len(tildes) > 1:
            raise FormulaSyntaxError("a formula has exactly one '~'", self.text, tildes[1].pos)
        lhs = None
        if not self.at_op("~"):
            lhs = self.response(tildes[0])
        self.take()  # '~'
        if self.tok.kind == "eof":
            raise self.error("nothing after '~': name the predictors (use 1 for an intercept only)")
        rhs = self.sum()
        if self.at_op("|", "||"):  # lme4's bare 'y ~ 1 | g': the bar binds loosest
            bar = self.take()
            if self.tok.kind == "eof":
                raise self.error(f"empty grouping factor after '{bar.text}': name the grouping column")
            group = self.sum()
            rhs = Bar(rhs, group, bar.text == "||", bar.pos)
        if self.tok.kind != "eof":
            raise self.unexpected()
        return lhs, rhs

    def response(self, tilde: Token) -> Node:
        """The left-hand side: a formula-like term, or any checked R expression (``Reaction > 250``)."""
        start = self.i
        end = self.tokens.index(tilde)
        lhs_tokens = self.tokens[start:end]
        if any(t.kind == "op" and t.text in ("|", "||") for t in lhs_tokens) or not any(
                t.kind == "op" and t.text in _EXPRESSION_OPS for t in lhs_tokens):
            lhs = self.sum()
            if not self.at_op("~"):
                raise self.unexpected()
            return lhs
        begin = lhs_tokens[0].pos
        node = parse_expression(self.text[begin:tilde.pos], self.functions, self.text, begin)
        self.i = end
        if isinstance(node, EVar):
            return Name(node.name, begin)
        if isinstance(node, ECall):
            return self.call_node(node, begin)
        return Expr(deparse(node), begin)

    def call_node(self, node: ECall, pos: int) -> Call:
        args = tuple(deparse(a.value) if a.name is None else f"{a.name} = {deparse(a.value)}" for a in node.args)
        return Call(node.func, args, pos, deparse(node))

    def unexpected(self) -> FormulaSyntaxError:
        tok = self.tok
        if tok.kind == "op" and tok.text in ("|", "||"):
            return self.error(
                f"'{tok.text}' outside parentheses: a random-effects term is written '(x {tok.text} g)'"
            )
        if tok.kind == "op" and tok.text == ")":
            return self.error("unbalanced parentheses: ')' has no matching '('")
        if tok.kind == "op" and tok.text == "~":
            return self.error("a formula has exactly one '~'")
        if tok.kind == "op" and tok.text == "::":
            return self.error("namespaces ('::') are not allowed in a formula: call the function by its name, "
                              "e.g. ns(x, 3)")
        if tok.kind == "op" and tok.text in _EXPRESSION_OPS:
            return self.error(f"'{tok.text}' between terms: wrap a comparison or a computation in I(...), "
                              "e.g. I(x > 1)")
        if self.starts_operand():
            shown = tok.text if tok.kind != "op" else "("
            if self.paren_depth:
                return self.error(
                    f"expected an operator or '|' before {shown!r}; a random-effects term is written "
                    "'(x | g)' with a bar before the grouping factor"
                )
            return self.error(f"expected an operator such as '+' before {shown!r}")
        return self.error(f"unexpected {tok.text!r}")

    def sum(self) -> Node:
        if self.at_op("-", "+"):
            sign = self.take()
            operand = self.binary(3)
            left: Node = Neg(operand, sign.pos) if sign.text == "-" else operand
        else:
            left = self.binary(3)
        while self.at_op("+", "-"):
            op = self.take()
            right = self.binary(3)
            left = BinOp(op.text, left, right, op.pos)
        return left

    def binary(self, min_prec: int) -> Node:
        self.enter(self.tok.pos)
        left = self.primary()
        chain = 0
        while self.tok.kind == "op" and _BINARY_PRECEDENCE.get(self.tok.text, 0) >= min_prec:
            op = self.take()
            chain += 1
            if chain > 1:
                self.enter(op.pos)
            prec = _BINARY_PRECEDENCE[op.text]
            right = self.binary(prec if op.text == "^" else prec + 1)
            left = BinOp(op.text, left, right, op.pos)
        self.depth -= max(chain - 1, 0) + 1
        return left

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "name":
            self.take()
            if tok.text == ".":
                raise FormulaSyntaxError(
                    "'.' (all other columns) is not supported: name the predictors", self.text, tok.pos
                )
            _check_name(tok.text, tok.pos, self.text, self.text[tok.pos] == "`", python=False)
            return Name(tok.text, tok.pos)
        if tok.kind == "number":
            self.take()
            return Number(tok.text, tok.pos)
        if tok.kind == "call":
            self.take()
            if any(not a.strip() for a in tok.args) and tok.args != ("",):
                raise FormulaSyntaxError(f"empty argument in {tok.func}(...)", self.text, tok.pos)
            node = parse_expression(tok.text, self.functions, self.text, tok.pos)
            assert isinstance(node, ECall)
            return self.call_node(node, tok.pos)
        if self.at_op("("):
            return self.parenthesised()
        if tok.kind == "eof":
            raise self.error("the formula ends where a term is expected")
        if self.at_op("|", "||"):
            raise self.error(f"nothing before '{tok.text}': write '(1 {tok.text} g)' for a random intercept")
        if self.at_op(")"):
            raise self.error("expected a term before ')'")
        if self.at_op("::"):
            raise self.unexpected()
        raise self.error(f"expected a term, found {tok.text!r}")

    def parenthesised(self) -> Node:
        open_tok = self.take()
        self.paren_depth += 1
        if self.at_op(")"):
            raise self.error("empty parentheses")
        inner = self.sum()
        if self.at_op("|", "||"):
            bar = self.take()
            if self.at_op(")"):
                raise self.error(f"empty grouping factor after '{bar.text}': name the grouping column")
            group = self.sum()
            if self.at_op("|", "||"):
                raise self.error("a random-effects term has one bar")
            if not self.at_op(")"):
                raise self.unexpected()
            self.take()
            self.paren_depth -= 1
            return Bar(inner, group, bar.text == "||", open_tok.pos)
        if not self.at_op(")"):
            raise self.unexpected()
        self.take()
        self.paren_depth -= 1
        return Paren(inner, open_tok.pos)


def parse_tree(text: str, functions: Iterable[str] = ()) -> tuple[Node | None, Node]:
    """Parse formula text into (lhs, rhs) syntax trees; raise :class:`FormulaSyntaxError` on malformed input."""
    return _Parser(text, functions).formula()
