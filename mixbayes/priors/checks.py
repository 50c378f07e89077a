"""What each prior distribution accepts: its parameter names (as PyMC spells them) and which must be positive.

:func:`check_params` turns a misspelt name (``sgima=1``), a non-positive scale or unordered bounds
(``Uniform(lower=10, upper=1)``) into a :class:`~mixbayes.exceptions.PriorError` that names the parameter, instead
of a model whose every draw diverges.
"""

from __future__ import annotations

import difflib

import numpy as np

from ..exceptions import PriorError

__all__ = ["check_params", "fmt"]


def fmt(v: float | tuple[float, ...]) -> str:
    """A parameter value for messages: ``2.5`` or ``[1, 2]``."""
    if isinstance(v, tuple):
        return "[" + ", ".join(f"{x:.4g}" for x in v) + "]"
    return f"{v:.4g}"


_PARAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # distribution: (parameter names as PyMC spells them, those that must be > 0)
    "Normal": (("mu", "sigma", "tau"), ("sigma", "tau")),
    "StudentT": (("nu", "mu", "sigma", "lam"), ("nu", "sigma", "lam")),
    "Cauchy": (("alpha", "beta"), ("beta",)),
    "Laplace": (("mu", "b"), ("b",)),
    "Logistic": (("mu", "s"), ("s",)),
    "SkewNormal": (("mu", "sigma", "tau", "alpha"), ("sigma", "tau")),
    "Gumbel": (("mu", "beta"), ("beta",)),
    "HalfNormal": (("sigma", "tau"), ("sigma", "tau")),
    "HalfStudentT": (("nu", "sigma", "lam"), ("nu", "sigma", "lam")),
    "HalfCauchy": (("beta",), ("beta",)),
    "Exponential": (("lam", "scale"), ("lam", "scale")),
    "Gamma": (("alpha", "beta", "mu", "sigma"), ("alpha", "beta", "mu", "sigma")),
    "InverseGamma": (("alpha", "beta", "mu", "sigma"), ("alpha", "beta", "mu", "sigma")),
    "LogNormal": (("mu", "sigma", "tau"), ("sigma", "tau")),
    "Weibull": (("alpha", "beta"), ("alpha", "beta")),
    "ChiSquared": (("nu",), ("nu",)),
    "Uniform": (("lower", "upper"), ()),
    "Beta": (("alpha", "beta", "mu", "sigma", "nu"), ("alpha", "beta", "mu", "sigma", "nu")),
    "LKJ": (("eta",), ("eta",)),
}
"""The parameters of the distributions listed in ``_SUPPORT``; a misspelt or out-of-range one is a PriorError."""


def check_params(distribution: str, params: dict[str, float | tuple[float, ...]]) -> None:
    """Parameter names known to the distribution, positive scales and ordered bounds (for the listed ones)."""
    if distribution not in _PARAMS:
        return
    known, positive = _PARAMS[distribution]
    for key in params:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.4)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise PriorError(f"the {distribution} prior has no parameter {key!r}.{hint} Its parameters are: "
                             f"{', '.join(known)}")
    for key in positive:
        if key in params and np.any(np.asarray(params[key]) <= 0):
            raise PriorError(f"parameter {key}={fmt(params[key])} of the {distribution} prior must be > 0")
    if distribution == "Uniform":
        lo, hi = np.asarray(params.get("lower", 0.0)), np.asarray(params.get("upper", 1.0))
        if np.any(lo >= hi):
            raise PriorError(f"the Uniform prior needs lower < upper, not lower={fmt(params.get('lower', 0.0))}, "
                             f"upper={fmt(params.get('upper', 1.0))}")
    if distribution == "Beta" and "mu" in params and np.any(np.asarray(params["mu"]) >= 1):
        raise PriorError(f"parameter mu={fmt(params['mu'])} of the Beta prior must be in (0, 1)")
