"""The ArviZ DataTree of a Bayesian fit, with dimensions named after the design.

Posterior variables: ``beta`` (dim ``fixef``: lme4's coefficient names, original scale), ``sigma``,
``dispersion``, and per random-effects term with label ``<g>`` (lme4's unique name of its grouping factor):
``sd_<g>`` (dim ``<g>__term``: the term's columns), ``cor_<g>`` (dim ``<g>__cor``: one entry per pair of columns,
named ``"<col1>,<col2>"``) and ``r_<g>`` (dims ``(<group>, <g>__term)``: the random effects of each level).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..design.matrices import ModelMatrices
from .builder import BuiltModel
from .posterior import ParameterDraws

__all__ = ["pair_names", "posterior_variables", "response_variable", "to_datatree"]


def response_variable(design: ModelMatrices) -> str:
    """The name of the observed variable: the response column, or ``y`` for an expression such as cbind(...)."""
    name = design.response_name
    return name if name.isidentifier() else "y"


def pair_names(columns: tuple[str, ...]) -> list[str]:
    """Names of the correlations of a term, in lme4's order (column-wise lower triangle)."""
    q = len(columns)
    return [f"{columns[j]},{columns[i]}" for j in range(q) for i in range(j + 1, q)]


def pair_values(corr: np.ndarray) -> np.ndarray:
    """(..., q, q) correlation matrices -> (..., n_pairs) in :func:`pair_names` order."""
    q = corr.shape[-1]
    idx = [(i, j) for j in range(q) for i in range(j + 1, q)]
    return np.stack([corr[..., i, j] for i, j in idx], axis=-1) if idx else np.zeros((*corr.shape[:-2], 0))


def posterior_variables(built: BuiltModel, design: ModelMatrices, pd_: ParameterDraws,
                        include_random: bool = True) -> tuple[dict[str, np.ndarray], dict[str, list[str]],
                                                              dict[str, Any]]:
    """(variables, dims, coords) of the posterior (or prior) group."""
    data: dict[str, np.ndarray] = {"beta": pd_.beta}
    dims: dict[str, list[str]] = {"beta": ["fixef"]}
    coords: dict[str, Any] = {"fixef": list(design.fixef_names)}
    if pd_.sigma is not None:
        data["sigma"] = pd_.sigma
    if pd_.dispersion is not None:
        data["dispersion"] = pd_.dispersion
    for k, (spec, t) in enumerate(zip(built.terms, design.terms, strict=True)):
        g = spec.label
        data[f"sd_{g}"] = pd_.sd[k]
        dims[f"sd_{g}"] = [f"{g}__term"]
        coords[f"{g}__term"] = list(t.columns)
        if t.q > 1:
            data[f"cor_{g}"] = pair_values(pd_.corr(k))
            dims[f"cor_{g}"] = [f"{g}__cor"]
            coords[f"{g}__cor"] = pair_names(t.columns)
        if include_random and pd_.b:
            data[f"r_{g}"] = pd_.b[k]
            dims[f"r_{g}"] = [t.group, f"{g}__term"]
            coords[t.group] = list(t.levels)
    return data, dims, coords


def _dataset(data: dict[str, np.ndarray], dims: dict[str, list[str]], coords: dict[str, Any],
             sample_dims: list[str], attrs: dict[str, Any] | None = None) -> Any:
    from arviz_base import dict_to_dataset

    used = {d for name in data for d in dims.get(name, [])}
    return dict_to_dataset(data, coords={k: v for k, v in coords.items() if k in used}, dims=dims,
                           sample_dims=sample_dims, attrs=attrs or {}, inference_library=None)


def to_datatree(groups: dict[str, tuple[dict[str, np.ndarray], dict[str, list[str]], dict[str, Any]]],
                attrs: dict[str, Any]) -> Any:
    """A DataTree from {group: (variables, dims, coords)}; ``observed_data`` has no sample dimensions."""
    import xarray as xr

    tree = {}
    for group, (data, dims, coords) in groups.items():
        sample_dims = [] if group in ("observed_data", "constant_data") else ["chain", "draw"]
        tree[group] = _dataset(data, dims, coords, sample_dims, attrs)
    return xr.DataTree.from_dict(tree)
