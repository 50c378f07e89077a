"""lme4 formula front end: tokens -> syntax tree -> :class:`ParsedFormula` (no data, no numpy)."""

from .parsed import ParsedFormula, RandomSpec, expand_formula, parse_formula

__all__ = ["ParsedFormula", "RandomSpec", "expand_formula", "parse_formula"]
