"""Rich display and export (HTML for Jupyter, Markdown, LaTeX) of fits, summaries and tables; anova's labels and
decimals; data frames other than pandas (polars, PyArrow) at every entry point and a clear error for non-frames;
the notebook progress line (one output, updated in place)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import mixbayes as mb
from mixbayes.bayes import progress as progress_mod

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def cbpp_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mb.glmer(CBPP, mb.load_dataset("cbpp"), family="binomial")


def _markdown_rows(text: str, first_cell: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()
            if line.startswith(f"| {first_cell}")]


@pytest.mark.parametrize("which", ["lmm", "glmm", "map"])
def test_fits_render_html_markdown_and_latex(which: str, sleep_reml, cbpp_fit) -> None:
    fit = {"lmm": sleep_reml, "glmm": cbpp_fit}.get(which)
    if fit is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sleep_reml.model.fit(method="map")
    html = fit._repr_html_()
    assert html.count("<table") >= 2 and fit.formula.replace("|", "") in html.replace("|", "")
    md = fit.to_markdown()
    beta = fit.fixef
    rows = _markdown_rows(md, beta.index[0])
    assert rows and float(rows[0][1]) == pytest.approx(float(beta.iloc[0]), rel=1e-3)
    assert len(re.findall(r"^\|(:---|---:)", md, re.M)) == 2  # two pipe tables, with their alignment rows
    tex = fit.to_latex()
    assert tex.count("\\begin{tabular}") == 2 and "\\toprule" in tex and "\\bottomrule" in tex
    assert "\\textasciitilde{}" in tex and "~" not in tex  # the formula is escaped


def test_small_objects_are_not_raw_dataclass_reprs(sleep_reml, cbpp_fit) -> None:
    icc = sleep_reml.icc()
    assert repr(icc).startswith("Intraclass Correlation Coefficient") and "<table" in icc._repr_html_()
    for report in (sleep_reml.diagnose(), cbpp_fit.diagnose()):
        assert not repr(report).startswith(("ConvergenceReport(", "_Report(")), repr(report)[:80]
        assert report._repr_html_().startswith("<pre")
    html = sleep_reml.model._repr_html_()
    assert "(Days | Subject)" in html and "<td>18</td>" in html
    cmp = mb.compare(sleep_reml, intervals="none")
    assert "<table" in cmp._repr_html_() and "\\begin{tabular}" in cmp.to_latex() and "|" in cmp.to_markdown()
    emm = mb.emmeans(cbpp_fit, "period")
    assert len(_markdown_rows(emm.to_markdown(), "1")) == 1 and emm.to_latex().count("\\\\") == 5


def test_anova_labels_by_variable_name_and_keeps_decimals() -> None:
    d = mb.load_dataset("sleepstudy")
    fm1 = mb.lmer("Reaction ~ Days + (1 | Subject)", d)
    fm2 = mb.lmer("Reaction ~ Days + (Days | Subject)", d)
    a = mb.anova(fm1, fm2)
    assert list(a.table.index) == ["fm1", "fm2"]
    text = str(a)
    # lme4: anova(fm1, fm2) AIC 1802.1 / 1763.9, logLik -897.04 / -875.97 (refitted by ML)
    assert "1763.94" in text and "-875.97" in text and "1802.08" in text
    assert a.table.loc["fm2", "AIC"] == pytest.approx(1763.939, abs=1e-3)
    unnamed = mb.anova(fm1, mb.lmer("Reaction ~ Days + (Days || Subject)", d))
    assert list(unnamed.table.index) == ["fm1", "Reaction ~ Days + (Days || Subject)"]
    assert list(mb.anova(fm1, fm2, names=["a", "b"]).table.index) == ["a", "b"]
    assert "| fm2 |" in a.to_markdown() and "\\begin{tabular}" in a.to_latex()


def test_polars_and_pyarrow_frames_everywhere() -> None:
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    d = mb.load_dataset("sleepstudy")
    ref = mb.lmer("Reaction ~ Days + (Days | Subject)", d)
    for frame in (pl.from_pandas(d), pl.from_pandas(d).lazy(), pa.Table.from_pandas(d)):
        fit = mb.lmer("Reaction ~ Days + (Days | Subject)", frame)
        np.testing.assert_allclose(fit.theta, ref.theta, rtol=1e-10)
        assert list(fit.ranef()["Subject"].index) == list(ref.ranef()["Subject"].index)
    new = pl.DataFrame({"Days": [0.0, 4.5, 9.0]})
    np.testing.assert_allclose(ref.predict(new, include_random=False),
                               ref.predict(new.to_pandas(), include_random=False), rtol=1e-12)
    np.testing.assert_allclose(ref.predict_intervals(new)["conf_low"],
                               ref.predict_intervals(new.to_pandas())["conf_low"], rtol=1e-12)
    cb = mb.load_dataset("cbpp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = mb.glmer(CBPP, pl.from_pandas(cb), family="binomial")
        g0 = mb.glmer(CBPP, cb, family="binomial")
    np.testing.assert_allclose(g.beta, g0.beta, rtol=1e-10)


@pytest.mark.parametrize(("data", "message"), [
    (np.zeros((5, 3)), r"not a numpy\.ndarray of shape \(5, 3\).*pd\.DataFrame\(array, columns="),
    ([1, 2, 3], r"not a list"),
    (pd.Series([1.0, 2.0], name="Reaction"), r"is a pandas Series \('Reaction'\).*to_frame"),
    ("sleep.csv", r"read other files into a data frame first"),
])
def test_a_non_frame_gets_an_error_naming_it(data: object, message: str) -> None:
    with pytest.raises(mb.DesignError, match=message):
        mb.lmer("Reaction ~ Days + (1 | Subject)", data)


def test_notebook_progress_is_one_line_updated_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a notebook, the phases and the bar go to one display (updated in place); its final text is one line."""
    shown: list[str] = []

    class Handle:
        def update(self, data: dict, raw: bool = False) -> None:
            shown[-1] = data["text/plain"]
            updates.append(data["text/plain"])

    updates: list[str] = []

    def display(data: dict, raw: bool = False, display_id: bool = False) -> Handle:
        assert raw and display_id
        shown.append(data["text/plain"])
        return Handle()

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", display)
    monkeypatch.setattr(progress_mod, "in_notebook", lambda: True)
    p = progress_mod.Progress(True)
    with p.phase("build", "building the PyMC model"):
        pass
    with p.phase("sample_total", "sampling 2 chains"):
        bar = progress_mod.ProgressBar(tune=10, chains=2)
        for k in range(1, 21):
            bar(k, 20)
        bar.close()
    assert len(shown) == 1  # one output
    assert len(updates) >= 20  # rewritten in place
    assert "\n" not in shown[0] and shown[0].startswith("mixbayes: building the PyMC model: ")
    assert "; sampling 2 chains: " in shown[0] and "[" not in shown[0]  # final state: the phases, no bar
