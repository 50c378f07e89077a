"""A formula never runs code: every path by which formula text is evaluated refuses injected code.

Each injection is tried through each path (fixed part, random part, grouping factor, response, offset(), cbind(),
weights=/offset= expression arguments, the command line); the test asserts the error type, that the message names
the problem, and that the marker file the payload would create never appears.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mixbayes as mb
from mixbayes.cli import main

SLEEP = mb.load_dataset("sleepstudy")
CBPP = mb.load_dataset("cbpp")
MARKER = Path(__file__).parent / "_security_marker_must_not_exist"

# (payload with {m} for the marker path, expected error, words the message must contain)
PAYLOADS = [
    ("__import__('os').system('touch {m}')", mb.FormulaSyntaxError, "names starting with '_'"),
    ("np.lib._datasource.os.system('touch {m}')", mb.FormulaSyntaxError, "names starting with '_'"),
    ("np.lib.os.system('touch {m}')", mb.FormulaSyntaxError, "unknown function 'np.lib.os.system'"),
    ("os.system('touch {m}')", mb.FormulaSyntaxError, "unknown function 'os.system'"),
    ("system('touch {m}')", mb.FormulaSyntaxError, "unknown function 'system'"),
    ("eval(\"__import__('os').system('touch {m}')\")", mb.FormulaSyntaxError, "unknown function 'eval'"),
    ("exec(\"open('{m}', 'w')\")", mb.FormulaSyntaxError, "unknown function 'exec'"),
    ("open('{m}', 'w')", mb.FormulaSyntaxError, "unknown function 'open'"),
    ("getattr(Days, 'x')", mb.FormulaSyntaxError, "unknown function 'getattr'"),
    ("compile('1', '{m}', 'eval')", mb.FormulaSyntaxError, "unknown function 'compile'"),
    ("globals()", mb.FormulaSyntaxError, "unknown function 'globals'"),
    ("breakpoint()", mb.FormulaSyntaxError, "unknown function 'breakpoint'"),
    ("(lambda: __import__('os').system('touch {m}'))()", mb.FormulaSyntaxError, "'lambda' is not allowed"),
    ("[__import__('os') for x in [1]]", mb.FormulaSyntaxError, "subscripts ('[') are not allowed"),
    ("Days.__class__", mb.FormulaSyntaxError, "names starting with '_'"),
    ("`__builtins__`", mb.FormulaSyntaxError, "names starting with '_'"),
    ("Days$real", mb.FormulaSyntaxError, "attribute access ('$')"),
    ("Days@real", mb.FormulaSyntaxError, "attribute access ('@')"),
    ("Days[0]", mb.FormulaSyntaxError, "subscripts ('[')"),
    ("base::system('touch {m}')", mb.FormulaSyntaxError, "namespaces ('::')"),
    ("{{system('touch {m}')}}", mb.FormulaSyntaxError, "braces are not allowed"),
    ("x <- system('touch {m}')", mb.FormulaSyntaxError, "assignment ('<-')"),
    ("function(x) system('touch {m}')", mb.FormulaSyntaxError, "'function' is not allowed"),
    ("do.call('system', list('touch {m}'))", mb.FormulaSyntaxError, "unknown function 'do.call'"),
    ("log(Days, base=__import__('os'))", mb.FormulaSyntaxError, "names starting with '_'"),
    ("log(Days, _state=1)", mb.FormulaSyntaxError, "names starting with '_'"),
    ("scale(Days, ddof=system('touch {m}'))", mb.FormulaSyntaxError, "scale() has no argument 'ddof'"),
    ("I(Days)(system)", mb.FormulaSyntaxError, "only a function's name may be called"),
    ("'a'.join(Days)", mb.FormulaSyntaxError, "unexpected"),
    ("Days; import os", mb.FormulaSyntaxError, "';' is not allowed"),
]


def _ids(rows: list[tuple[str, type, str]]) -> list[str]:
    return [r[0][:30] for r in rows]


def _no_marker() -> None:
    assert not MARKER.exists(), "a formula ran code"


@pytest.fixture(autouse=True)
def _clean_marker() -> None:
    MARKER.unlink(missing_ok=True)
    yield
    _no_marker()


def _paths(payload: str) -> dict[str, tuple[str, pd.DataFrame, dict]]:
    """Every place formula text is evaluated, with the payload in it."""
    return {
        "fixed I()": (f"Reaction ~ Days + I({payload}) + (1 | Subject)", SLEEP, {}),
        "fixed log()": (f"Reaction ~ log({payload}) + (1 | Subject)", SLEEP, {}),
        "random term": (f"Reaction ~ Days + (I({payload}) | Subject)", SLEEP, {}),
        "grouping factor": (f"Reaction ~ Days + (1 | I({payload}))", SLEEP, {}),
        "response": (f"log({payload}) ~ Days + (1 | Subject)", SLEEP, {}),
        "offset()": (f"Reaction ~ Days + offset({payload}) + (1 | Subject)", SLEEP, {}),
        "cbind()": (f"cbind(incidence, {payload}) ~ period + (1 | herd)", CBPP, {"family": "binomial"}),
        "weights=": ("Reaction ~ Days + (1 | Subject)", SLEEP, {"weights": payload}),
        "offset=": ("Reaction ~ Days + (1 | Subject)", SLEEP, {"offset": payload}),
    }


CASES = [(path, payload, err, words) for payload, err, words in PAYLOADS
         for path in _paths("x")]


@pytest.mark.parametrize(("path", "payload", "err", "words"), CASES,
                         ids=[f"{c[0]}-{c[1][:24]}" for c in CASES])
def test_injection_is_refused_with_a_typed_error(path: str, payload: str, err: type, words: str) -> None:
    formula, data, kwargs = _paths(payload.format(m=MARKER))[path]
    with pytest.raises(err) as info:
        mb.Model(formula, data, **kwargs)
    assert words in str(info.value)
    if isinstance(info.value, mb.FormulaSyntaxError):  # the caret points into the text given
        text = info.value.formula
        assert text in (formula, kwargs.get("weights"), kwargs.get("offset"))
        assert 0 <= info.value.position < len(text)
    _no_marker()


@pytest.mark.parametrize("payload", ["np", "getattr", "os", "sys", "np.lib.os"])
def test_bare_python_names_are_unknown_columns(payload: str) -> None:
    with pytest.raises(mb.UnknownColumnError, match=f"unknown column '{payload}'"):
        mb.Model(f"Reaction ~ Days + I({payload}) + (1 | Subject)", SLEEP)


def test_lmer_and_glmer_refuse_too() -> None:
    with pytest.raises(mb.FormulaSyntaxError):
        mb.lmer(f"Reaction ~ I(__import__('os').system('touch {MARKER}')) + (1 | Subject)", SLEEP)
    with pytest.raises(mb.FormulaSyntaxError):
        mb.glmer(f"cbind(incidence, size - incidence) ~ exec('touch {MARKER}') + (1 | herd)", CBPP)


def test_caret_points_at_the_refused_name_in_the_original_formula() -> None:
    formula = "Reaction ~ Days + log(Days + 1) + I(Days * __import__('os')) + (1 | Subject)"
    with pytest.raises(mb.FormulaSyntaxError) as info:
        mb.Model(formula, SLEEP)
    assert formula[info.value.position:].startswith("__import__")
    assert str(info.value).splitlines()[-2].strip() == formula


# ---- the user's own functions are passed explicitly --------------------------------------------------------

def test_own_function_needs_functions_argument() -> None:
    with pytest.raises(mb.FormulaSyntaxError, match=r"unknown function 'logit'.*functions=\{'logit': f\}"):
        mb.Model("Reaction ~ logit(Days / 10 + 0.05) + (1 | Subject)", SLEEP)
    calls = []

    def logit(p: np.ndarray) -> np.ndarray:
        calls.append(1)
        return np.log(p / (1 - p))

    m = mb.Model("Reaction ~ logit(Days / 10 + 0.05) + (1 | Subject)", SLEEP, functions={"logit": logit})
    assert m.design.fixef_names == ("(Intercept)", "logit(Days/10 + 0.05)")
    np.testing.assert_allclose(m.design.X[:, 1], logit(SLEEP["Days"].to_numpy() / 10 + 0.05))
    fit = mb.lmer("Reaction ~ Days + offset(logit(Days / 10 + 0.05)) + (1 | Subject)", SLEEP,
                  functions={"logit": logit})
    assert np.isfinite(fit.fixef).all() and calls


@pytest.mark.parametrize(("functions", "words"), [
    ({"__import__": abs}, "not a usable function name"),
    ({"_f": abs}, "not a usable function name"),
    ({"f": 3}, "not callable"),
    ([abs], "must be a dict"),
])
def test_bad_functions_argument(functions: object, words: str) -> None:
    with pytest.raises(mb.FormulaSyntaxError, match=words):
        mb.Model("Reaction ~ Days + (1 | Subject)", SLEEP, functions=functions)  # type: ignore[arg-type]


def test_failing_own_function_is_a_typed_error() -> None:
    def boom(x: np.ndarray) -> np.ndarray:
        raise KeyError("boom")

    with pytest.raises(mb.MixbayesError):
        mb.Model("Reaction ~ Days + offset(boom(Days)) + (1 | Subject)", SLEEP, functions={"boom": boom})


# ---- defence in depth: formulaic itself is closed -----------------------------------------------------------

@pytest.mark.parametrize("code", [
    "I(__import__('os').system('touch {m}'))",
    "I(__import__('os').system('touch {m}')(1))",
    "I((lambda: __import__('os').system('touch {m}'))())",
    "np.lib.os.system('touch {m}')",
    "I(x.__class__)",
    "I([open('{m}', 'w') for i in [1]])",
    "I(x[0])",
    "eval(\"open('{m}', 'w')\")",
])
def test_formulaic_refuses_unchecked_code(code: str) -> None:
    """Even code that bypassed the formula check cannot run through the materializer mixbayes gives formulaic."""
    import formulaic

    from mixbayes.design.safe_formulaic import safe_context
    from mixbayes.design.safe_materializer import SafeMaterializer

    with pytest.raises(Exception, match=r"not allowed|only the whitelisted"):
        formulaic.model_matrix(code.format(m=MARKER), pd.DataFrame({"x": [1.0, 2.0, 3.0]}),
                               context=safe_context(), materializer=SafeMaterializer)
    _no_marker()


@pytest.mark.parametrize("name", ["__import__", "eval", "exec", "open", "getattr", "compile", "np", "contr",
                                  "__builtins__", "globals", "vars"])
def test_context_shadows_builtins_and_unlisted_transforms(name: str) -> None:
    from mixbayes.design.safe_formulaic import safe_context

    ctx = safe_context()
    with pytest.raises(mb.FormulaSyntaxError, match="is not allowed"):
        ctx[name]("os")
    with pytest.raises(mb.FormulaSyntaxError):
        _ = ctx[name].path


@pytest.mark.parametrize(("code", "words"), [
    ("x.real", "Attribute"),
    ("x[0]", "Subscript"),
    ("(lambda: 1)()", "only the whitelisted"),
    ("[i for i in x]", "ListComp"),
    ("{i: i for i in x}", "DictComp"),
    ("_x + 1", "names starting with '_'"),
    ("log(x, **kw)", "'**'"),
    ("f'{x}'", "JoinedStr"),
    ("x if x else x", "IfExp"),
    ("(y := 1)", "NamedExpr"),
])
def test_python_check_names_the_construct(code: str, words: str) -> None:
    from mixbayes.design.safe_formulaic import check_code

    with pytest.raises(mb.FormulaSyntaxError, match=words.replace("*", r"\*")):
        check_code(code, frozenset({"log", "I"}))


# ---- the command line ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("formula", [
    "Reaction ~ Days + I(__import__('os').system('touch {m}')) + (1 | Subject)",
    "Reaction ~ Days + (1 | system('touch {m}'))",
    "system('touch {m}') ~ Days + (1 | Subject)",
    "Reaction ~ Days + offset(np.lib._datasource.os.system('touch {m}')) + (1 | Subject)",
])
def test_cli_refuses_injection_in_process(formula: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["fit", formula.format(m=MARKER), "--data", "sleepstudy"])
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2 and out == ""
    assert len(lines) == 1 and lines[0].startswith("mixbayes: error: ")
    assert "not allowed" in lines[0] or "unknown function" in lines[0]


def test_cli_refuses_injection_in_a_real_process() -> None:
    formula = f"Reaction ~ Days + I(__import__('os').system('touch {MARKER}')) + (1 | Subject)"
    run = subprocess.run([sys.executable, "-m", "mixbayes.cli", "fit", formula, "--data", "sleepstudy"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stdout == ""
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mixbayes: error: names starting with '_'")
    assert "Traceback" not in run.stderr


# ---- robustness: deep or long formulas ----------------------------------------------------------------------

def test_deep_parentheses_are_a_syntax_error_not_a_recursion_error() -> None:
    for formula in ["y ~ " + "(" * 300 + "x" + ")" * 300, "y ~ I(" + "(" * 300 + "x" + ")" * 300 + ")",
                    "y ~ " + "^".join(["x"] * 300), "y ~ " + ":".join(f"x{i}" for i in range(300)),
                    "y ~ I(" + "+".join(["x"] * 1000) + ")", "(" * 300 + "y" + ")" * 300 + " ~ x"]:
        with pytest.raises(mb.FormulaSyntaxError, match=r"nests too deeply|too long"):
            mb.parse_formula(formula)


def test_a_1000_term_formula_parses() -> None:
    formula = "y ~ " + " + ".join(f"x{i}" for i in range(1000)) + " - x5 + (x1 + x2 + x3 | g)"
    parsed = mb.parse_formula(formula)
    assert len(parsed.fixed) == 1001 and parsed.fixed[-1][0] == "-"
    assert mb.expand_formula(formula).endswith("x999 - x5 + (x1 + x2 + x3 | g)")


@pytest.mark.slow
def test_a_1000_term_formula_fits() -> None:
    rng = np.random.default_rng(1)
    data = pd.DataFrame(rng.normal(size=(1200, 1000)), columns=[f"x{i}" for i in range(1000)])
    data["y"] = rng.normal(size=1200)
    data["g"] = np.repeat(np.arange(60), 20).astype(str)
    formula = "y ~ " + " + ".join(data.columns[:1000]) + " + (1 | g)"
    m = mb.Model(formula, data)
    assert m.design.X.shape == (1200, 1001)
    assert mb.expand_formula(formula).endswith("x999 + (1 | g)")


# ---- property: generated formulas with injection shapes -------------------------------------------------------

SAFE_EXPR = st.sampled_from(["Days", "log(Days + 1)", "I(Days^2)", "scale(Days)", "poly(Days, 2)", "1",
                             "Days:Subject", "exp(-Days / 10)"])
INJECT = st.sampled_from(["__import__('os').system('touch {m}')", "open('{m}', 'w')", "Days.__class__",
                          "(lambda: 1)()", "[1 for i in Days]", "Days$x", "np.lib.os.system('touch {m}')",
                          "getattr(Days, 'real')", "eval('1')", "Days[1]", "`__class__`", "base::system('x')",
                          "I(Days)(1)", "x <- 1", "Days; 1"])
WRAP = st.sampled_from(["I({})", "log({})", "({} | Subject)", "offset({})", "(1 | {})", "{}"])


@pytest.mark.filterwarnings("ignore::mixbayes.MixbayesWarning")
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(SAFE_EXPR, min_size=0, max_size=3), st.lists(st.tuples(WRAP, INJECT), min_size=0, max_size=2),
       st.sampled_from(["Reaction", "log(Reaction)", "Reaction > 250"]))
def test_generated_formulas_fit_or_raise_typed_errors(safe: list[str], bad: list[tuple[str, str]],
                                                      lhs: str) -> None:
    terms = safe + [w.format(p.format(m=MARKER)) for w, p in bad] + ["(1 | Subject)"]
    formula = f"{lhs} ~ " + " + ".join(terms)
    family = "binomial" if ">" in lhs else "gaussian"
    try:
        mb.Model(formula, SLEEP, family=family)
    except mb.MixbayesError as err:
        if bad:
            assert isinstance(err, mb.FormulaSyntaxError | mb.UnknownColumnError | mb.DesignError), err
    else:
        assert not bad, f"{formula!r} was accepted"
    _no_marker()
