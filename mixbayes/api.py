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
    from .results.tmb import TmbFit

__all__ = ["glmer", "glmmTMB", "lmer"]


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
          method: str | None = None, functions: Any = None, zi: str | None = None, **kwargs: Any
          ) -> LmmFit | GlmmFit | MapFit | BayesFit | TmbFit:
    """Fit a generalised linear mixed model, as lme4's ``glmer`` (Laplace for ``nAGQ=1``, adaptive
    Gauss-Hermite for ``nAGQ>1``, the fast ``nAGQ=0``); ``method="bayes"`` samples instead.

    ``zi="~ x"`` (zero-inflation) and glmmTMB's families (``"nbinom1"``, ``"betabinomial"``,
    ``"truncated_poisson"``, ``"truncated_nbinom2"``) are fitted by :func:`glmmTMB` (see docs/families.md).
    """
    if zi is not None or _is_tmb_only(family):
        from .families.tmb import has_link

        if method not in (None, "laplace") or nAGQ != 1 or not has_link(family, link) or control is not None:
            from .exceptions import NotSupportedError

            raise NotSupportedError("zero-inflated, hurdle, nbinom1 and beta-binomial models are fitted by Laplace "
                                    "ML only (method=None, nAGQ=1, the default link, no control=)")
        return glmmTMB(formula, data, family=family, zi=zi, weights=weights, offset=offset, start=start,
                       functions=functions)
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


def _is_tmb_only(family: Any) -> bool:
    from .families.tmb import needs_glmmtmb

    return needs_glmmtmb(family)


def glmmTMB(formula: str, data: pd.DataFrame, family: Any = "poisson", zi: str | None = None, weights: Any = None,
            offset: Any = None, start: Any = None, functions: Any = None) -> TmbFit:
    """Fit a model of glmmTMB's families by maximum likelihood (Laplace approximation), as R's ``glmmTMB``.

    Parameters
    ----------
    formula : str
        Conditional model, lme4 syntax with at least one random-effects term, e.g.
        ``"count ~ spp + mined + (1 | site)"``; ``offset(log(n))`` terms are allowed.
    data : pandas.DataFrame
    family : str
        ``"poisson"``, ``"nbinom2"`` (``"negative_binomial"``), ``"nbinom1"``, ``"betabinomial"`` (response
        ``cbind(successes, failures)``), ``"truncated_poisson"``, ``"truncated_nbinom2"``.
    zi : str, optional
        Zero-inflation formula (fixed effects), e.g. ``"~ spp + mined"`` or ``"~1"``.  With a truncated family it is
        the hurdle: the probability of a zero.
    weights, offset : optional
        Prior weights (multiplying each observation's log-likelihood) and an offset of the conditional model.
    start : dict or array, optional
        Starting values: ``{"beta": ..., "beta_zi": ..., "betad": ..., "psi": ...}`` (default: all 0, as glmmTMB).

    Returns
    -------
    TmbFit
        ``fit.fixef``, ``fit.fixef_zi``, ``fit.sigma`` (glmmTMB's ``sigma()``), ``fit.vcov``, ``fit.vcov_zi``,
        ``fit.summary()``, ``fit.predict(type=...)``, ``fit.simulate()``, ``fit.anova(other)``.
    """
    from .results.tmb import fit_glmmtmb

    return fit_glmmtmb(formula, data, family=family, zi=zi, weights=weights, offset=offset, start=start,
                       functions=functions)
