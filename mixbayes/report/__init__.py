"""Side by side: the comparison table, shrinkage, teaching views, diagnostics panels and the HTML report.

Nothing here imports matplotlib, PyMC or ArviZ at import time: plots import matplotlib when drawn, and the
Bayesian fit is read through :mod:`mixbayes.report._bayes`.
"""

from __future__ import annotations

from .compare import Comparison, compare
from .shrinkage import Shrinkage, shrinkage
from .teaching import (
    ConvergenceWalkthrough,
    NaiveVsMixed,
    WalkthroughStep,
    convergence_walkthrough,
    explain_icc,
    naive_vs_mixed,
)

__all__ = [
    "Comparison",
    "ConvergenceWalkthrough",
    "NaiveVsMixed",
    "Shrinkage",
    "WalkthroughStep",
    "compare",
    "convergence_walkthrough",
    "explain_icc",
    "naive_vs_mixed",
    "shrinkage",
]
