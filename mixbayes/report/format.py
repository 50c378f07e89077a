"""Number formatting and the three table renderings (text, Markdown, HTML) the report objects share."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Cell", "Displayed", "TextTable", "fmt", "fmt_interval"]


class Displayed:
    """Prints as ``to_text()`` and renders in notebooks as ``to_html()`` (the report objects' shared display)."""

    def to_text(self) -> str:
        raise NotImplementedError

    def to_html(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        return self.to_html()


def fmt(x: float | None, digits: int = 4) -> str:
    """``digits`` significant digits, no exponent for ordinary magnitudes; empty for None/NaN."""
    if x is None:
        return ""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not np.isfinite(x):
        return "" if np.isnan(x) else ("inf" if x > 0 else "-inf")
    if x == 0:
        return "0"
    mag = int(np.floor(np.log10(abs(x))))
    if mag >= 6 or mag <= -5:
        return f"{x:.{digits - 1}e}"
    decimals = max(0, digits - 1 - mag)
    return f"{x:.{decimals}f}"


def fmt_interval(lo: float | None, hi: float | None, digits: int = 4) -> str:
    a, b = fmt(lo, digits), fmt(hi, digits)
    return "" if not a and not b else f"[{a or '?'}, {b or '?'}]"


@dataclass
class Cell:
    text: str
    css: str = ""


@dataclass(kw_only=True)
class TextTable:
    """A table with optional section rows and a two-level header, rendered as text, Markdown or HTML.

    header : column titles; groups : (title, span) pairs over the columns (optional).
    rows : lists of cells, or a string for a section row. row_css : a CSS class per row (e.g. ``flagged``).
    right : which columns are right-aligned in text (numbers).
    """

    header: list[str]
    rows: list[list[str] | str] = field(default_factory=list)
    groups: list[tuple[str, int]] = field(default_factory=list)
    row_css: list[str] = field(default_factory=list)
    right: Sequence[bool] = ()
    css_class: str = "mb-table"

    def add(self, cells: list[str], css: str = "") -> None:
        self.rows.append([str(c) for c in cells])
        self.row_css.append(css)

    def section(self, title: str) -> None:
        self.rows.append(title)
        self.row_css.append("section")

    # ---- text ------------------------------------------------------------------------------------------------
    def to_text(self) -> str:
        ncol = len(self.header)
        body = [r for r in self.rows if not isinstance(r, str)]
        widths = [max([len(self.header[k])] + [len(r[k]) for r in body]) for k in range(ncol)]
        right = list(self.right) + [False] * (ncol - len(self.right))

        def line(cells: list[str]) -> str:
            out = [c.rjust(widths[k]) if right[k] else c.ljust(widths[k]) for k, c in enumerate(cells)]
            return "  ".join(out).rstrip()

        lines = []
        if self.groups:
            parts, k = [], 0
            for title, span in self.groups:
                w = sum(widths[k : k + span]) + 2 * (span - 1)
                parts.append(f" {title} ".center(w, "-") if title else " " * w)
                k += span
            lines.append("  ".join(parts).rstrip())
        lines.append(line(self.header))
        for r in self.rows:
            if isinstance(r, str):
                lines.append(r)
            else:
                lines.append(line(r))
        return "\n".join(lines)

    # ---- Markdown ----------------------------------------------------------------------------------------------
    def to_markdown(self) -> str:
        def esc(s: str) -> str:
            return s.replace("|", "\\|")

        ncol = len(self.header)
        right = list(self.right) + [False] * (ncol - len(self.right))
        header = list(self.header)
        if self.groups:
            k = 0
            for title, span in self.groups:
                if title:
                    for j in range(k, k + span):
                        header[j] = f"{title} {header[j]}".strip() if header[j] else title
                k += span
        lines = ["| " + " | ".join(esc(h) for h in header) + " |",
                 "|" + "|".join("---:" if r else ":---" for r in right) + "|"]
        for r in self.rows:
            cells = [f"**{esc(r)}**"] + [""] * (ncol - 1) if isinstance(r, str) else [esc(c) for c in r]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    # ---- LaTeX -------------------------------------------------------------------------------------------------
    def to_latex(self) -> str:
        """A booktabs tabular: the column groups as a \\multicolumn row, section rows spanning the table."""
        from ..tables import latex_escape

        ncol = len(self.header)
        right = list(self.right) + [False] * (ncol - len(self.right))
        lines = [f"\\begin{{tabular}}{{{''.join('r' if r else 'l' for r in right)}}}", "\\toprule"]
        if self.groups:
            cells = [f"\\multicolumn{{{span}}}{{c}}{{{latex_escape(title)}}}" if span > 1 else latex_escape(title)
                     for title, span in self.groups]
            lines.append(" & ".join(cells) + " \\\\")
        lines.append(" & ".join(latex_escape(h) for h in self.header) + " \\\\")
        lines.append("\\midrule")
        for r in self.rows:
            if isinstance(r, str):
                lines.append(f"\\multicolumn{{{ncol}}}{{l}}{{\\textit{{{latex_escape(r)}}}}} \\\\")
            else:
                lines.append(" & ".join(latex_escape(c) for c in r) + " \\\\")
        lines += ["\\bottomrule", "\\end{tabular}"]
        return "\n".join(lines)

    # ---- HTML --------------------------------------------------------------------------------------------------
    def to_html(self) -> str:
        ncol = len(self.header)
        right = list(self.right) + [False] * (ncol - len(self.right))
        out = [f'<table class="{html.escape(self.css_class)}">', "<thead>"]
        if self.groups:
            cells = "".join(f'<th colspan="{span}" class="group">{html.escape(title)}</th>'
                            for title, span in self.groups)
            out.append(f"<tr>{cells}</tr>")
        out.append("<tr>" + "".join(f'<th class="{"num" if right[k] else "txt"}">{html.escape(h)}</th>'
                                    for k, h in enumerate(self.header)) + "</tr>")
        out.append("</thead><tbody>")
        for r, css in zip(self.rows, self.row_css, strict=True):
            if isinstance(r, str):
                out.append(f'<tr class="section"><th colspan="{ncol}">{html.escape(r)}</th></tr>')
                continue
            cls = f' class="{html.escape(css)}"' if css else ""
            cells = "".join(f'<td class="{"num" if right[k] else "txt"}">{html.escape(c)}</td>'
                            for k, c in enumerate(r))
            out.append(f"<tr{cls}>{cells}</tr>")
        out.append("</tbody></table>")
        return "\n".join(out)
