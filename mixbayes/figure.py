"""How mixbayes creates the matplotlib figures it returns, so that they display where the user works.

- In a script or a terminal, a figure is created through pyplot and stays registered with it: ``plt.show()``
  shows it (and ``plt.savefig``/``plt.gcf()`` see it), as for any pyplot figure.
- In Jupyter (matplotlib's inline backend), the figure is created through pyplot, which activates the inline
  backend's PNG formatter, and is then closed: the returned Figure is displayed once, as the cell's result
  (``image/png``), instead of twice (once as the result and once again when the cell's figures are flushed).
- Inside :func:`detached` (the HTML report and other callers that only render PNGs), figures are built without
  pyplot: nothing is registered, nothing accumulates, no window opens.

matplotlib is imported only when a figure is made (never at ``import mixbayes``).  This module imports nothing
else from mixbayes, so every layer may use it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["detached", "inline_backend", "new_figure", "new_subplots"]

_DETACHED: contextvars.ContextVar[bool] = contextvars.ContextVar("mixbayes_detached_figures", default=False)


@contextlib.contextmanager
def detached() -> Iterator[None]:
    """Within this block, :func:`new_figure` builds figures without pyplot (for rendering to PNG only)."""
    token = _DETACHED.set(True)
    try:
        yield
    finally:
        _DETACHED.reset(token)


def inline_backend() -> bool:
    """Whether pyplot's backend is Jupyter's inline backend (the one that displays figures as cell outputs)."""
    import matplotlib

    return "inline" in str(matplotlib.get_backend()).lower()


def new_figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    """A figure of ``width`` x ``height`` inches (see the module docstring for where it is registered)."""
    if _DETACHED.get():
        from matplotlib.figure import Figure

        return Figure(figsize=(width, height), layout=layout)
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(width, height), layout=layout)
    if inline_backend():
        # displayed by the cell's result (the inline backend's Figure formatter), not again by its flush
        plt.close(fig)
    return fig


def new_subplots(nrows: int, ncols: int, width: float, height: float, **kwargs: Any) -> tuple[Figure, Any]:
    """:func:`new_figure` with a grid of axes (``Figure.subplots`` keywords pass through)."""
    fig = new_figure(width, height, layout=kwargs.pop("layout", "constrained"))
    return fig, fig.subplots(nrows, ncols, **kwargs)
