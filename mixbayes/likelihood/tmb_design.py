"""Formula + data -> the arrays of a glmmTMB-family model (conditional and zero-inflation designs)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..design.matrices import ModelMatrices, build_design
from ..exceptions import CountDataWarning, NotSupportedError, ResponseError
from ..families import get_family
from ..families.tmb import TmbFamily, get_tmb_family
from ..formula import parse_formula
from .tmb_laplace import _DENSE_LIMIT, TmbProblem
from .zeroinfl import Response

__all__ = ["TmbDesign", "build_tmb_design", "zi_rhs"]


@dataclass
class TmbDesign:
    """The conditional design (lme4's :class:`ModelMatrices`), the zero-inflation one (fixed effects only), the
    family and the problem that :func:`~mixbayes.likelihood.tmb_laplace.fit_tmb` optimises."""

    family: TmbFamily
    design: ModelMatrices
    zi_design: ModelMatrices | None
    zi_formula: str | None
    problem: TmbProblem


def zi_rhs(zi: Any) -> str | None:
    """The right-hand side of a zero-inflation formula (``"~ x + z"``, ``"x + z"`` or ``"~1"``); None for none."""
    if zi is None or zi is False:
        return None
    if not isinstance(zi, str):
        raise NotSupportedError(f"zi must be a one-sided formula such as '~ x + z' or '~1', not {zi!r}")
    text = zi.strip()
    if "~" in text:
        lhs, _, text = text.partition("~")
        if lhs.strip():
            raise NotSupportedError(f"zi={zi!r}: the zero-inflation formula is one-sided ('~ x + z')")
    text = text.strip()
    if not text:
        raise NotSupportedError("zi='~' has no terms: write zi='~1' for a constant zero-inflation probability")
    if text == "0":
        return None
    if "|" in text:
        raise NotSupportedError(f"zi={zi!r}: random effects in the zero-inflation formula are not supported yet "
                                "(only fixed effects)")
    return text


def _build(formula: str, data: pd.DataFrame, base: str, weights: Any, offset: Any,
           functions: Any) -> ModelMatrices:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CountDataWarning)  # non-integer counts are an error here (below)
        return build_design(parse_formula(formula, functions or {}), data, get_family(base), weights, offset,
                            functions)


def build_tmb_design(formula: str, data: pd.DataFrame, family: str | TmbFamily, zi: Any = None,
                     weights: Any = None, offset: Any = None, functions: Any = None) -> TmbDesign:
    """Evaluate the conditional and zero-inflation formulas on ``data`` and check the response."""
    fam = family if isinstance(family, TmbFamily) else get_tmb_family(family)
    rhs = zi_rhs(zi)
    base = "binomial" if fam.binomial else "poisson"
    design = _build(formula, data, base, weights, offset, functions)
    zi_design = None
    if rhs is not None:
        lhs = formula.partition("~")[0].strip()
        used = data.loc[design.row_index]
        zi_design = _build(f"{lhs} ~ {rhs}", used, base, None, None, functions)
        if len(zi_design.row_index) < len(design.row_index):  # rows missing in the zi covariates only
            design = _build(formula, data.loc[zi_design.row_index], base, weights, offset, functions)
    if not design.terms:
        raise NotSupportedError("the glmmTMB families need a random-effects term such as (1 | g)")
    resp = _response(fam, design, rhs is not None)
    n, q = design.n_obs, design.n_random
    diag = None
    if len(design.terms) == 1 and design.terms[0].q == 1:
        diag = (np.asarray(design.terms[0].codes), np.asarray(design.terms[0].z[:, 0], float))
    elif n * q > _DENSE_LIMIT:
        raise NotSupportedError(f"{n} observations x {q} random effects is too large for the dense random-effects "
                                "system of the glmmTMB families")
    nt = design.n_theta
    L = [design.Lambda(np.eye(nt)[k]).toarray() for k in range(nt)]
    prob = TmbProblem(family=fam, response=resp, X=np.asarray(design.X, float), offset=np.asarray(design.offset),
                      Xzi=None if zi_design is None else np.asarray(zi_design.X, float),
                      Z=None if diag is not None else design.Z.toarray(), L=L,
                      log_theta=np.asarray(design.lower) == 0, diag=diag)
    return TmbDesign(fam, design, zi_design, None if rhs is None else f"~{rhs}", prob)


def _response(fam: TmbFamily, design: ModelMatrices, has_zi: bool) -> Response:
    name = design.response_name
    if fam.binomial:
        succ = np.asarray(design.successes, float)
        trials = np.asarray(design.trials, float)
        counts = (succ, trials)
        y = succ
        prior = np.ones_like(y)  # the binomial design folds the trials into its weights
        if design.has_prior_weights:
            raise NotSupportedError("prior weights with the beta-binomial family are not supported")
    else:
        y = np.asarray(design.y, float)
        trials = None
        counts = (y,)
        prior = np.asarray(design.weights, float)
    for c in counts:
        bad = np.abs(c - np.round(c)) > 1e-7
        if bad.any():
            raise ResponseError(f"the {fam.name} response {name!r} has {int(bad.sum())} non-integer value(s) "
                                f"(first: {c[bad][0]:.6g}); counts must be whole numbers")
    zero = y == 0
    if fam.truncated and zero.any() and not has_zi:
        raise ResponseError(f"the {fam.name} family is zero-truncated but {name!r} has {int(zero.sum())} zeros: "
                            "give zi='~1' (or a formula) for a hurdle model, or drop the zeros")
    return Response(y=np.round(y), trials=None if trials is None else np.round(trials), weights=prior, zero=zero)
