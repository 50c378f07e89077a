"""What each kind of object writes into a mixbayes file (see :mod:`mixbayes.persistence`), and :func:`save`.

This half of the format sits below the models and fits, which call :func:`save` from their ``save`` methods: it
reads them through their public attributes and imports none of them.  Reading a file back
(:mod:`mixbayes.persistence.objects`) rebuilds models and refits them, so it sits above them.  Nothing heavy is
imported here: xarray is used only through the Bayesian fit's own DataTree.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import NotSupportedError
from ..version import __version__
from .table import frame_to_csv

if TYPE_CHECKING:
    from ..priors.prior import PriorSet
    from ..protocols import ModelLike as Model

__all__ = ["DATA", "FORMAT", "FORMAT_VERSION", "KINDS", "MANIFEST", "PARAMS", "POSTERIOR", "encode_object",
           "jsonable", "save"]

FORMAT = "mixbayes"
FORMAT_VERSION = 1
"""The version of the file format this mixbayes writes and reads (files of a newer version are refused)."""

MANIFEST = "manifest.json"
KINDS = ("Model", "LmmFit", "GlmmFit", "MapFit", "BayesFit")
DATA, POSTERIOR, PARAMS = "data.csv", "posterior.nc", "params.npz"


def jsonable(value: Any, what: str) -> Any:
    """``value`` as plain JSON types (numbers, strings, lists, dicts), or a NotSupportedError naming ``what``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.generic, np.ndarray)):
        return jsonable(value.tolist(), what)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v, what) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise NotSupportedError(f"{what} cannot be saved: its keys must be strings")
        return {k: jsonable(v, what) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, what)
    raise NotSupportedError(f"{what} cannot be saved: {type(value).__name__} values are not numbers, strings, "
                            "lists or dicts")


# ---- the model ---------------------------------------------------------------------------------------------------

def _argument(value: Any, what: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {"column": value}
    return {"values": jsonable(np.asarray(value, dtype=float), what)}


def _model_part(model: Model) -> dict[str, Any]:
    fam = model.family
    return {"formula": model.formula.text, "family": fam.name, "link": fam.link.name, "family_theta": fam.theta,
            "weights": _argument(model.weights, "weights"), "offset": _argument(model.offset, "offset"),
            "functions": sorted(getattr(model, "functions", {}))}  # names only: the file holds no code


def _priors_part(priors: PriorSet) -> list[dict[str, Any]]:
    return [{"name": e.name, "distribution": e.prior.distribution, "params": jsonable(e.prior.params, "a prior"),
             "kind": e.kind, "rationale": e.rationale} for e in priors.entries]


def _likelihood_part(fit: Any, kind: str) -> dict[str, Any]:
    est: dict[str, Any] = {"theta": fit.theta, "beta": fit.beta}
    if kind == "LmmFit":
        if fit.model.replaced_response is not None:
            raise NotSupportedError("a fit to a new response (fit.refit) cannot be saved; save the original fit")
        part = {"method": "reml" if fit.reml else "ml", "control": jsonable(fit.control, "control")}
        est.update(sigma=fit.sigma, objective=fit.objective_value)
    elif kind == "GlmmFit":
        part = {"method": "nagq0" if fit.nAGQ == 0 else "laplace", "nAGQ": int(fit.nAGQ),
                "control": jsonable(fit.control, "control")}
        est.update(objective=fit.objective_value, dispersion=fit.dispersion)
    else:
        part = {"method": "map", "priors": _priors_part(fit.priors)}
        est.update(log_posterior=fit.log_posterior, sigma=fit.sigma, dispersion=fit.dispersion)
    part["estimates"] = jsonable(est, "the estimates")
    return part


def _bayes_part(fit: Any) -> tuple[dict[str, Any], dict[str, bytes]]:
    p = fit.params
    arrays: dict[str, np.ndarray] = {"beta": p.beta, "beta_c": p.beta_c}
    if p.sigma is not None:
        arrays["sigma"] = p.sigma
    if p.dispersion is not None:
        arrays["dispersion"] = p.dispersion
    for k in range(len(p.sd)):
        arrays.update({f"sd_{k}": p.sd[k], f"cor_chol_{k}": p.cor_chol[k], f"b_{k}": p.b[k]})
    npz = io.BytesIO()
    np.savez(npz, **{k: np.asarray(v, dtype=float) for k, v in arrays.items()})
    nc = io.BytesIO()
    fit.idata.to_netcdf(nc, engine="h5netcdf")
    rep = fit.diagnose()
    diagnostics = {f.name: getattr(rep, f.name) for f in dataclasses.fields(rep) if f.name != "table"}
    table = rep.table
    diagnostics["table"] = {"index": list(table.index), "columns": list(table.columns), "data": table.to_numpy()}
    part = {"method": "bayes", "priors": _priors_part(fit.priors),
            "sampler_info": jsonable(fit.sampler_info, "sampler_info"),
            "log_likelihood_unit": fit.log_likelihood_unit, "n_terms": len(p.sd),
            "diagnostics": jsonable(diagnostics, "the diagnostics")}
    return part, {POSTERIOR: nc.getvalue(), PARAMS: npz.getvalue()}


_CLASSES = {("mixbayes.model", "Model"): "Model", ("mixbayes.results.lmm", "LmmFit"): "LmmFit",
            ("mixbayes.results.glmm", "GlmmFit"): "GlmmFit", ("mixbayes.results.map", "MapFit"): "MapFit",
            ("mixbayes.bayes.results", "BayesFit"): "BayesFit"}
"""The classes that can be saved, by module and name: this module sits below them and imports none."""


def _kind(obj: Any) -> str:
    kind = _CLASSES.get((type(obj).__module__, type(obj).__name__))
    if kind is None:
        raise NotSupportedError(f"a {type(obj).__name__} cannot be saved; save a Model, LmmFit, GlmmFit, MapFit or "
                                "BayesFit (or pickle other objects)")
    return kind


def encode_object(obj: Any) -> tuple[dict[str, Any], dict[str, bytes | str]]:
    """(manifest entries, archive members) of a model or fit."""
    kind = _kind(obj)
    model = obj if kind == "Model" else obj.model
    text, schema = frame_to_csv(model.data)
    manifest: dict[str, Any] = {"kind": kind, "model": _model_part(model), "data": {"file": DATA, **schema}}
    members: dict[str, bytes | str] = {DATA: text}
    if kind == "BayesFit":
        manifest["fit"], extra = _bayes_part(obj)
        members.update(extra)
    elif kind != "Model":
        manifest["fit"] = _likelihood_part(obj, kind)
    return manifest, members


def save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write a :class:`~mixbayes.Model` or a fit (``LmmFit``, ``GlmmFit``, ``MapFit``, ``BayesFit``) to ``path``
    (a mixbayes file, conventionally ``*.mixbayes``); returns the path.  The file is written whole or not at all."""
    target = Path(path)
    if target.is_dir():
        raise NotSupportedError(f"{target} is a directory; give a file name such as fit.mixbayes")
    if not target.parent.exists():
        raise NotSupportedError(f"the directory {target.parent} does not exist")
    manifest, members = encode_object(obj)
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "mixbayes_version": __version__, **manifest}
    fd, tmp = tempfile.mkstemp(prefix=".mixbayes-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, indent=1))
            for name, content in members.items():
                zf.writestr(name, content)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
