"""Everything the report needs from a Bayesian fit, in one place.

The report code never touches a :class:`~mixbayes.bayes.results.BayesFit` directly: it calls these functions,
which read the fit through its public names (``fixef_summary()``, ``varcorr.as_frame()``, ``varcorr.draws``,
``ranef().as_frame()``, ``coef``, ``icc()``, ``diagnose()``, ``summary()``, ``sampler_info`` and ``idata``).
Should one of those names change, this module is the only one to adapt.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from ..bayes.plots import chains_of, divergent_mask, varcorr_draws

__all__ = [
    "FIT_NAMES",
    "chains_of",
    "coef_posterior",
    "describe",
    "diagnostics_text",
    "divergent_mask",
    "fixef_posterior",
    "icc_posterior",
    "is_bayes_fit",
    "ranef_posterior",
    "sample_model",
    "summary_text",
    "varcorr_draws",
    "varcorr_posterior",
]

#: the names this module reads from a Bayesian fit (the test stand-in must offer them too: tests/report_standin.py)
FIT_NAMES = ("fixef_summary", "varcorr", "ranef", "coef", "icc", "diagnose", "summary", "sampler_info", "idata",
             "model", "design", "formula")


def is_bayes_fit(obj: Any) -> bool:
    """Whether ``obj`` looks like a Bayesian fit (posterior draws in ``idata`` and a ``fixef_summary``)."""
    return obj is not None and hasattr(obj, "idata") and hasattr(obj, "fixef_summary")


def sample_model(model: Any, draws: int = 1000, tune: int = 1000, chains: int = 4, random_seed: int | None = 1,
                 progressbar: bool = False) -> Any:
    """Sample ``model``'s posterior with the default sampler; sampling warnings are left to the report's
    diagnostics panel (they are not lost: ``fit.diagnose()`` lists them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.sample(draws=draws, tune=tune, chains=chains, random_seed=random_seed, progressbar=progressbar)


def _interval_columns(frame: pd.DataFrame) -> tuple[str, str]:
    """The lower and upper interval columns of a posterior summary frame (``2.5%``/``97.5%``)."""
    pct = [c for c in frame.columns if isinstance(c, str) and c.endswith("%")]
    return pct[0], pct[1]


def fixef_posterior(fit: Any) -> pd.DataFrame:
    """Per fixed effect: mean, sd, lower, upper (95%), r_hat, ess_bulk."""
    tab = fit.fixef_summary()
    lo, hi = _interval_columns(tab)
    out = pd.DataFrame({"mean": tab["mean"], "sd": tab["sd"], "lower": tab[lo], "upper": tab[hi]})
    out["median"] = np.nan
    out["r_hat"] = tab["r_hat"]
    out["ess_bulk"] = tab["ess_bulk"]
    return out


def _key(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def varcorr_posterior(fit: Any) -> dict[tuple[str, str | None, str | None], dict[str, float]]:
    """Posterior summaries of the SDs, correlations and residual SD, keyed as lme4's
    ``as.data.frame(VarCorr(fit))`` rows: (grp, var1, var2) with None for absent names."""
    frame = fit.varcorr.as_frame()
    lo, hi = _interval_columns(frame)
    out: dict[tuple[str, str | None, str | None], dict[str, float]] = {}
    for _, row in frame.iterrows():
        key = (str(row["grp"]), _key(row["var1"]), _key(row["var2"]))
        out[key] = {name: float(row[col]) for name, col in (
            ("mean", "mean"), ("median", "median"), ("sd", "sd"), ("lower", lo), ("upper", hi), ("r_hat", "r_hat"),
            ("ess_bulk", "ess_bulk"))}
    return out


def icc_posterior(fit: Any) -> dict[str, np.ndarray]:
    """Draws of the adjusted ICC (key ``adjusted``) and of each grouping factor's share (key = group)."""
    icc = fit.icc()
    out = {"adjusted": np.asarray(icc.adjusted.draws, dtype=float).ravel()}
    for group, value in icc.groups.items():
        out[str(group)] = np.asarray(value.draws, dtype=float).ravel()
    return out


def ranef_posterior(fit: Any) -> pd.DataFrame:
    """Long form of the random effects' posterior: grpvar, term, grp, mean, sd, lower, upper."""
    return fit.ranef().as_frame()


def coef_posterior(fit: Any) -> dict[str, pd.DataFrame]:
    """Per grouping factor: posterior means of the group-level coefficients (fixed plus random)."""
    return dict(fit.coef)


def diagnostics_text(fit: Any) -> str:
    return str(fit.diagnose())


def summary_text(fit: Any) -> str:
    """The fit's own summary."""
    return str(fit.summary())


def describe(fit: Any) -> str:
    """One line: sampler, chains, draws."""
    info = fit.sampler_info
    return f"NUTS ({info.sampler}), {info.chains} chains x {info.draws} draws"
