"""lme4-like shortcuts: ``mb.lmer`` and ``mb.glmer``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from .families import Family
from .model import Model

if TYPE_CHECKING:
    from .bayes.results import BayesFit
    from .results.glmm import GlmmFit
    from .results.lmm import LmmFit
    from .results.map import MapFit

__all__ = ["glmer", "lmer"]


def lmer(formula: str, data: pd.DataFrame, REML: bool = True, weights: Any = None, offset: Any = None,
         control: Any = None, start: Any = None, method: str | None = None, functions: Any = None,
         **kwargs: Any) -> LmmFit | GlmmFit | MapFit | BayesFit:
    """Fit a linear mixed model, as lme4's ``lmer``.

    ``method="bayes"`` samples the posterior instead (keyword arguments go to ``Model.sample``), and
    ``method="map"`` gives the posterior mode under the default priors.  ``functions={"name": f}`` lets the
    formula call your own functions (nothing else in a formula can run code).
    """
    model = Model(formula, data, weights=weights, offset=offset, functions=functions)
    chosen = method or ("reml" if REML else "ml")
    if chosen in ("bayes", "nuts"):
        _no_likelihood_options(control, start)
        return model.sample(**kwargs)
    return model.fit(method=chosen, control=control, start=start, **kwargs)


def glmer(formula: str, data: pd.DataFrame, family: str | Family = "binomial", link: str | None = None,
          nAGQ: int = 1, weights: Any = None, offset: Any = None, control: Any = None, start: Any = None,
          method: str | None = None, functions: Any = None, **kwargs: Any) -> LmmFit | GlmmFit | MapFit | BayesFit:
    """Fit a generalised linear mixed model, as lme4's ``glmer`` (Laplace for ``nAGQ=1``, adaptive
    Gauss-Hermite for ``nAGQ>1``, the fast ``nAGQ=0``); ``method="bayes"`` samples instead."""
    model = Model(formula, data, family=family, weights=weights, offset=offset, link=link, functions=functions)
    if method in ("bayes", "nuts"):
        _no_likelihood_options(control, start)
        return model.sample(**kwargs)
    return model.fit(method=method, control=control, start=start, nAGQ=nAGQ, **kwargs)


def _no_likelihood_options(control: Any, start: Any) -> None:
    """The Bayesian fit takes its settings as keywords: ``control=``/``start=`` would be silently ignored."""
    if control is not None or start is not None:
        from .exceptions import ArgumentError

        raise ArgumentError(f"{'control' if control is not None else 'start'}= is an option of the likelihood fit; "
                            "the Bayesian fit takes its settings as keywords (draws=, chains=, ...: see Model.sample)")
