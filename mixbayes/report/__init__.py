"""Side by side: the comparison table, shrinkage, teaching views, diagnostics panels and the HTML report.

The HTML report is :func:`mixbayes.write_report`.  ``mb.report(...)``, its name before issue 11, still works for one
release (with a FutureWarning): this subpackage is callable, so ``mb.report`` is both the old function and the
package, and ``import mixbayes.report.plots`` works.

Nothing here imports matplotlib, PyMC or ArviZ at import time: plots import matplotlib when drawn, and the
Bayesian fit is read through :mod:`mixbayes.report._bayes`.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

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


class _CallableModule(types.ModuleType):
    """This package, callable as the deprecated ``mb.report(...)``."""

    def __call__(self, *args: Any, **kwargs: Any) -> Path | str:
        from ..warn import warn_user
        from .html import write_report

        warn_user("mb.report(...) is deprecated; use mb.write_report(...) (mb.report is the subpackage "
                  "mixbayes.report)", FutureWarning)
        return write_report(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
