"""mb.write_report: the self-contained HTML page, its sections, tables and images; checked in headless Chromium (skipped
only where /usr/bin/chromium is absent); and `mixbayes demo` end to end with the real sampler."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from unittest import mock

import pytest
from conftest import lme4_case
from report_standin import StandInBayesFit

import mixbayes as mb
from mixbayes.cli import main
from mixbayes.report.html import CSP, build_report

CHROMIUM = "/usr/bin/chromium"
BAYES_IMAGES = {"divergences", "trace-rank"}
LIKELIHOOD_IMAGES = {"intervals", "shrinkage", "fitted-lines", "caterpillar"}
SECTIONS = ["comparison", "summaries", "shrinkage", "ranef", "teaching", "diagnostics"]


@pytest.fixture(scope="module")
def standin_page(sleep_reml, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report from the REML fit and a stand-in posterior (no sampler run)."""
    post = StandInBayesFit(sleep_reml, random_seed=1, divergent=5)
    return mb.write_report((sleep_reml, post), tmp_path_factory.mktemp("report") / "standin.html", intervals="none")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`mixbayes demo` with few draws: likelihood and Bayesian fits."""
    out = tmp_path_factory.mktemp("demo") / "demo.html"
    import contextlib
    import io

    buf = io.StringIO()
    with mock.patch.dict(os.environ, {"MIXBAYES_FAST": "1"}), contextlib.redirect_stdout(buf), \
            contextlib.redirect_stderr(io.StringIO()):
        status = main(["demo", "--out", str(out)])
    assert status == 0
    return out, buf.getvalue()


def _images(page: str) -> list[str]:
    return re.findall(r"<figure data-plot='([\w-]+)'><img alt='[^']*' src='data:image/png;base64,", page)


def test_page_is_self_contained(standin_page: Path) -> None:
    page = standin_page.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert f'content="{CSP}"' in page
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:|//)""", page), "external resource"
    assert "<script" not in page and "@import" not in page and "url(" not in page.replace("data:", "")
    assert "<link" not in page
    for key in SECTIONS:
        assert f"<section id='{key}'>" in page, key
    assert set(_images(page)) == LIKELIHOOD_IMAGES | BAYES_IMAGES
    assert "panel-error" not in page.split("</style>")[1]
    for table in ("mb-compare", "mb-shrinkage", "mb-naive", "mb-deff"):
        assert f'<table class="mb-table {table}">' in page, table
    assert "sd_Days|Subject" in page and "Stand-in posterior" in page


def test_build_report_records_what_it_drew(sleep_reml) -> None:
    content = build_report(sleep_reml, intervals="none")  # a single likelihood fit: no posterior panels
    assert content.sections == SECTIONS and content.errors == []
    assert set(content.images) == LIKELIHOOD_IMAGES
    assert content.comparison.posterior_method is None
    html = mb.write_report(sleep_reml, intervals="none")
    assert isinstance(html, str) and html.startswith("<!DOCTYPE html>")


def test_report_of_a_problem_fit_includes_the_walkthrough(tmp_path: Path) -> None:
    data = mb.load_dataset("sleepstudy")
    data["seconds"] = data["Days"] * 86400.0
    model = mb.Model("Reaction ~ seconds + (seconds | Subject)", data)
    path = mb.write_report(model, tmp_path / "walk.html", sample=False, intervals="none")
    page = path.read_text()
    assert "Convergence walkthrough" in page and "mb-walkthrough" in page
    assert "Resolved by: <b>rescale predictors</b>" in page


def test_report_argument_errors(sleep_reml) -> None:
    with pytest.raises(TypeError, match="Model, a fit"):
        mb.write_report("Reaction ~ Days")
    with pytest.raises(TypeError, match="pair"):
        mb.write_report((sleep_reml, sleep_reml, sleep_reml))
    with pytest.raises(TypeError, match="one likelihood fit"):
        mb.write_report((sleep_reml, sleep_reml))


