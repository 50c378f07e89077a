"""What a Bayesian fit shows: its rich display (Jupyter's HTML, Markdown, LaTeX: the summary's) and its plots."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..tables import SummaryExports

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["BayesViews"]


class BayesViews(SummaryExports):
    """Mixed into :class:`~mixbayes.bayes.results.BayesFit`: ``_repr_html_``, ``to_markdown``, ``to_latex`` and
    the diagnostic plots."""

    def plot_trace(self, max_params: int = 6) -> Figure:
        """Trace plots of each chain and rank histograms for the variance components (log SDs, correlations,
        log sigma).  Returns the matplotlib Figure."""
        from .plots import trace_rank_plot

        return trace_rank_plot(self, max_params=max_params)

    def plot_pairs(self, max_params: int = 5) -> Figure:
        """Pairs of the variance components with divergent transitions highlighted."""
        from .plots import divergence_pairs_plot

        return divergence_pairs_plot(self, max_params=max_params)

    def plot_caterpillar(self, group: str | None = None, max_levels: int = 60) -> Figure:
        """Posterior means of the random effects of ``group`` with central 95% intervals, levels sorted."""
        from .plots import posterior_caterpillar

        return posterior_caterpillar(self, group=group, max_levels=max_levels)
