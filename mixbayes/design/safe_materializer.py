"""formulaic's pandas materializer, re-checking each factor's code before formulaic evaluates it.

A module of its own so that formulaic is imported only when a model matrix needs it, and so that model
specifications that remember their materializer pickle (the class is found by its module path).
"""

from __future__ import annotations

from typing import Any

from formulaic.materializers import PandasMaterializer
from interface_meta import override

from .safe_formulaic import callable_names, check_code

__all__ = ["SafeMaterializer"]


class SafeMaterializer(PandasMaterializer):
    """formulaic's pandas materializer that refuses any factor code outside the whitelist
    (:func:`~mixbayes.design.safe_formulaic.check_code`) before evaluating it."""

    REGISTER_NAME = "mixbayes_safe"
    REGISTER_INPUTS = ()

    @override
    def _evaluate(self, expr: str, metadata: Any, spec: Any) -> Any:
        check_code(expr, callable_names(self.context))
        return super()._evaluate(expr, metadata, spec)
