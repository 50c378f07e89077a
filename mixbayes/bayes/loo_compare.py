"""Model comparison of Bayesian fits by PSIS leave-one-out cross-validation (``mb.loo_compare``).

The pointwise log-likelihood is per observation by default, whatever the parameterisation: a fit whose Gaussian
random effects were integrated out draws them from their conditional distribution for each posterior draw
(:mod:`.posterior`), so the same model gives the same units either way.  Per group (leave one group out; the
marginal likelihood of each level of the single grouping factor) is available with ``unit="group"`` for fits
that integrated the random effects out, and is labelled so.  Fits whose units differ are refused with
:class:`~mixbayes.exceptions.LooUnitError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import LooUnitError, NotSupportedError

__all__ = ["loo_compare", "pointwise_loglik"]


def pointwise_loglik(fit: Any, unit: str = "observation") -> np.ndarray:
    """(chains, draws, units) pointwise log-likelihood of a BayesFit, per ``observation`` or per ``group``."""
    from .output import response_variable
    from .posterior import log_likelihood

    if unit == fit.log_likelihood_unit:
        return np.asarray(fit.idata["log_likelihood"][response_variable(fit.design)].values)
    ll, _ = log_likelihood(fit.built, fit.design, fit.params, unit=unit)
    return ll


def _unit_labels(fit: Any, unit: str) -> np.ndarray:
    d = fit.design
    if unit == "group":
        return np.asarray([f"{d.terms[0].group}={lv}" for lv in d.terms[0].levels])
    return np.asarray(d.row_index)[fit.built.rows]


def _loo(fit: Any, ll: np.ndarray, dim: str, labels: np.ndarray) -> Any:
    import arviz_stats as azs
    import xarray as xr

    from .output import response_variable

    resp = response_variable(fit.design)
    tree = fit.idata.copy()
    tree["log_likelihood"] = xr.Dataset({resp: (("chain", "draw", dim), ll)},
                                        coords={"chain": np.arange(ll.shape[0]), "draw": np.arange(ll.shape[1]),
                                                dim: labels})
    return azs.loo(tree, var_name=resp, pointwise=True)


def loo_compare(fits: dict[str, Any], unit: str = "observation", **kwargs: Any) -> pd.DataFrame:
    """Compare Bayesian fits of the same data by PSIS-LOO (``arviz_stats.compare``).

    Parameters
    ----------
    fits : name -> BayesFit, all fitted to the same rows.
    unit : ``"observation"`` (default: leave one observation out) or ``"group"`` (leave one level of the single
        grouping factor out; every fit must have integrated its random effects out).
    kwargs : passed to ``arviz_stats.compare`` (``method``, ``reference``...).

    Returns
    -------
    arviz_stats' comparison table (rank, elpd, p, elpd_diff, weight, se, dse, warning), with a ``unit`` column
    (``"observation"`` or ``"group (<factor>)"``) and ``n_units``.
    """
    if unit not in ("observation", "group"):
        raise NotSupportedError(f"unit must be 'observation' or 'group', not {unit!r}")
    if len(fits) < 2:
        raise NotSupportedError("loo_compare needs at least two fits (a dict name -> BayesFit)")
    for name, f in fits.items():
        if not (hasattr(f, "params") and hasattr(f, "idata")):
            raise NotSupportedError(f"{name!r} is not a Bayesian fit (method='bayes'); LOO needs posterior draws")
    elpds, labels_seen = {}, None
    label = "observation"
    for name, f in fits.items():
        try:
            ll = pointwise_loglik(f, unit)
        except NotSupportedError as exc:
            raise LooUnitError(f"{name!r}: {exc}") from None
        labels = _unit_labels(f, unit)
        if unit == "group":
            label = f"group ({f.design.terms[0].group})"
        if labels_seen is not None and (len(labels) != len(labels_seen) or np.any(labels != labels_seen)):
            raise LooUnitError(f"{name!r} has {len(labels)} {unit} units that differ from the other fits' "
                               f"{len(labels_seen)}: compare fits of the same rows (and, per group, the same "
                               "grouping factor)")
        labels_seen = labels
        elpds[name] = _loo(f, ll, "unit", labels)
    import arviz_stats as azs

    table = azs.compare(elpds, **kwargs)
    table["unit"] = label
    table["n_units"] = len(labels_seen) if labels_seen is not None else 0
    return table
