"""Deprecated alias of :mod:`mixbayes.results.map` (the MAP fit is a penalised likelihood fit and lives beside
the other likelihood results); removed in the next release."""

from __future__ import annotations

import warnings

from ...results.map import MapFit, MapSummary, fit_map

__all__ = ["MapFit", "MapSummary", "fit_map"]

warnings.warn("mixbayes.bayes.map is deprecated: import from mixbayes.results.map", DeprecationWarning,
              stacklevel=2)
