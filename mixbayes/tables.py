"""Tables as text for other formats: DataFrames as Markdown pipe tables, LaTeX booktabs tabulars and HTML, and
LaTeX escaping.  Written here because pandas' ``to_markdown`` needs tabulate and its ``to_latex`` needs Jinja2,
neither a dependency.  This module imports nothing else from mixbayes, so every layer may use it.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SummaryExports", "frame_html", "frame_latex", "frame_markdown", "latex_escape", "pre_html"]


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


class SummaryExports:
    """Mixed into the fits: Jupyter's ``_repr_html_``, ``to_markdown`` and ``to_latex``, each of ``summary()``."""

    def summary(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return str(self.summary()._repr_html_())

    def to_markdown(self) -> str:
        """The summary as Markdown (pipe tables)."""
        return str(self.summary().to_markdown())

    def to_latex(self) -> str:
        """The summary as LaTeX (booktabs tabulars)."""
        return str(self.summary().to_latex())
