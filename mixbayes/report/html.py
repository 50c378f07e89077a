"""``mb.write_report`` (formerly ``mb.report``): one self-contained HTML page with the comparison, shrinkage,
teaching views and diagnostics.

The page needs no network: styles are inline, plots are PNG images embedded as base64 ``data:`` URIs, there is
no script, and a Content-Security-Policy forbids loading anything else.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import ArgumentError
from . import _bayes

__all__ = ["ReportContent", "build_report", "report", "write_report"]

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

CSS = """
:root { --ink:#1f2328; --muted:#59636e; --line:#d8dee4; --bg:#ffffff; --soft:#f6f8fa; --accent:#1b9e77;
        --post:#7570b3; --flag:#fff1f0; --flagline:#c0392b; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color:var(--ink); background:var(--bg); }
main { max-width:1180px; margin:0 auto; padding:24px 28px 48px; }
header h1 { font-size:26px; margin:0 0 4px; }
header p { margin:2px 0; color:var(--muted); }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:12.5px; }
nav { margin:14px 0 8px; padding:8px 12px; background:var(--soft); border:1px solid var(--line); border-radius:6px; }
nav a { margin-right:14px; color:#0969da; text-decoration:none; }
section { margin-top:30px; }
h2 { font-size:20px; border-bottom:1px solid var(--line); padding-bottom:4px; }
h3 { font-size:16px; margin:18px 0 6px; }
table.mb-table { border-collapse:collapse; margin:10px 0; font-size:13px; }
table.mb-table th, table.mb-table td { padding:3px 9px; border-bottom:1px solid var(--line); white-space:nowrap; }
table.mb-table thead th { background:var(--soft); border-bottom:2px solid var(--line); }
table.mb-table th.group { text-align:center; border-bottom:1px solid var(--line); }
table.mb-table td.num { text-align:right; font-variant-numeric: tabular-nums; }
table.mb-table th.num { text-align:right; }
table.mb-table td.txt, table.mb-table th.txt { text-align:left; }
table.mb-table tr.section th { text-align:left; background:#fbfbfc; color:var(--muted); font-weight:600;
                               padding-top:8px; }
table.mb-table tr.flagged td { background:var(--flag); }
table.mb-table tr.flagged td:last-child { color:var(--flagline); white-space:normal; min-width:220px; }
table.mb-table tr.resolved td { background:#eefaf3; }
table.mb-table tr.skipped td { color:var(--muted); }
table.mb-walkthrough td { white-space:normal !important; }
.caption { color:var(--muted); margin:4px 0; }
.note { color:var(--muted); font-size:13px; margin:4px 0; }
figure { margin:14px 0; }
figure img { max-width:100%; height:auto; border:1px solid var(--line); border-radius:4px; }
figcaption { color:var(--muted); font-size:13px; margin-top:4px; }
.cols { display:flex; gap:18px; flex-wrap:wrap; }
.cols > div { flex:1 1 100%; min-width:0; }
pre { background:var(--soft); border:1px solid var(--line); border-radius:6px; padding:10px 12px; overflow-x:auto;
      white-space:pre-wrap; overflow-wrap:anywhere; }
.panel-error { background:var(--flag); border:1px solid var(--flagline); padding:8px 12px; border-radius:6px; }
details summary { cursor:pointer; color:#0969da; margin:6px 0; }
footer { margin-top:40px; color:var(--muted); font-size:12.5px; border-top:1px solid var(--line); padding-top:10px; }
"""


@dataclass(kw_only=True)
class ReportContent:
    """The pieces of a report, built by :func:`build_report` (``html`` is the page)."""

    html: str
    sections: list[str]
    images: list[str]
    errors: list[str] = field(default_factory=list)
    comparison: Any = None
    seconds: float = 0.0


class _Page:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.sections: list[tuple[str, str]] = []
        self.images: list[str] = []
        self.errors: list[str] = []

    def section(self, key: str, title: str) -> None:
        if self.sections:
            self.parts.append("</section>")
        self.sections.append((key, title))
        self.parts.append(f"<section id='{key}'><h2>{html.escape(title)}</h2>")

    def add(self, fragment: str) -> None:
        self.parts.append(fragment)

    def h3(self, title: str) -> None:
        self.parts.append(f"<h3>{html.escape(title)}</h3>")

    def pre(self, text: str) -> None:
        self.parts.append(f"<pre>{html.escape(text)}</pre>")

    def para(self, text: str, css: str = "") -> None:
        for p in str(text).split("\n\n"):
            cls = f" class='{css}'" if css else ""
            self.parts.append(f"<p{cls}>{html.escape(p)}</p>")

    def figure(self, key: str, draw: Callable[[], Any], caption: str, alt: str) -> None:
        from ..figure import detached
        from .plots import figure_png

        with detached():
            fig = self.guard(key, draw)
        if fig is None:
            return
        try:
            png = figure_png(fig)
        except Exception as exc:  # shown on the page instead of the plot
            self.error(key, exc)
            return
        data = base64.b64encode(png).decode("ascii")
        self.images.append(key)
        self.parts.append(f"<figure data-plot='{key}'><img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"
                          f"<figcaption>{html.escape(caption)}</figcaption></figure>")

    def guard(self, key: str, make: Callable[[], Any]) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return make()
        except Exception as exc:  # one failing panel must not take the whole report down; it is shown
            self.error(key, exc)
            return None

    def error(self, key: str, exc: BaseException) -> None:
        msg = f"{key}: {type(exc).__name__}: {exc}"
        self.errors.append(msg)
        self.parts.append(f"<div class='panel-error'>Could not draw {html.escape(msg)}</div>")

    def render(self, title: str, header: str, footer: str) -> str:
        if self.sections:
            self.parts.append("</section>")
        nav = "".join(f"<a href='#{k}'>{html.escape(t)}</a>" for k, t in self.sections)
        return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
                f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
                "<meta name='viewport' content='width=device-width, initial-scale=1'>"
                f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body><main>"
                f"{header}<nav>{nav}</nav>\n" + "\n".join(self.parts)
                + f"<footer>{footer}</footer></main></body></html>\n")


def _resolve(model_or_fits: Any, draws: int, tune: int, chains: int, random_seed: int | None, method: str | None,
             sample: bool, notes: list[str]) -> tuple[Any, Any, Any]:
    """(model, likelihood fit, Bayesian fit) from whatever was passed."""
    from ..model import Model

    if isinstance(model_or_fits, Model):
        model = model_or_fits
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lfit = model.fit(method=method)
        bfit = None
        if sample:
            bfit = _bayes.sample_model(model, draws=draws, tune=tune, chains=chains, random_seed=random_seed)
        return model, lfit, bfit
    if isinstance(model_or_fits, Sequence) and not isinstance(model_or_fits, str):
        fits = list(model_or_fits)
        if len(fits) != 2:
            raise ArgumentError("report() takes a Model, a fit, or a (likelihood fit, Bayesian fit) pair; got "
                                f"{len(fits)} objects")
        a, b = fits
        lfit, bfit = (b, a) if _bayes.is_bayes_fit(a) else (a, b)
        if lfit is None or _bayes.is_bayes_fit(lfit) or (bfit is not None and not _bayes.is_bayes_fit(bfit)):
            raise ArgumentError("report() needs one likelihood fit (model.fit()) and one Bayesian fit (model.sample())")
        return lfit.model, lfit, bfit
    if _bayes.is_bayes_fit(model_or_fits):
        model = model_or_fits.model
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lfit = model.fit(method=method)
        notes.append(f"The likelihood fit ({lfit.method}) was computed for the comparison.")
        return model, lfit, model_or_fits
    if hasattr(model_or_fits, "varcorr") and hasattr(model_or_fits, "model"):
        return model_or_fits.model, model_or_fits, None
    raise ArgumentError(f"report() takes a Model, a fit, or a (likelihood fit, Bayesian fit) pair, not "
                    f"{type(model_or_fits).__name__}")


def _header(title: str, model: Any, lfit: Any, bfit: Any) -> str:
    d = model.design
    groups = ", ".join(f"{t.group} ({t.n_levels} levels)" for t in {t.group: t for t in d.terms}.values())
    eng = f"likelihood: {lfit.method}"
    if bfit is not None:
        eng += f"; Bayesian: {_bayes.describe(bfit)}"
    return (f"<header><h1>{html.escape(title)}</h1><p><code>{html.escape(d.formula.text)}</code></p>"
            f"<p>{html.escape(str(d.family))} family; {d.n_obs} observations; grouping: {html.escape(groups)}</p>"
            f"<p>{html.escape(eng)}</p></header>")


def _summary_text(fit: Any) -> str:
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return str(fit.summary())


def build_report(model_or_fits: Any, *, draws: int = 1000, tune: int = 1000, chains: int = 4,
                 random_seed: int | None = 1, method: str | None = None, sample: bool = True,
                 intervals: str = "auto", walkthrough: bool | None = None, title: str | None = None) -> ReportContent:
    """Build the page (see :func:`report`) and return it with the list of its sections and plots."""
    from .compare import compare
    from .plots import caterpillar_plot, comparison_plot, divergence_pairs_plot, trace_rank_plot
    from .shrinkage import shrinkage
    from .teaching import convergence_walkthrough, explain_icc, naive_vs_mixed

    t0 = time.perf_counter()
    if hasattr(model_or_fits, "fixef_zi"):  # a glmmTMB-family fit (no Bayesian side yet)
        return _tmb_report(model_or_fits, title, t0)
    notes: list[str] = []
    model, lfit, bfit = _resolve(model_or_fits, draws, tune, chains, random_seed, method, sample, notes)
    title = title or ("Side by side: " + model.design.formula.text if bfit is not None
                      else "Mixed model: " + model.design.formula.text)
    page = _Page()

    # ---- the comparison
    page.section("comparison", "Side by side" if bfit is not None else "Estimates")
    for n in notes:
        page.para(n, "note")
    cmp = page.guard("comparison", lambda: compare(lfit, bfit, intervals=intervals))
    if cmp is not None:
        page.add(cmp.to_html())
        page.figure("intervals", lambda: comparison_plot(cmp),
                    "Each parameter on its own scale: the likelihood estimate with its 95% interval (Wald for fixed "
                    "effects, profile for variance parameters when computed) and the posterior centre with its "
                    "central 95% interval.", "interval comparison")

    # ---- summaries
    page.section("summaries", "Summaries")
    page.add("<div class='cols'><div>")
    page.h3(f"Likelihood ({lfit.method})")
    text = page.guard("summary", lambda: _summary_text(lfit))
    if text is not None:
        page.pre(text)
    page.add("</div>")
    if bfit is not None:
        page.add("<div>")
        page.h3("Posterior")
        text = page.guard("posterior summary", lambda: _bayes.summary_text(bfit))
        if text is not None:
            page.pre(text)
        page.add("</div>")
    page.add("</div>")

    # ---- shrinkage
    page.section("shrinkage", "Shrinkage: no, complete and partial pooling")
    shr = page.guard("shrinkage", lambda: shrinkage(lfit, bfit))
    if shr is not None:
        page.para(f"Each group's own regression (no pooling) against the mixed model's group estimates (partial "
                  f"pooling): the mixed model pulls every group towards the population value, the more so the less "
                  f"data the group has. Grouping factor: {shr.group}; columns: {', '.join(shr.columns)}.")
        two_d = len(shr.columns) >= 2
        page.figure("shrinkage", shr.plot,
                    "Arrows from each group's no-pooling estimate to its partial-pooling estimate; the cross marks "
                    "complete pooling (one regression), the plus the population value (fixed effects)." if two_d else
                    "Each group's no-pooling estimate joined to its partial-pooling estimate(s); dashed: complete "
                    "pooling, dotted: the population value.", "shrinkage plot")
        page.figure("fitted-lines", shr.plot_lines,
                    "The data of each group with its no-pooling, complete-pooling and partial-pooling fits.",
                    "fitted lines per group")
        page.add("<details><summary>Table of the estimates per group</summary>" + shr.to_html() + "</details>")

    # ---- random effects
    page.section("ranef", "Random effects")
    page.figure("caterpillar", lambda: caterpillar_plot(lfit, bfit),
                "Conditional modes with 95% conditional intervals (\u00b11.96 conditional SD)"
                + (" beside posterior means with central 95% intervals." if bfit is not None else "."),
                "caterpillar plot of the random effects")

    # ---- teaching
    page.section("teaching", "What the mixed model changes")
    page.h3("Ignoring the groups")
    nvm = page.guard("naive regression", lambda: naive_vs_mixed(lfit))
    if nvm is not None:
        page.add(nvm.to_html())
    page.h3("The intraclass correlation")
    text = page.guard("icc", lambda: explain_icc(lfit, bfit))
    if text is not None:
        page.para(text)

    # ---- diagnostics
    page.section("diagnostics", "Diagnostics")
    page.h3(f"Likelihood fit: convergence report ({lfit.method})")
    page.pre(str(lfit.diagnose()))
    problems = list(getattr(lfit.convergence, "problems", []))
    run_walk = bool(problems) if walkthrough is None else walkthrough
    if run_walk:
        page.h3("Convergence walkthrough")
        walk = page.guard("walkthrough", lambda: convergence_walkthrough(model, method=method))
        if walk is not None:
            page.add(walk.to_html())
    if bfit is not None:
        page.h3("Bayesian fit: sampling diagnostics")
        page.pre(_bayes.diagnostics_text(bfit))
        page.figure("divergences", lambda: divergence_pairs_plot(bfit),
                    "Pairs of the variance-component parameters (log SDs, correlations); divergent transitions in "
                    "colour. Divergences gathered at small SDs point to a funnel.", "pair plot with divergences")
        page.figure("trace-rank", lambda: trace_rank_plot(bfit),
                    "Trace plots and rank histograms per chain for the variance-component parameters.",
                    "trace and rank plots")
    from ..version import __version__

    seconds = time.perf_counter() - t0
    footer = (f"Generated by mixbayes {html.escape(__version__)} in {seconds:.1f} s. This page is self-contained: "
              "plots are embedded images, and nothing is loaded from the network.")
    out = page.render(title, _header(title, model, lfit, bfit), footer)
    return ReportContent(html=out, sections=[k for k, _ in page.sections], images=page.images, errors=page.errors,
                         comparison=cmp, seconds=seconds)


def _tmb_report(fit: Any, title: str | None, t0: float) -> ReportContent:
    """The likelihood-only page of a glmmTMB-family fit: the estimates (conditional, zero-inflation, random-effect
    SDs, dispersion) and glmmTMB's summary."""
    from ..version import __version__
    from .compare import compare

    title = title or f"Mixed model: {fit.formula}"
    page = _Page()
    page.section("comparison", "Estimates")
    page.para("The Bayesian fit of the glmmTMB families is not available yet: likelihood (Laplace) columns only.",
              "note")
    cmp = page.guard("comparison", lambda: compare(fit))
    if cmp is not None:
        page.add(cmp.to_html())
    page.section("summaries", "Summary")
    text = page.guard("summary", lambda: _summary_text(fit))
    if text is not None:
        page.pre(text)
    seconds = time.perf_counter() - t0
    footer = f"Generated by mixbayes {html.escape(__version__)} in {seconds:.1f} s. This page is self-contained."
    header = f"<h1>{html.escape(title)}</h1>"
    return ReportContent(html=page.render(title, header, footer), sections=[k for k, _ in page.sections],
                         images=page.images, errors=page.errors, comparison=cmp, seconds=seconds)


def write_report(model_or_fits: Any, path: str | Path | None = None, *, draws: int = 1000, tune: int = 1000,
           chains: int = 4, random_seed: int | None = 1, method: str | None = None, sample: bool = True,
           intervals: str = "auto", walkthrough: bool | None = None, title: str | None = None) -> Path | str:
    """Write one self-contained HTML page: the side-by-side table, summaries, shrinkage plots, random effects,
    the teaching views and the diagnostics of both fits.

    Parameters
    ----------
    model_or_fits : Model, fit, or (likelihood fit, Bayesian fit)
        A :class:`~mixbayes.Model` is fitted both ways (REML/ML or Laplace, and NUTS with ``draws``, ``tune``,
        ``chains``, ``random_seed``; set ``sample=False`` for the likelihood fit only).  A pair of fits is shown
        as given (either order).  A single likelihood fit gives a likelihood-only page; a single Bayesian fit is
        shown beside a likelihood fit of the same model, computed here (it is cheap).
    path : str or Path, optional
        Where to write the page (``.html``; missing directories are created; a path that cannot be written is an
        error before anything is fitted).  Without it the HTML is returned as a string.
    method : likelihood method passed to ``Model.fit`` (default REML for linear mixed models).
    intervals : likelihood intervals of the variance parameters (see :func:`~mixbayes.report.compare.compare`).
    walkthrough : run the convergence walkthrough (default: when the likelihood fit has convergence problems).
    title : the page title.

    Returns
    -------
    pathlib.Path or str
        The path written, or the HTML.

    Examples
    --------
    >>> import mixbayes as mb
    >>> model = mb.Model("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    >>> mb.write_report(model, "sleepstudy.html")  # doctest: +SKIP
    PosixPath('sleepstudy.html')
    """
    from ..arguments import check_output_path

    # the path is checked before minutes of fitting and sampling
    p = None if path is None else check_output_path(path, (".html", ".htm"), "report")
    if sample:
        from ..bayes.sampling import check_sampling

        check_sampling(draws, tune, chains, random_seed=random_seed)
    content = build_report(model_or_fits, draws=draws, tune=tune, chains=chains, random_seed=random_seed,
                           method=method, sample=sample, intervals=intervals, walkthrough=walkthrough, title=title)
    if p is None:
        return content.html
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(content.html, encoding="utf-8")
    return p


def report(*args: Any, **kwargs: Any) -> Path | str:
    """Deprecated name of :func:`write_report` (``mb.report`` is the subpackage :mod:`mixbayes.report`)."""
    from ..warn import warn_user

    warn_user("mixbayes.report.html.report is deprecated; use mixbayes.write_report", FutureWarning)
    return write_report(*args, **kwargs)
