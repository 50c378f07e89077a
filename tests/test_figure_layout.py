"""Every figure mixbayes draws keeps its legends, titles and labels on the canvas (nothing clipped when the PNG is
rendered, as the report renders it), and legends never cover the shrinkage plot's points.  Figures are registered
with pyplot in scripts (so ``plt.show()`` shows them) and built without pyplot inside the report.  That the
report's boxes (summaries, tables) do not overflow in headless Chromium is checked by the report's own Chromium
test (tests/test_report_html.py), on the stand-in page and on the demo's real posterior."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from report_standin import StandInBayesFit

import mixbayes as mb
from mixbayes.figure import detached
from mixbayes.report import plots

matplotlib.use("Agg")
import matplotlib.pyplot as plt


@pytest.fixture(scope="module")
def standin(sleep_reml) -> StandInBayesFit:
    return StandInBayesFit(sleep_reml, random_seed=1, divergent=5)


@pytest.fixture(scope="module")
def intercept_fit():
    return mb.lmer("Reaction ~ Days + (1 | Subject)", mb.load_dataset("sleepstudy"))


def _draw(fig):
    """Draw on an Agg canvas, as the report's PNGs are drawn; return the renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _outside(fig) -> list[str]:
    """Names and extents of the text-like artists (legends, titles, labels, tick labels, texts) that reach
    beyond the canvas by more than one pixel."""
    renderer = _draw(fig)
    width, height = fig.bbox.width, fig.bbox.height
    artists = [(f"figure legend {k}", leg) for k, leg in enumerate(fig.legends)]
    artists += [(f"figure text {t.get_text()!r}", t) for t in fig.texts if t.get_text()]
    if fig._suptitle is not None and fig._suptitle.get_text():
        artists.append(("suptitle", fig._suptitle))
    for k, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        if ax.get_legend() is not None:
            artists.append((f"axes {k} legend", ax.get_legend()))
        for t in [ax.title, ax._left_title, ax._right_title, *ax.texts]:
            if t.get_visible() and t.get_text():
                artists.append((f"axes {k} text {t.get_text()!r}", t))
        # each axis with its drawn tick labels and its label
        artists += [(f"axes {k} x axis", ax.xaxis), (f"axes {k} y axis", ax.yaxis)]
    bad = []
    for name, artist in artists:
        box = (artist.get_tightbbox(renderer) if isinstance(artist, matplotlib.axis.Axis)
               else artist.get_window_extent(renderer))
        if box is None:
            continue
        if box.x0 < -1 or box.y0 < -1 or box.x1 > width + 1 or box.y1 > height + 1:
            bad.append(f"{name}: [{box.x0:.0f}, {box.x1:.0f}] x [{box.y0:.0f}, {box.y1:.0f}] on a "
                       f"{width:.0f} x {height:.0f} canvas")
    return bad


def _figures(fit, intercept_fit, post) -> dict[str, object]:
    shr = mb.shrinkage(fit, post)
    shr1 = mb.shrinkage(intercept_fit, post_1 := StandInBayesFit(intercept_fit, random_seed=2))
    cmp = mb.compare(fit, post, intervals="none")
    return {
        "shrinkage 2d": shr.plot(),
        "shrinkage 1d": shr1.plot(),
        "fitted lines": shr.plot_lines(),
        "fitted lines (intercept)": shr1.plot_lines(),
        "caterpillar (both)": plots.caterpillar_plot(fit, post),
        "caterpillar (likelihood)": fit.plot_caterpillar(),
        "caterpillar (one column)": plots.caterpillar_plot(intercept_fit, post_1),
        "comparison": plots.comparison_plot(cmp),
        "divergences": plots.divergence_pairs_plot(post),
        "trace": plots.trace_rank_plot(post),
        "predictions": mb.plot_predictions({"REML": fit, "posterior (stand-in)": fit}, "Days"),
    }


def test_no_artist_leaves_the_canvas(sleep_reml, intercept_fit, standin) -> None:
    with detached():
        figs = _figures(sleep_reml, intercept_fit, standin)
    problems = {name: bad for name, fig in figs.items() if (bad := _outside(fig))}
    assert problems == {}, "\n".join(f"{k}: {v}" for k, v in problems.items())


@pytest.mark.parametrize("which", ["2d", "1d"])
def test_shrinkage_legend_covers_no_point(sleep_reml, intercept_fit, standin, which: str) -> None:
    fit = sleep_reml if which == "2d" else intercept_fit
    with detached():
        fig = mb.shrinkage(fit, standin if which == "2d" else None).plot()
    renderer = _draw(fig)
    legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert legends
    ax = fig.axes[0]
    points = np.vstack([c.get_offset_transform().transform(c.get_offsets()) for c in ax.collections
                        if len(c.get_offsets())])
    assert len(points) >= 18
    for leg in legends:
        box = leg.get_window_extent(renderer)
        inside = (points[:, 0] >= box.x0) & (points[:, 0] <= box.x1) & (points[:, 1] >= box.y0) & (
            points[:, 1] <= box.y1)
        assert not inside.any(), f"{inside.sum()} points under the legend"


def test_figures_are_registered_with_pyplot_outside_the_report(sleep_reml) -> None:
    plt.close("all")
    fig = sleep_reml.plot_caterpillar()
    shr_fig = mb.shrinkage(sleep_reml).plot()
    assert plt.get_fignums() == [fig.number, shr_fig.number]  # plt.show() shows them
    with detached():
        other = sleep_reml.plot_caterpillar()
    assert len(plt.get_fignums()) == 2 and other.canvas.manager is None
    plt.close("all")


def test_report_figures_are_built_without_pyplot(sleep_reml) -> None:
    """The report draws its figures detached from pyplot: none is left registered (none shown by a later
    plt.show(), none accumulates)."""
    from mixbayes.report.html import _Page

    plt.close("all")
    page = _Page()
    page.figure("caterpillar", sleep_reml.plot_caterpillar, "caption", "alt")
    page.figure("shrinkage", mb.shrinkage(sleep_reml).plot, "caption", "alt")
    assert page.images == ["caterpillar", "shrinkage"] and plt.get_fignums() == []


def test_docs_have_no_escaped_pipe_in_code() -> None:
    """Python-Markdown keeps a backslash before | inside code spans (mkdocs would show `(x \\| g)`, which fails
    to parse when copied): tables write <code>(x &#124; g)</code> instead."""
    docs = Path(__file__).resolve().parent.parent / "docs"
    hits = [f"{p.name}: {m.group(0)}" for p in docs.glob("*.md") for m in re.finditer(r"`[^`\n]*\\\|[^`\n]*`",
                                                                                     p.read_text())]
    assert hits == []
