"""Tokenizer for lme4 formulas.  Positions are kept so that errors can point at the offending character."""

from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import FormulaSyntaxError

__all__ = ["Token", "tokenize"]

_OPERATORS = ("||", "**", "::", "%in%", "%/%", "%%", "<=", ">=", "==", "!=", "&&", "~", "+", "-", "*", "/", ":", "^",
              "|", "(", ")", "<", ">", "!", "&")


@dataclass(frozen=True)
class Token:
    """One lexical token.

    ``kind`` is one of ``name``, ``number``, ``call``, ``op`` or ``eof``.  For ``call`` tokens ``text`` holds the
    whole call as written (``log(x + 1)``), ``func`` its function name and ``args`` the raw argument texts.
    """

    kind: str
    text: str
    pos: int
    func: str = ""
    args: tuple[str, ...] = ()


def _is_name_start(ch: str) -> bool:
    return ch.isalpha() or ch in "._"


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch in "._"


def _match_call(text: str, open_pos: int) -> tuple[int, list[str]]:
    """Find the ')' closing the '(' at ``open_pos``; return its index and the top-level argument texts."""
    depth = 0
    quote = ""
    args: list[str] = []
    start = open_pos + 1
    i = open_pos
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                args.append(text[start:i])
                return i, args
        elif ch == "," and depth == 1:
            args.append(text[start:i])
            start = i + 1
        i += 1
    raise FormulaSyntaxError("unbalanced parentheses: '(' is never closed", text, open_pos)


def tokenize(text: str) -> list[Token]:
    """Split a formula into tokens, checking that parentheses balance."""
    if not isinstance(text, str):
        raise FormulaSyntaxError(f"a formula must be a string, not {type(text).__name__}", str(text), 0)
    tokens: list[Token] = []
    opens: list[int] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise FormulaSyntaxError("unterminated backtick-quoted name", text, i)
            if end == i + 1:
                raise FormulaSyntaxError("empty backtick-quoted name", text, i)
            tokens.append(Token("name", text[i + 1 : end], i))
            i = end + 1
            continue
        if ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            j = i
            while j < n and (text[j].isdigit() or text[j] == "."):
                j += 1
            if j < n and text[j] in "eE" and j + 1 < n and (text[j + 1].isdigit() or text[j + 1] in "+-"):
                j += 2
                while j < n and text[j].isdigit():
                    j += 1
            literal = text[i:j]
            try:
                float(literal)
            except ValueError:
                raise FormulaSyntaxError(f"malformed number {literal!r}", text, i) from None
            tokens.append(Token("number", literal, i))
            i = j
            continue
        if _is_name_start(ch):
            j = i
            while j < n and _is_name_char(text[j]):
                j += 1
            name = text[i:j]
            k = j
            while k < n and text[k].isspace():
                k += 1
            if k < n and text[k] == "(":
                close, args = _match_call(text, k)
                tokens.append(Token("call", text[i : close + 1], i, func=name, args=tuple(args)))
                i = close + 1
            else:
                tokens.append(Token("name", name, i))
                i = j
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                break
        else:
            raise FormulaSyntaxError(f"unexpected character {ch!r}", text, i)
        if op == "(":
            opens.append(i)
        elif op == ")":
            if not opens:
                raise FormulaSyntaxError("unbalanced parentheses: ')' has no matching '('", text, i)
            opens.pop()
        tokens.append(Token("op", "^" if op == "**" else op, i))
        i += len(op)
    if opens:
        raise FormulaSyntaxError("unbalanced parentheses: '(' is never closed", text, opens[-1])
    tokens.append(Token("eof", "", n))
    return tokens
