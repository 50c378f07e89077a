"""The Bayesian engine: the same design as a PyMC model, sampled with NUTS (blackjax by default).

Importing this package is light (no PyMC, PyTensor, ArviZ or JAX): :func:`sample` and
:func:`sample_prior_predictive` load them on first use.  See docs/bayes.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..priors.prior import Prior, PriorSet, default_priors

if TYPE_CHECKING:
    from xarray import DataTree

    from ..protocols import ModelLike as Model
    from .results import BayesFit
    from .settings import SampleControl

__all__ = ["Prior", "PriorSet", "default_priors", "sample", "sample_prior_predictive"]


def sample(model: Model, settings: SampleControl | None = None, priors: Any = None) -> BayesFit:
    """Sample the posterior of ``model`` under ``settings`` (a :class:`~mixbayes.bayes.settings.SampleControl`,
    parsed by :meth:`mixbayes.Model.sample`) and ``priors`` (overrides of the default priors by name)."""
    from .sampling import sample as _sample

    return _sample(model, settings, priors)


def sample_prior_predictive(model: Model, **kwargs: Any) -> DataTree:
    """Prior and prior-predictive draws as a DataTree (see :meth:`mixbayes.Model.sample_prior_predictive`)."""
    from .sampling import sample_prior_predictive as _spp

    return _spp(model, **kwargs)
