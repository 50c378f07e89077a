"""Rich display and export of summaries and tables: HTML (``_repr_html_``, what Jupyter shows), Markdown and LaTeX.

A summary is described once as a list of blocks (a title, lines of text, named tables), and each format renders
the blocks.  Markdown and LaTeX are written here (pandas' ``to_markdown`` needs tabulate and its ``to_latex``
needs Jinja2; neither is a dependency).  LaTeX tables use ``booktabs`` rules (``\\usepackage{booktabs}``).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..tables import frame_html, frame_latex, frame_markdown, latex_escape, pre_html

__all__ = ["Block", "Exportable", "frame_html", "frame_latex", "frame_markdown", "latex_escape", "pre_html",
           "render_html", "render_latex", "render_markdown", "summary_blocks"]


@dataclass(frozen=True)
class Block:
    """One piece of a summary: ``kind`` is ``"title"``, ``"text"`` or ``"table"`` (then ``frame`` is set and
    ``text`` is the table's caption)."""

    kind: str
    text: str = ""
    frame: pd.DataFrame | None = None
    index: bool = True


def render_html(blocks: list[Block]) -> str:
    out = ["<div class='mixbayes-summary'>"]
    for b in blocks:
        if b.kind == "title":
            out.append(f"<p><b>{html.escape(b.text)}</b></p>")
        elif b.kind == "text":
            out.append(f"<p>{html.escape(b.text)}</p>")
        elif b.frame is not None:
            if b.text:
                out.append(f"<p><b>{html.escape(b.text)}</b></p>")
            out.append(frame_html(b.frame, b.index))
    return "\n".join([*out, "</div>"])


def render_markdown(blocks: list[Block]) -> str:
    out = []
    for b in blocks:
        if b.kind == "title":
            out.append(f"**{b.text}**")
        elif b.kind == "text":
            out.append(b.text)
        elif b.frame is not None:
            if b.text:
                out.append(f"*{b.text}*")
            out.append(frame_markdown(b.frame, b.index))
    return "\n\n".join(out) + "\n"


def render_latex(blocks: list[Block]) -> str:
    out = []
    for b in blocks:
        if b.kind == "title":
            out.append(f"\\textbf{{{latex_escape(b.text)}}}\\par")
        elif b.kind == "text":
            out.append(latex_escape(b.text) + "\\par")
        elif b.frame is not None:
            if b.text:
                out.append(f"\\textit{{{latex_escape(b.text)}}}\\par")
            out.append(frame_latex(b.frame, b.index))
    return "\n\n".join(out) + "\n"


def _criteria(fit: Any) -> str | None:
    if getattr(fit, "reml", False):
        return f"REML criterion at convergence: {fit.objective_value:.4f}"
    try:  # a MAP fit has no likelihood criteria
        return (f"AIC {fit.aic:.4f}, BIC {fit.bic:.4f}, logLik {fit.loglik:.4f}, "
                f"deviance {-2 * fit.loglik:.4f}, df.resid {fit.df_residual}")
    except (AttributeError, TypeError, NotImplementedError):
        return None


def summary_blocks(summary: Any) -> list[Block]:
    """The blocks of a likelihood, MAP or Bayesian summary (``title``, ``fit`` and its tables)."""
    fit = summary.fit
    blocks = [Block("title", str(summary.title)), Block("text", f"Formula: {fit.formula}")]
    fam = fit.design.family
    blocks.append(Block("text", f"Family: {fam.name} ({fam.link.name}); {fit.nobs} observations; groups: "
                        + ", ".join(f"{g} {n}" for g, n in fit.ngroups.items())))
    crit = _criteria(fit)
    if crit and not hasattr(summary, "fixed"):
        blocks.append(Block("text", crit))
    random = getattr(summary, "random", None)
    if random is None:
        random = getattr(summary, "intervals", None)
    if random is None:
        random = fit.varcorr.as_frame()
    blocks.append(Block("table", "Random effects", random, index=False))
    fixed = getattr(summary, "fixed", None)
    if fixed is None:
        fixed = summary.coefficients
    blocks.append(Block("table", "Fixed effects", fixed))
    return blocks


class Exportable:
    """``_repr_html_``, ``to_markdown()`` and ``to_latex()`` from a ``_blocks()`` method (by default
    :func:`summary_blocks`)."""

    def _blocks(self) -> list[Block]:
        return summary_blocks(self)

    def _repr_html_(self) -> str:
        return render_html(self._blocks())

    def to_markdown(self) -> str:
        """The summary as Markdown (pipe tables)."""
        return render_markdown(self._blocks())

    def to_latex(self) -> str:
        """The summary as LaTeX (booktabs tabulars; needs ``\\usepackage{booktabs}``)."""
        return render_latex(self._blocks())
