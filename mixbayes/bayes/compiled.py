"""What the Bayesian engine compiles for a model, cached on it (``model.bayes_cache``): the default priors and the
PyMC model per form and priors.  Below both the sampling entry points and :class:`~mixbayes.bayes.results.BayesFit`
(which rebuilds its PyMC model after unpickling)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..priors.prior import Prior, PriorSet, default_priors

if TYPE_CHECKING:
    from ..protocols import ModelLike as Model
    from .builder import BuiltModel

__all__ = ["built_model", "model_priors"]


def _cache(model: Model) -> dict[Any, Any]:
    return model.bayes_cache


def model_priors(model: Model, priors: Mapping[str, Prior] | PriorSet | None) -> PriorSet:
    """The default priors of the model with ``priors`` overriding them by name (a full PriorSet is used as is)."""
    if isinstance(priors, PriorSet):
        return priors
    base = _cache(model).get("default_priors")
    if base is None:
        design = model.design
        if model.is_out_of_core:  # the priors' moments from the summed blocks
            from .outofcore import moment_design

            design = moment_design(design)
        base = default_priors(design)
        _cache(model)["default_priors"] = base
    return base.with_overrides(priors)


def built_model(model: Model, priors: PriorSet, marginalize: bool | str | None = None) -> BuiltModel:
    """The (cached) PyMC model of ``model`` under ``priors``, in the form :func:`~mixbayes.bayes.forms.choose_form`
    picks (or ``marginalize`` forces)."""
    from .builder import build_model
    from .forms import choose_form

    cache = _cache(model)
    ckey = ("form", marginalize)
    out_of_core = model.is_out_of_core
    if ckey not in cache:
        if out_of_core:
            from .outofcore import blocks_form

            cache[ckey] = blocks_form(model.design, marginalize)
        else:
            cache[ckey] = choose_form(model.design, marginalize)
    choice = cache[ckey]
    key = ("built", priors.key(), choice.form)
    if key not in cache:
        source = None
        if out_of_core:  # NUTS on the summed blocks: no rows
            from .outofcore import GramSchurMarginal, gram_blocks, x_means

            means = x_means(model.design)
            source = GramSchurMarginal(gram_blocks(model.design, choice.block_group, means), means)
        cache[key] = build_model(model.design, priors, choice.form, source, centred=choice.centred,
                                 schur=choice.schur_terms)
        if choice.form == "partial" and choice.reml is not None:  # start and posterior scales from REML
            from .warm_start import apply_reml_start

            apply_reml_start(cache[key], model.design, choice.reml)
        cache[key].form_costs = dict(choice.costs)
    return cache[key]
