"""Column names as R's ``model.matrix`` writes them, from formulaic's names.

formulaic: ``Intercept``, ``f[T.b]``, ``f[b]``, ``x:f[T.b]``, ``C(o, contr.poly)[.L]``.
R:         ``(Intercept)``, ``fb``,     ``fb``,   ``x:fb``,     ``o.L``.
Within an interaction R orders the factors by where each variable first appears in the formula, and
varies the first factor fastest across the term's columns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["r_column_names", "split_components", "unique_names"]

_LEVEL = re.compile(r"^(?P<factor>.*?)\[(?P<level>.*)\]$", re.S)


def split_components(name: str) -> list[str]:
    """Split a formulaic column name at the ``:`` that separate factors (not inside brackets or calls)."""
    parts: list[str] = []
    depth = 0
    quote = ""
    start = 0
    for i, ch in enumerate(name):
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "`'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == ":" and depth == 0:
            parts.append(name[start:i])
            start = i + 1
    parts.append(name[start:])
    return parts


def _component(part: str, factor_names: dict[str, str]) -> tuple[str, str]:
    """(factor key, R text) of one component."""
    m = _LEVEL.match(part)
    if m:
        factor, level = m.group("factor"), m.group("level")
        if level.startswith("T."):
            level = level[2:]
        key = factor_names.get(factor, factor.strip("`"))
        if level.startswith(".") or level.startswith("^"):
            return key, f"{key}{level}"
        return key, f"{key}{level}"
    key = factor_names.get(part, part.strip("`"))
    return key, key


def r_column_names(
    term_columns: list[list[str]], factor_names: dict[str, str], variable_order: list[str]
) -> tuple[list[str], list[int]]:
    """R names for formulaic's columns, grouped by term, and the permutation into R's column order.

    Parameters
    ----------
    term_columns : formulaic's column names, one list per term, in formulaic's order.
    factor_names : formulaic factor text -> R text (e.g. ``I(x ** 2)`` -> ``I(x^2)``).
    variable_order : R's variable order (response first), to order the factors of interactions.

    Returns
    -------
    names : R names in R's column order.
    order : positions into the flattened formulaic columns giving R's order.
    """
    rank = {v: i for i, v in enumerate(variable_order)}
    names: list[str] = []
    order: list[int] = []
    offset = 0
    for cols in term_columns:
        rows = []
        level_seen: list[dict[str, int]] = []
        for j, col in enumerate(cols):
            if col == "Intercept":
                rows.append(((), "(Intercept)", j))
                continue
            comps = [_component(p, factor_names) for p in split_components(col)]
            perm = sorted(range(len(comps)), key=lambda k: rank.get(comps[k][0], len(rank) + k))
            comps = [comps[k] for k in perm]
            while len(level_seen) < len(comps):
                level_seen.append({})
            idx = []
            for k, (_, text) in enumerate(comps):
                idx.append(level_seen[k].setdefault(text, len(level_seen[k])))
            rows.append((tuple(reversed(idx)), ":".join(t for _, t in comps), j))
        rows.sort(key=lambda r: r[0])
        for _, name, j in rows:
            names.append(name)
            order.append(offset + j)
        offset += len(cols)
    return names, order


def unique_names(names: Sequence[str]) -> list[str]:
    """R's ``make.unique``: ``Subject``, ``Subject.1``, ``Subject.2``..."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}.{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out
