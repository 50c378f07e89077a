"""Rich display and export of summaries and tables: HTML (``_repr_html_``, what Jupyter shows), Markdown and LaTeX.

A summary is described once as a list of blocks (a title, lines of text, named tables), and each format renders
the blocks.  Markdown and LaTeX are written here (pandas' ``to_markdown`` needs tabulate and its ``to_latex``
needs Jinja2; neither is a dependency).  LaTeX tables use ``booktabs`` rules (``\\usepackage{booktabs}``).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

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


def _cell(x: Any, digits: int = 4) -> str:
    if isinstance(x, float | np.floating):
        if np.isnan(x):
            return ""
        return f"{x:.{digits}g}"
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return ""
    return str(x)


def _rows(frame: pd.DataFrame, index: bool, digits: int) -> tuple[list[str], list[list[str]], list[bool]]:
    header = ([str(frame.index.name or "")] if index else []) + [str(c) for c in frame.columns]
    numeric = ([False] if index else []) + [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    rows = []
    for label, row in zip(frame.index, frame.itertuples(index=False), strict=True):
        cells = [_cell(v, digits) for v in row]
        rows.append(([str(label)] if index else []) + cells)
    return header, rows, numeric


def frame_markdown(frame: pd.DataFrame, index: bool = True, digits: int = 4) -> str:
    """A DataFrame as a GitHub/Pandoc pipe table (numbers right-aligned, ``digits`` significant digits)."""
    header, rows, numeric = _rows(frame, index, digits)

    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |",
             "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "|": r"\textbar{}",
                  "<": r"\textless{}", ">": r"\textgreater{}"}


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def frame_latex(frame: pd.DataFrame, index: bool = True, digits: int = 4, caption: str | None = None) -> str:
    """A DataFrame as a LaTeX ``tabular`` with booktabs rules (inside a ``table`` when ``caption`` is given)."""
    header, rows, numeric = _rows(frame, index, digits)
    spec = "".join("r" if n else "l" for n in numeric)
    body = [f"\\begin{{tabular}}{{{spec}}}", "\\toprule", " & ".join(latex_escape(h) for h in header) + r" \\",
            "\\midrule"]
    body += [" & ".join(latex_escape(c) for c in r) + r" \\" for r in rows]
    body += ["\\bottomrule", "\\end{tabular}"]
    if caption is None:
        return "\n".join(body)
    return "\n".join(["\\begin{table}[ht]", "\\centering", f"\\caption{{{latex_escape(caption)}}}", *body,
                      "\\end{table}"])


def frame_html(frame: pd.DataFrame, index: bool = True, digits: int = 4) -> str:
    """A DataFrame as an HTML table (numbers to ``digits`` significant digits)."""
    return frame.to_html(index=index, float_format=lambda x: f"{x:.{digits}g}", na_rep="", classes="mb-table")


def pre_html(text: str) -> str:
    """Plain text in a ``<pre>`` block (for reports that are text by nature)."""
    return f"<pre class='mixbayes'>{html.escape(str(text))}</pre>"


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