def _check_in_chromium(page_path: Path, tmp: Path) -> tuple[dict[str, str], list[str]]:
    """Load the page in headless Chromium with a small checker script added (and allowed by the CSP); return the
    attributes the checker set on <body> and the console lines Chromium logged."""
    page = page_path.read_text()
    assert CSP in page
    page = page.replace(CSP, CSP + "; script-src 'unsafe-inline'")
    hook = ("<script>window.__errs=[];"
            "window.addEventListener('error',function(e){window.__errs.push(String(e.message||e.type))},true);"
            "document.addEventListener('securitypolicyviolation',function(e){window.__errs.push('csp '+e.blockedURI)});"
            "var ce=console.error;console.error=function(){window.__errs.push([].join.call(arguments,' '));"
            "ce.apply(console,arguments)};</script>")
    check = ("<script>window.addEventListener('load',function(){var imgs=[].slice.call(document.images);"
             "var b=document.body;b.setAttribute('data-images',imgs.length);"
             "b.setAttribute('data-broken',imgs.filter(function(i){return !(i.complete&&i.naturalWidth>0)}).length);"
             "b.setAttribute('data-tables',document.querySelectorAll('table').length);"
             # boxes whose content is wider than the box (clipped or scrolled): summaries, tables, figures
             "var wide=[];document.querySelectorAll('pre, table, figure').forEach(function(e){"
             "if(e.scrollWidth>e.clientWidth+1){wide.push(e.tagName+':'+e.scrollWidth+'>'+e.clientWidth)}});"
             "b.setAttribute('data-overflow',wide.join(' '));"
             "b.setAttribute('data-errors',window.__errs.join(' | '));b.setAttribute('data-checked','yes')});"
             "</script>")
    page = page.replace("<meta charset='utf-8'>", "<meta charset='utf-8'>" + hook, 1).replace(
        "</body>", check + "</body>", 1)
    target = tmp / "checked.html"
    target.write_text(page)
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp / 'chromium-profile'}", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000", "--window-size=1280,900", "--dump-dom",
           target.as_uri()]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", run.stdout)
    assert body, run.stdout[:500]
    attrs = dict(re.findall(r'(data-[\w-]+)="([^"]*)"', body.group(1)))
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line]
    return attrs, console


@pytest.mark.skipif(not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None,
                    reason="Chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("which", ["standin", "demo"])
def test_page_renders_in_headless_chromium(which: str, standin_page: Path, demo_run: tuple[Path, str],
                                           tmp_path: Path) -> None:
    path = standin_page if which == "standin" else demo_run[0]
    expected = len(_images(path.read_text()))
    attrs, console = _check_in_chromium(path, tmp_path)
    assert attrs.get("data-checked") == "yes", attrs
    assert console == [], console
    assert attrs["data-errors"] == ""
    assert int(attrs["data-images"]) == expected >= 4
    assert attrs["data-broken"] == "0"
    assert attrs["data-overflow"] == ""  # no clipped summary box or table at a laptop's width
    assert int(attrs["data-tables"]) >= 4


def test_demo_prints_where_the_report_is(demo_run: tuple[Path, str]) -> None:
    path, out = demo_run
    assert "Report written to" in out and str(path.resolve()) in out
    assert "sd_(Intercept)|Subject" in out


def test_demo_end_to_end(demo_run: tuple[Path, str]) -> None:
    """`mixbayes demo` with the real sampler: the side-by-side table printed, the full report written."""
    path, out = demo_run
    page = path.read_text()
    assert set(_images(page)) == LIKELIHOOD_IMAGES | BAYES_IMAGES
    assert "posterior" in out and "95% interval" in out
    case = lme4_case("sleepstudy_corr_reml")
    # the printed likelihood column carries lme4's REML values (4 significant digits)
    for name, value in [("Days", case["fixef"]["Days"]), ("sigma", case["sigma"])]:
        line = next(line for line in out.splitlines() if line.startswith(name + " "))
        assert float(line.split()[1]) == pytest.approx(value, rel=5e-4)
    assert "Bayesian fit: sampling diagnostics" in page
    assert len(page) > 200_000
    for key in SECTIONS:
        assert f"<section id='{key}'>" in page, key
    assert "panel-error" not in page.split("</style>")[1]
