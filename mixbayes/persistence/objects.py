"""How each kind of object is rebuilt from a mixbayes file (see :mod:`mixbayes.persistence`; what is written is
in :mod:`mixbayes.persistence.encode`).  This half sits above the models and fits: it builds a Model and refits it.

Nothing heavy is imported here: the Bayesian pieces (xarray for the DataTree) load only when a Bayesian fit is
loaded.
"""

from __future__ import annotations

import io
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..exceptions import FileFormatError, LoadMismatchWarning, MixbayesWarning, NotSupportedError
from ..warn import warn_user
from .encode import DATA, KINDS, PARAMS, POSTERIOR, encode_object
from .table import frame_from_csv

if TYPE_CHECKING:
    from ..model import Model
    from ..priors.prior import PriorSet

__all__ = ["KINDS", "decode_object", "encode_object"]

RTOL, ATOL = 1e-5, 1e-6
"""How closely a refit must reproduce the saved estimates (np.allclose) before a LoadMismatchWarning."""


# ---- the model -----------------------------------------------------------------------------------------------------

def _decode_argument(spec: Any) -> Any:
    if spec is None:
        return None
    if isinstance(spec, dict) and isinstance(spec.get("column"), str):
        return spec["column"]
    if isinstance(spec, dict) and isinstance(spec.get("values"), list):
        return np.asarray(spec["values"], dtype=float)
    raise FileFormatError(f"a weights or offset entry of the manifest is invalid: {spec!r}")


def _decode_model(part: dict[str, Any], data: pd.DataFrame, functions: Any) -> Model:
    from ..families import get_family
    from ..model import Model

    needed = part.get("functions") or []
    missing = [n for n in needed if n not in (functions or {})]
    if missing:
        raise NotSupportedError(
            f"the saved formula calls your own function{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(repr, missing))}, which a mixbayes file does not hold (it holds no code); pass "
            f"them again: mb.load(path, functions={{{missing[0]!r}: ...}})")
    extra = {"functions": functions} if functions else {}

    try:
        family = get_family(part["family"], part["link"])
        if part.get("family_theta") is not None:
            family = family.with_theta(float(part["family_theta"]))
        formula, weights, offset = part["formula"], _decode_argument(part.get("weights")), \
            _decode_argument(part.get("offset"))
    except (KeyError, TypeError) as exc:
        raise FileFormatError(f"the model entry of the manifest is incomplete: {exc}") from None
    if not isinstance(formula, str):
        raise FileFormatError("the model entry of the manifest has no formula text")
    with warnings.catch_warnings():  # shown when the model was first built
        warnings.simplefilter("ignore", MixbayesWarning)
        return Model(formula, data, family=family, weights=weights, offset=offset, **extra)


# ---- priors --------------------------------------------------------------------------------------------------------

def _decode_priors(saved: Any, model: Model) -> PriorSet:
    """The model's default priors with the saved ones put back (checked to give exactly the saved set)."""
    from ..priors.prior import Prior, default_priors

    try:
        entries = [(e["name"], Prior(e["distribution"], **e["params"]), e.get("rationale")) for e in saved]
    except (KeyError, TypeError) as exc:
        raise FileFormatError(f"the priors of the manifest are invalid: {exc}") from None
    base = default_priors(model.design)
    overrides = {n: p for n, p, why in entries if why == "user" or n not in base or base[n] != p}
    priors = base.with_overrides(overrides)
    if priors.key() != tuple((n, p.key()) for n, p, _ in entries):
        raise FileFormatError("the saved priors do not name the model's parameters")
    return priors


# ---- likelihood and MAP fits ---------------------------------------------------------------------------------------

def _refit(kind: str, model: Model, part: dict[str, Any]) -> Any:
    with warnings.catch_warnings():  # the fit's warnings were shown when it was made; fit.diagnose() keeps them
        warnings.simplefilter("ignore", MixbayesWarning)
        if kind == "MapFit":
            from ..results.map import fit_map

            priors = _decode_priors(part.get("priors", []), model)
            overrides = {e.name: e.prior for e in priors.entries if e.rationale == "user"}
            return fit_map(model, priors=overrides, emit_warnings=False)
        method = part.get("method")
        allowed = ("reml", "ml") if kind == "LmmFit" else ("laplace", "nagq0")
        if method not in allowed:
            raise FileFormatError(f"the manifest names an unknown fitting method {method!r} for a {kind}")
        extra = {"nAGQ": int(part.get("nAGQ", 1))} if kind == "GlmmFit" else {}
        fit = model.fit(method=method, control=part.get("control"), emit_warnings=False, **extra)
    if type(fit).__name__ != kind:
        raise FileFormatError(f"the file says {kind}, but its model fits as a {type(fit).__name__}")
    return fit


