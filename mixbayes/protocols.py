"""What the layers below :class:`~mixbayes.Model` see of it, and what ``inference/`` sees of the fits.

:class:`~mixbayes.Model` sits above the fits it makes (``Model.fit`` builds an ``LmmFit``; ``Model.sample`` a
``BayesFit``), so the fits, the Bayesian engine and ``inference/`` cannot import it, not even for a type hint:
they name these protocols instead (docs/architecture.md).  Nothing here runs: the protocols are read by type
checkers only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from .design.matrices import ModelMatrices
    from .families import Family
    from .formula import ParsedFormula
    from .likelihood.glmm import GlmmEstimate
    from .likelihood.lmm import LmmEstimate

__all__ = ["GlmmFitLike", "LmmFitLike", "ModelLike"]


class ModelLike(Protocol):
    """A :class:`~mixbayes.Model`: formula, data and family, the design built from them, and the ways to derive
    a new model (:meth:`~mixbayes.Model.update`, :meth:`~mixbayes.Model.with_response`) and to fit one."""

    formula: ParsedFormula
    family: Family
    data: Any
    design: ModelMatrices
    functions: Any
    weights: Any
    offset: Any
    replaced_response: np.ndarray | None
    bayes_cache: dict[Any, Any]

    @property
    def is_out_of_core(self) -> bool: ...

    def update(self, formula: str | None = None, data: Any = None, family: Any = None, link: str | None = None,
               weights: Any = ..., offset: Any = ..., functions: Any = ...) -> ModelLike: ...

    def with_response(self, y: Any) -> ModelLike: ...

    def fit(self, method: str | None = None, control: Any = None, start: Any = None, nAGQ: int = 1,
            emit_warnings: bool = True, **kwargs: Any) -> Any: ...

    def sample(self, *args: Any, **kwargs: Any) -> Any: ...


class _LikelihoodFitLike(Protocol):
    model: ModelLike
    design: ModelMatrices
    theta: np.ndarray
    beta: np.ndarray
    b: np.ndarray
    u: np.ndarray
    y: np.ndarray
    control: Any
    method: str

    @property
    def nobs(self) -> int: ...

    @property
    def fixef(self) -> pd.Series: ...

    @property
    def vcov(self) -> pd.DataFrame: ...

    @property
    def loglik(self) -> float: ...

    @property
    def npar(self) -> int: ...

    @property
    def varcorr(self) -> Any: ...

    def simulate(self, nsim: int = 1, seed: Any = None, include_random: bool = True) -> pd.DataFrame: ...


class LmmFitLike(_LikelihoodFitLike, Protocol):
    """A linear mixed model's likelihood fit (:class:`~mixbayes.results.lmm.LmmFit`) as ``inference/`` reads it:
    its estimate (objective, unscaled covariance, caches) and design."""

    estimate: LmmEstimate
    reml: bool
    sigma: float

    def refit(self, new_response: Any, start: np.ndarray | None = None,
              emit_warnings: bool = True) -> LmmFitLike: ...


class GlmmFitLike(_LikelihoodFitLike, Protocol):
    """A GLMM's likelihood fit (:class:`~mixbayes.results.glmm.GlmmFit`) as ``inference/`` reads it."""

    estimate: GlmmEstimate
    family: Family
    nAGQ: int
    dispersion: float | None
    objective_value: float

    def refit(self, new_response: Any, emit_warnings: bool = False) -> GlmmFitLike: ...

    def deviance_function(self) -> Any: ...
