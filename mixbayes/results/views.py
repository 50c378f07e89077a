"""What a likelihood fit shows: its rich display (Jupyter's HTML, Markdown, LaTeX: the summary's) and its plots."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..tables import SummaryExports

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FitViews"]


class FitViews(SummaryExports):
    """Mixed into the likelihood and MAP fits: ``_repr_html_``, ``to_markdown``, ``to_latex`` (of ``summary()``)
    and ``plot_caterpillar``."""

    def plot_caterpillar(self, group: str | None = None, max_levels: int = 60) -> Figure:
        """The random effects of ``group`` (default: the first grouping factor) with 95% conditional intervals
        (conditional mode +- 1.96 conditional SDs), levels sorted.  Returns the matplotlib Figure."""
        from .caterpillar import fit_caterpillar

        return fit_caterpillar(self, group, max_levels=max_levels)
