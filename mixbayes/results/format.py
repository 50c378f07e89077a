"""Number formatting in the style of R's ``printCoefmat`` and ``format.pval``."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["abbreviate", "coef_table_text", "format_p", "stars"]

SIGNIF_LEGEND = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"


def format_p(p: float) -> str:
    if not np.isfinite(p):
        return "NA"
    if p < 2e-16:
        return "< 2e-16"
    if p < 1e-4:
        return f"{p:.2e}"
    return f"{p:.3g}"


def stars(p: float) -> str:
    if not np.isfinite(p):
        return ""
    for cut, mark in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p < cut:
            return mark
    return ""


def _decimals(values: np.ndarray, digits: int = 4) -> int:
    v = np.abs(values[np.isfinite(values) & (values != 0)])
    if not len(v):
        return 3
    return int(np.clip(digits - 1 - np.floor(np.log10(v.min())), 0, 8))


def coef_table_text(table: pd.DataFrame, digits: int = 4) -> tuple[str, bool]:
    """Render a coefficient table; returns (text, whether significance stars were shown)."""
    cols = list(table.columns)
    pcol = next((c for c in cols if c.startswith("Pr(")), None)
    est_cols = [c for c in cols if c in ("Estimate", "Std. Error")]
    dec = _decimals(table["Std. Error"].to_numpy(dtype=float), digits) if "Std. Error" in cols else 3
    rendered: dict[str, list[str]] = {}
    for c in cols:
        vals = table[c].to_numpy(dtype=float)
        if c == pcol:
            rendered[c] = [format_p(v) for v in vals]
        elif c in est_cols:
            rendered[c] = [f"{v:.{dec}f}" for v in vals]
        else:
            rendered[c] = [f"{v:.3f}" if np.isfinite(v) else "NA" for v in vals]
    star_col = [stars(v) for v in table[pcol].to_numpy(dtype=float)] if pcol else []
    names = [str(i) for i in table.index]
    wname = max(len(n) for n in names) if names else 0
    widths = {c: max(len(c), *(len(s) for s in rendered[c])) for c in cols}
    lines = [" " * wname + " " + " ".join(c.rjust(widths[c]) for c in cols)]
    for i, n in enumerate(names):
        row = n.ljust(wname) + " " + " ".join(rendered[c][i].rjust(widths[c]) for c in cols)
        if star_col:
            row += " " + star_col[i]
        lines.append(row.rstrip())
    return "\n".join(lines), bool(pcol)


def abbreviate(name: str, minlength: int = 6) -> str:
    """R's ``abbreviate``: drop lower-case vowels from the right, then lower-case letters, keeping the first."""
    if len(name) <= minlength:
        return name
    chars = list(name)
    for pool in ("aeiou", "abcdefghijklmnopqrstuvwxyz"):
        i = len(chars) - 1
        while len(chars) > minlength and i > 0:
            if chars[i] in pool and chars[i - 1] != " ":
                del chars[i]
            i -= 1
        if len(chars) <= minlength:
            break
    out = "".join(chars)
    return out[: max(minlength, 1)] if len(out) > minlength else out
