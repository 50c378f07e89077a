"""The formula front end: lme4's expansion rules, table-driven, plus a round-trip property test."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mixbayes as mb
from mixbayes.formula import parse_formula

# (formula, explicit lme4 form, [(lhs text, grouping factor)] in formula order)
EXPANSIONS = [
    ("y ~ x + (1 | g)", "y ~ x + (1 | g)", [("1", "g")]),
    ("y ~ x + (x | g)", "y ~ x + (x | g)", [("x", "g")]),
    ("y ~ x + (1 + x | g)", "y ~ x + (1 + x | g)", [("1 + x", "g")]),
    ("y ~ x + (0 + x | g)", "y ~ x + (0 + x | g)", [("0 + x", "g")]),
    ("y ~ x + (-1 + x | g)", "y ~ x + (-1 + x | g)", [("-1 + x", "g")]),
    ("y ~ x + (x || g)", "y ~ x + (1 | g) + (0 + x | g)", [("1", "g"), ("0 + x", "g")]),
    ("y ~ x + (0 + x || g)", "y ~ x + (0 + x | g)", [("0 + x", "g")]),
    ("y ~ x + (0 + x + z || g)", "y ~ x + (0 + x | g) + (0 + z | g)", [("0 + x", "g"), ("0 + z", "g")]),
    # || with a categorical predictor: lme4 keeps a factor as one (correlated) term
    ("y ~ x + (x + f || g)", "y ~ x + (1 | g) + (0 + x | g) + (0 + f | g)",
     [("1", "g"), ("0 + x", "g"), ("0 + f", "g")]),
    ("y ~ (x * z || g)", "y ~ (1 | g) + (0 + x | g) + (0 + z | g) + (0 + x:z | g)",
     [("1", "g"), ("0 + x", "g"), ("0 + z", "g"), ("0 + x:z", "g")]),
    ("y ~ 1 + (1 | site/subject)", "y ~ 1 + (1 | site) + (1 | site:subject)",
     [("1", "site"), ("1", "site:subject")]),
    ("y ~ 1 + (1 | a/b/c)", "y ~ 1 + (1 | a) + (1 | a:b) + (1 | a:b:c)",
     [("1", "a"), ("1", "a:b"), ("1", "a:b:c")]),
    ("y ~ 1 + (1 | a:b)", "y ~ 1 + (1 | a:b)", [("1", "a:b")]),
    ("y ~ 1 + (x || a/b)", "y ~ 1 + (1 | a) + (1 | a:b) + (0 + x | a) + (0 + x | a:b)",
     [("1", "a"), ("1", "a:b"), ("0 + x", "a"), ("0 + x", "a:b")]),
    ("y ~ 1 + (1 | subject) + (1 | item)", "y ~ 1 + (1 | subject) + (1 | item)",
     [("1", "subject"), ("1", "item")]),
    ("y ~ x + (1 | g) + (0 + x | g)", "y ~ x + (1 | g) + (0 + x | g)", [("1", "g"), ("0 + x", "g")]),
    ("y ~ f + (f | g)", "y ~ f + (f | g)", [("f", "g")]),
    ("y ~ x + offset(log(t)) + (1 | g)", "y ~ x + offset(log(t)) + (1 | g)", [("1", "g")]),
    ("cbind(s, n - s) ~ x + (1 | g)", "cbind(s, n - s) ~ x + (1 | g)", [("1", "g")]),
    ("y~x+(1|g)", "y ~ x + (1 | g)", [("1", "g")]),
    ("y ~ `odd name` + (1 | `my group`)", "y ~ `odd name` + (1 | `my group`)", [("1", "my group")]),
    # lme4's bare bar: '|' binds loosest, so the whole right-hand side is one random-effects term
    ("Yield ~ 1|Batch", "Yield ~ (1 | Batch)", [("1", "Batch")]),
    ("y ~ x + z | g", "y ~ (x + z | g)", [("x + z", "g")]),
    ("y ~ x || g", "y ~ (1 | g) + (0 + x | g)", [("1", "g"), ("0 + x", "g")]),
    # R's deparse of calls (R's column names)
    ("y ~ poly(x, 2, raw=TRUE) + (1 | g)", "y ~ poly(x, 2, raw = TRUE) + (1 | g)", [("1", "g")]),
    ("Reaction > 250 ~ Days + (1|Subject)", "Reaction > 250 ~ Days + (1 | Subject)", [("1", "Subject")]),
]

FIXED = [
    ("y ~ x*f + (1 | g)", "x * f"),
    ("y ~ a + b:c - 1 + (1 | g)", "a + b:c - 1"),
    ("y ~ 0 + x + (1 | g)", "0 + x"),
    ("y ~ -1 + x + (1 | g)", "-1 + x"),
    ("y ~ I(x^2) + log(z) + scale(w) + (1 | g)", "I(x^2) + log(z) + scale(w)"),
    ("y ~ (1 | g)", "1"),
    ("y ~ a*b - a:b + (1 | g)", "a * b - a:b"),
]


@pytest.mark.parametrize(("formula", "explicit", "terms"), EXPANSIONS)
def test_expansion(formula: str, explicit: str, terms: list[tuple[str, str]]) -> None:
    parsed = parse_formula(formula)
    assert mb.expand_formula(formula) == explicit
    from mixbayes.formula.nodes import render

    assert [(render(s.lhs), s.group_name) for s in parsed.random] == terms


@pytest.mark.parametrize(("formula", "fixed"), FIXED)
def test_fixed_part(formula: str, fixed: str) -> None:
    assert parse_formula(formula).fixed_text() == fixed


def test_split_terms_remember_their_source() -> None:
    specs = parse_formula("y ~ (x || g)").random
    assert [s.split for s in specs] == [True, True]
    assert {s.source for s in specs} == {"(x || g)"}
    assert [s.split for s in parse_formula("y ~ (x | g)").random] == [False]


def test_offsets_are_separated() -> None:
    p = parse_formula("y ~ x + offset(log(t)) + offset(u) + (1 | g)")
    assert p.offsets == ("log(t)", "u")
    assert p.fixed_text() == "x"


def test_variable_order_follows_appearance() -> None:
    assert parse_formula("y ~ f + x + x:f + (1 | g)").fixed_variables() == ["y", "f", "x"]


# ---- malformed formulas: (formula, key words, position of the caret) ----------------------------------
MALFORMED = [
    ("Reaction  Days + (Days | Subject)", "missing '~'", 0),
    ("y ~ x + (x g)", "'|'", 11),
    ("y ~ x + (x | )", "empty grouping", 13),
    ("y ~ x + (x | g", "never closed", 8),
    ("y ~ x) + (1 | g)", "no matching '('", 5),
    ("y ~ x +", "ends where a term", 7),
    ("y ~ x + (1 | g) | h", "nested inside each other", 16),
    ("y ~ x * (1 | g)", "added with '+'", 8),
    ("y ~ x - (1 | g)", "cannot be removed", 8),
    ("(1 | g) ~ x", "right of '~'", 0),
    ("y ~ (1 | log(g))", "grouping factor", 9),
    ("y ~ x ~ z", "exactly one '~'", 6),
    ("y ~", "nothing after '~'", 3),
    ("y ~ x + ( | g)", "nothing before '|'", 10),
    ("y ~ x + ()", "empty parentheses", 9),
    ("y ~ x $ z", "unexpected character", 6),
    ("y ~ (1 | g | h)", "one bar", 11),
    ("y ~ .", "not supported", 4),
    ("y ~ (x | a/(b/c))", "nest left to right", 10),
]


@pytest.mark.parametrize(("formula", "words", "pos"), MALFORMED)
def test_malformed_formula_points_at_position(formula: str, words: str, pos: int) -> None:
    with pytest.raises(mb.FormulaSyntaxError) as info:
        parse_formula(formula)
    err = info.value
    assert words in str(err)
    assert err.position == pos
    lines = str(err).splitlines()
    assert lines[-2].strip() == formula.strip()
    assert lines[-1].index("^") - lines[-2].index(formula[0]) == pos


# ---- property-based: generated formulas round-trip through the explicit form ---------------------------
VARS = st.sampled_from(["x", "z", "w", "f", "h"])
GROUPS = st.sampled_from(["g", "site", "item", "subject"])


@st.composite
def random_lhs(draw: st.DrawFn) -> str:
    cols = draw(st.lists(VARS, min_size=0, max_size=3, unique=True))
    prefix = draw(st.sampled_from(["", "1 + ", "0 + ", "-1 + "]))
    if not cols:
        return "1"
    inter = draw(st.booleans()) and len(cols) >= 2
    body = " + ".join(cols) + (f" + {cols[0]}:{cols[1]}" if inter else "")
    return prefix + body


@st.composite
def random_group(draw: st.DrawFn) -> str:
    names = draw(st.lists(GROUPS, min_size=1, max_size=3, unique=True))
    sep = draw(st.sampled_from(["/", ":"]))
    return sep.join(names)


@st.composite
def random_formula(draw: st.DrawFn) -> str:
    fixed = draw(st.sampled_from(["1", "x", "x + z", "x * f", "0 + f", "x + I(z^2)", "log(w) + h - 1"]))
    bars = draw(st.lists(st.tuples(random_lhs(), st.sampled_from(["|", "||"]), random_group()),
                         min_size=1, max_size=3))
    offset = draw(st.sampled_from(["", " + offset(log(w))"]))
    terms = " + ".join(f"({lhs} {bar} {grp})" for lhs, bar, grp in bars)
    return f"y ~ {fixed}{offset} + {terms}"


@settings(max_examples=200, deadline=None)
@given(random_formula())
def test_parse_expand_parse_is_stable(formula: str) -> None:
    parsed = parse_formula(formula)
    explicit = parsed.explicit()
    reparsed = parse_formula(explicit)
    assert reparsed == parsed
    assert reparsed.explicit() == explicit
    assert not any("||" in s.text or "/" in s.group_name for s in reparsed.random)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="yx~g|()+-*/:01 ^,.$`'\"", max_size=25))
def test_invalid_strings_raise_only_mixbayes_errors(text: str) -> None:
    try:
        parse_formula(text)
    except mb.MixbayesError:
        pass


@settings(max_examples=200, deadline=None)
@given(random_formula(), st.integers(min_value=0, max_value=60), st.sampled_from(["(", ")", "|", "~", "+"]))
def test_corrupted_formulas_raise_mixbayes_errors(formula: str, cut: int, junk: str) -> None:
    broken = formula[:cut] + junk + formula[cut:]
    try:
        parse_formula(broken)
    except mb.MixbayesError as err:
        assert isinstance(err, mb.FormulaSyntaxError)


# ---- expressions outside the whitelist: (formula, key words, the text the caret points at) --------------------
REFUSED = [
    ("y ~ I(__import__('os')) + (1 | g)", "names starting with '_'", "__import__"),
    ("y ~ x + log(x$y)", "attribute access ('$')", "$y"),
    ("y ~ x + log(x@y)", "attribute access ('@')", "@y"),
    ("y ~ x + I(x[1])", "subscripts", "[1]"),
    ("y ~ x + I({x})", "braces", "{x}"),
    ("y ~ x + I(x <- 1)", "assignment", "<- 1"),
    ("y ~ x + stats::poly(x, 2)", "namespaces ('::')", "::poly"),
    ("y ~ x + I(stats::poly(x, 2))", "namespaces", "::poly"),
    ("y ~ x + I(lambda: 1)", "'lambda' is not allowed", "lambda"),
    ("y ~ x + I(function(z) z)", "'function' is not allowed", "function"),
    ("y ~ x + foo(x)", "unknown function 'foo'", "foo(x)"),
    ("y ~ x + I(system('ls'))", "unknown function 'system'", "system("),
    ("y ~ x + log(x, bas = 2)", "log() has no argument 'bas'", "bas ="),
    ("y ~ x + log(x, base = 2, base = 3)", "given twice", "base = 3"),
    ("y ~ x + log(x, 2, 3)", "log() takes 1 to 2 positional", "log(x, 2"),
    ("y ~ x + log()", "takes 1 to 2 positional", "log()"),
    ("y ~ x + poly(x, degree = 2, 3)", "positional argument cannot follow", "3)"),
    ("y ~ x + I(x)(2)", "expected an operator", "(2)"),
    ("y ~ x + I(log(x)(2))", "only a function's name may be called", "(2))"),
    ("y ~ x + I(x %o% x)", "only the operators", "%o%"),
    ("y ~ x + I(x:z)", "':' (a sequence)", ":z"),
    ("y ~ x + I(x ~ z)", "'~' is not allowed inside", "~ z"),
    ("y ~ x + I('abc)", "never closed", "('abc)"),
    ("y ~ x + I(x; 1)", "';' is not allowed", "; 1"),
    ("y ~ x + I(x = 1)", "I() has no argument 'x'", "x = 1"),
    ("y ~ x + I(x > )", "expected a value before ')'", ")"),
    ("y ~ x + I(1x)", "malformed number", "1x"),
    ("y ~ x + (1 | __class__)", "names starting with '_'", "__class__"),
    ("y ~ x + `__dict__`", "names starting with '_'", "`__dict__`"),
    ("__import__('os') ~ x", "names starting with '_'", "__import__"),
    ("y > eval('1') ~ x", "unknown function 'eval'", "eval("),
    ("y ~ x > 1", "wrap a comparison", "> 1"),
    ("y ~ x + NULL", "'NULL' is not allowed", "NULL"),
    ("y ~ x + I(x && )", "expected a value before ')'", ")"),
    ("y ~ x + log(x, )", "empty argument", "log(x, )"),
    ("y ~ x + I(x ? 1)", "'?' is not allowed", "? 1"),
]


@pytest.mark.parametrize(("formula", "words", "at"), REFUSED)
def test_refused_expressions_point_into_the_formula(formula: str, words: str, at: str) -> None:
    with pytest.raises(mb.FormulaSyntaxError) as info:
        parse_formula(formula)
    assert words in info.value.reason
    assert formula[info.value.position:].startswith(at), (formula[info.value.position:], at)


def test_user_functions_are_named_explicitly() -> None:
    with pytest.raises(mb.FormulaSyntaxError, match="functions="):
        parse_formula("y ~ logit(p) + (1 | g)")
    parsed = parse_formula("y ~ logit(p) + (1 | g)", functions={"logit"})
    assert parsed.fixed_text() == "logit(p)"


def test_python_keywords_are_column_names_at_the_formula_level() -> None:
    assert parse_formula("y ~ class + (1 | from)").fixed_text() == "class"
    assert parse_formula("y ~ I(`class` + 1)").fixed_text() == "I(class + 1)"
    assert parse_formula("y ~ I(class + 1)").fixed_text() == "I(class + 1)"
    with pytest.raises(mb.FormulaSyntaxError, match="'import' is not allowed"):
        parse_formula("y ~ I(import os)")


INJECTION_TOKENS = st.sampled_from([
    "__import__", "(", ")", "'os'", ".", "system", "lambda", ":", "[", "]", "for", "in", "x", "+", "~", "|",
    "I(", "log(", ",", "=", "**", "$", "@", "::", "{", "}", "<-", ";", "`", "_", "eval", "open", "getattr",
    "np.lib", "os", "'touch m'", "1", "^", "!", ">", "&", " ",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(INJECTION_TOKENS, min_size=1, max_size=20))
def test_injection_shaped_text_parses_or_raises_syntax_errors(tokens: list[str]) -> None:
    text = "".join(tokens)
    for formula in (text, f"y ~ {text}", f"y ~ I({text})", f"y ~ x + ({text} | g)"):
        try:
            parsed = parse_formula(formula)
        except mb.MixbayesError as err:
            assert isinstance(err, mb.FormulaSyntaxError)
            assert 0 <= err.position <= len(formula)
        else:  # whatever parses reads no '_' name and has no attribute access, subscript or namespace;
            # a backticked name such as `[` is a column name (legal in R), so quoted names are set aside
            code = re.sub(r"`[^`]*`", "`name`", parsed.explicit())
            assert not any(bad in code for bad in ("__", "$", "@", "[", "::", "{"))
