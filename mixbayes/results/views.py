"""What a likelihood fit shows: its rich display (Jupyter's HTML, Markdown, LaTeX: the summary's) and its plots."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FitViews"]


class FitViews:
    """Mixed into the likelihood and MAP fits: ``_repr_html_``, ``to_markdown``, ``to_latex`` (of ``summary()``)
    and ``plot_caterpillar``."""

    def summary(self, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return str(self.summary()._repr_html_())

    def to_markdown(self) -> str:
        """The summary as Markdown (pipe tables)."""
        return str(self.summary().to_markdown())

    def to_latex(self) -> str:
        """The summary as LaTeX (booktabs tabulars)."""
        return str(self.summary().to_latex())

    def plot_caterpillar(self, group: str | None = None, max_levels: int = 60) -> Figure:
        """The random effects of ``group`` (default: the first grouping factor) with 95% conditional intervals
        (conditional mode +- 1.96 conditional SDs), levels sorted.  Returns the matplotlib Figure."""
        from .caterpillar import fit_caterpillar

        return fit_caterpillar(self, group, max_levels=max_levels)