def _verify(fit: Any, saved: dict[str, Any], version: str) -> None:
    """Warn when the refit does not reproduce the saved estimates."""
    off = []
    for name, value in saved.items():
        now = getattr(fit, "objective_value" if name == "objective" else name)
        if value is None and now is None:
            continue
        a, b = np.asarray(now, dtype=float), np.asarray(value, dtype=float)
        if value is None or now is None or a.shape != b.shape or not np.allclose(a, b, rtol=RTOL, atol=ATOL):
            off.append(name)
    if off:
        from ..version import __version__

        warn_user(
            f"the refitted {', '.join(off)} differ from the estimates saved in the file (written by mixbayes "
            f"{version}; this is {__version__}). The loaded fit is the refit. Remedy: load the file with mixbayes "
            f"{version} to get the saved fit", LoadMismatchWarning)


# ---- Bayesian fits -------------------------------------------------------------------------------------------------

def _decode_bayes(model: Model, part: dict[str, Any], archive: Any) -> Any:
    import xarray as xr

    from ..bayes.diagnostics import DiagnosticReport
    from ..bayes.posterior import ParameterDraws
    from ..bayes.results import BayesFit, SamplerInfo

    priors = _decode_priors(part.get("priors", []), model)
    try:
        with np.load(io.BytesIO(archive.read(PARAMS)), allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k], dtype=float) for k in npz.files}
        n_terms = int(part["n_terms"])
        params = ParameterDraws(beta=arrays["beta"], beta_c=arrays["beta_c"], sigma=arrays.get("sigma"),
                                dispersion=arrays.get("dispersion"), sd=[arrays[f"sd_{k}"] for k in range(n_terms)],
                                cor_chol=[arrays[f"cor_chol_{k}"] for k in range(n_terms)],
                                b=[arrays[f"b_{k}"] for k in range(n_terms)])
        saved = dict(part["sampler_info"])
        if "seed" in saved:  # files written before the vocabulary of issue 11 name it "seed"
            saved["random_seed"] = saved.pop("seed")
        saved["centred"] = tuple(saved.get("centred", ()))
        info = SamplerInfo(**saved)
        diag = dict(part["diagnostics"])
        tab = diag.pop("table")
        diag["problems"] = [tuple(p) for p in diag["problems"]]
        diag["ebfmi"] = np.asarray(diag["ebfmi"], dtype=float)
        report = DiagnosticReport(**diag, table=pd.DataFrame(tab["data"], index=tab["index"],
                                                             columns=tab["columns"]).astype(float))
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise FileFormatError(f"the draws of the Bayesian fit cannot be read: {exc}") from None
    design = model.design
    if params.beta.ndim != 3 or params.beta.shape[2] != design.n_fixef or n_terms != len(design.terms) or any(
            b.shape[2:] != (t.n_levels, t.q) for b, t in zip(params.b, design.terms, strict=True)):
        raise FileFormatError("the saved draws do not match the model's fixed and random effects")
    try:
        idata = xr.open_datatree(io.BytesIO(archive.read(POSTERIOR)), engine="h5netcdf").load()
    except (OSError, ValueError, TypeError) as exc:
        raise FileFormatError(f"the DataTree of the Bayesian fit ({POSTERIOR}) cannot be read: {exc}") from None
    return BayesFit(model, built=None, params=params, idata=idata, sampler_info=info, report=report,
                    log_likelihood_unit=str(part.get("log_likelihood_unit", "observation")), priors=priors)


# ---- dispatch ------------------------------------------------------------------------------------------------------

def decode_object(manifest: dict[str, Any], archive: Any, functions: Any = None) -> Any:
    """The model or fit of a checked manifest (see :func:`mixbayes.persistence.load`)."""
    kind = manifest["kind"]
    try:
        schema, model_part = manifest["data"], manifest["model"]
        part = manifest["fit"] if kind != "Model" else {}
    except KeyError as exc:
        raise FileFormatError(f"the manifest has no {exc} entry") from None
    data = frame_from_csv(archive.text(DATA), schema)
    model = _decode_model(model_part, data, functions)
    if kind == "Model":
        return model
    if kind == "BayesFit":
        return _decode_bayes(model, part, archive)
    fit = _refit(kind, model, part)
    _verify(fit, part.get("estimates", {}), str(manifest.get("mixbayes_version", "?")))
    return fit
