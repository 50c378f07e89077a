"""Everything the report needs from a Bayesian fit, in one place.

The report code never touches a :class:`~mixbayes.bayes.results.BayesFit` directly: it calls these functions,
which read the fit through its public names (``fixef_summary()``, ``varcorr.as_frame()``, ``varcorr.draws``,
``ranef().as_frame()``, ``coef()``, ``icc()``, ``diagnose()``, ``summary()``, ``sampler_info`` and ``idata``).
Should one of those names change, this module is the only one to adapt.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "bayes_available",
    "chains_of",
    "coef_posterior",
    "describe",
    "diagnostics_problems",
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


def is_bayes_fit(obj: Any) -> bool:
    """Whether ``obj`` looks like a Bayesian fit (posterior draws in ``idata`` and a ``fixef_summary``)."""
    return obj is not None and hasattr(obj, "idata") and hasattr(obj, "fixef_summary")


def bayes_available() -> bool:
    """Whether this installation has the Bayesian engine (``mixbayes.bayes.sample``)."""
    try:
        from .. import bayes
    except ImportError:  # pragma: no cover - the package always exists
        return False
    return callable(getattr(bayes, "sample", None))


def sample_model(model: Any, draws: int = 1000, tune: int = 1000, chains: int = 4, random_seed: int | None = 1,
                 progressbar: bool = False) -> Any:
    """Sample ``model``'s posterior with the default sampler; sampling warnings are left to the report's
    diagnostics panel (they are not lost: ``fit.diagnose()`` lists them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.sample(draws=draws, tune=tune, chains=chains, random_seed=random_seed, progressbar=progressbar)


def _interval_columns(frame: pd.DataFrame) -> tuple[str, str]:
    """The lower and upper interval columns of a posterior summary frame (``2.5%``/``97.5%`` or the like)."""
    pct = [c for c in frame.columns if isinstance(c, str) and c.endswith("%")]
    if len(pct) >= 2:
        return pct[0], pct[1]
    for lo, hi in (("lower", "upper"), ("hdi_2.5%", "hdi_97.5%")):
        if lo in frame.columns and hi in frame.columns:
            return lo, hi
    raise KeyError(f"no interval columns in {list(frame.columns)}")


def fixef_posterior(fit: Any) -> pd.DataFrame:
    """Per fixed effect: mean, sd, lower, upper (95%), r_hat, ess_bulk."""
    tab = fit.fixef_summary()
    lo, hi = _interval_columns(tab)
    out = pd.DataFrame({"mean": tab["mean"], "sd": tab["sd"], "lower": tab[lo], "upper": tab[hi]})
    out["median"] = np.nan
    out["r_hat"] = tab["r_hat"] if "r_hat" in tab.columns else np.nan
    out["ess_bulk"] = tab["ess_bulk"] if "ess_bulk" in tab.columns else np.nan
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
        out[key] = {
            "mean": float(row["mean"]),
            "median": float(row["median"]) if "median" in frame.columns else np.nan,
            "sd": float(row["sd"]),
            "lower": float(row[lo]),
            "upper": float(row[hi]),
            "r_hat": float(row["r_hat"]) if "r_hat" in frame.columns else np.nan,
            "ess_bulk": float(row["ess_bulk"]) if "ess_bulk" in frame.columns else np.nan,
        }
    return out


def varcorr_draws(fit: Any) -> pd.DataFrame:
    """Draws of every SD, correlation and the residual SD (columns ``grp:var1``, ``grp:var1:var2``,
    ``Residual``), chains stacked in order."""
    return pd.DataFrame(fit.varcorr.draws).reset_index(drop=True)


def icc_posterior(fit: Any) -> dict[str, np.ndarray]:
    """Draws of the adjusted ICC (key ``adjusted``) and of each grouping factor's share (key = group)."""
    icc = fit.icc()
    out = {"adjusted": np.asarray(getattr(icc.adjusted, "draws", icc.adjusted), dtype=float).ravel()}
    for group, value in getattr(icc, "groups", {}).items():
        out[str(group)] = np.asarray(getattr(value, "draws", value), dtype=float).ravel()
    return out


def ranef_posterior(fit: Any) -> pd.DataFrame:
    """Long form of the random effects' posterior: grpvar, term, grp, mean, sd, lower, upper."""
    frame = fit.ranef().as_frame()
    if "lower" not in frame.columns:
        lo, hi = _interval_columns(frame)
        frame = frame.rename(columns={lo: "lower", hi: "upper"})
    return frame


def coef_posterior(fit: Any) -> dict[str, pd.DataFrame]:
    """Per grouping factor: posterior means of the group-level coefficients (fixed plus random)."""
    return dict(fit.coef())


def chains_of(fit: Any, n_draws: int) -> int:
    """Number of chains (from ``sampler_info``, else from the posterior's ``chain`` dimension)."""
    chains = getattr(getattr(fit, "sampler_info", None), "chains", None)
    if chains is None:
        try:
            chains = int(fit.idata["posterior"].sizes["chain"])
        except Exception:
            chains = 1
    chains = int(chains)
    return chains if chains > 0 and n_draws % chains == 0 else 1


def divergent_mask(fit: Any, n_draws: int) -> np.ndarray:
    """Per draw (chains stacked as in :func:`varcorr_draws`): whether the transition diverged."""
    try:
        div = np.asarray(fit.idata["sample_stats"]["diverging"].values, dtype=bool).ravel()
    except Exception:
        return np.zeros(n_draws, dtype=bool)
    return div if div.size == n_draws else np.zeros(n_draws, dtype=bool)


def diagnostics_text(fit: Any) -> str:
    return str(fit.diagnose())


def diagnostics_problems(fit: Any) -> list[str]:
    """The sampling problems, one line each (``[kind] parameter: message``)."""
    lines = []
    for problem in getattr(fit.diagnose(), "problems", []):
        parts = [str(p) for p in problem]
        if len(parts) >= 4:
            lines.append(f"[{parts[0]}] {parts[1]}: {parts[2]}")
        elif len(parts) >= 2:
            lines.append(f"[{parts[0]}] {parts[1]}")
        else:
            lines.append(" ".join(parts))
    return lines


def summary_text(fit: Any) -> str:
    """The fit's own summary; if that cannot be printed, one assembled from its posterior tables."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return str(fit.summary())
    except Exception:  # the tables below carry the same numbers
        fe = fit.fixef_summary()
        vc = fit.varcorr.as_frame()
        return "\n".join([
            f"Posterior of {getattr(fit, 'formula', 'the model')} ({describe(fit)})", "",
            "Random effects (posterior of SDs and correlations):",
            vc.to_string(index=False, float_format=lambda x: f"{x:.4g}", na_rep=""), "",
            "Fixed effects:", fe.to_string(float_format=lambda x: f"{x:.4g}"), "", diagnostics_text(fit)])


def describe(fit: Any) -> str:
    """One line: sampler, chains, draws."""
    info = getattr(fit, "sampler_info", None)
    if info is None:
        return "NUTS"
    sampler = getattr(info, "sampler", "NUTS")
    chains, draws = getattr(info, "chains", "?"), getattr(info, "draws", "?")
    return f"NUTS ({sampler}), {chains} chains x {draws} draws"
