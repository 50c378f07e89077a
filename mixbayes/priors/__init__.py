"""Priors of the Bayesian and MAP fits: :class:`Prior`, :class:`PriorSet` and the defaults, scaled to the data.

Below both engines that use them (``mixbayes.bayes`` samples under them, ``mixbayes.results.map`` takes the
posterior mode); NumPy/SciPy only.
"""

from __future__ import annotations

from .prior import Prior, PriorEntry, PriorSet, default_priors

__all__ = ["Prior", "PriorEntry", "PriorSet", "default_priors"]
