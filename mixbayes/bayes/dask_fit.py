"""The result of a Bayesian fit of out-of-core data: :class:`DaskBayesFit` (see :mod:`mixbayes.bayes.outofcore`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .outofcore import refusal
from .results import BayesFit

__all__ = ["DaskBayesFit"]


class DaskBayesFit(BayesFit):
    """A Bayesian fit of out-of-core data: everything from the draws of the parameters and the random effects
    works as for in-memory data (summary, fixef, varcorr, ranef, icc, predict on a pandas frame); what needs
    the rows raises :class:`~mixbayes.outofcore.design.DaskDataNotSupportedError`."""

    def _needs_rows(self, what: str, instead: str) -> Exception:
        return refusal(f"{what} needs every row of the data; the posterior of Dask data is sampled from the "
                       f"summed blocks. {instead}")

    def pointwise_loglik(self, unit: str = "observation") -> np.ndarray:
        raise self._needs_rows("a per-observation log-likelihood", "Compare models fitted to Dask data by their "
                               "REML/ML fits (anova on the likelihood fits), or compute LOO on an in-memory sample")

    def _pointwise_loglik(self) -> np.ndarray:
        return self.pointwise_loglik()

    def loo(self, **kwargs: Any) -> Any:
        raise self._needs_rows("LOO", "Compute LOO on an in-memory sample of the data")

    def waic(self) -> Any:
        raise self._needs_rows("WAIC", "Compute WAIC on an in-memory sample of the data")

    def predict_intervals(self, newdata: Any = None, interval: str = "confidence", level: float = 0.95,
                          type: str = "response", random_seed: Any = None) -> Any:
        """As for an in-memory fit, for a pandas frame ``newdata`` (the fitted rows are not in memory)."""
        from ..outofcore.source import is_dask_data

        if newdata is None or is_dask_data(newdata):
            raise self._needs_rows("predict_intervals() on the fitted data", "Give a pandas frame as newdata")
        return super().predict_intervals(newdata, interval, level, type, random_seed)

    def predict(self, newdata: Any = None, include_random: bool = True, allow_new_levels: bool = True,
                type: str = "response", summary: bool = True, prob: float = 0.95, predictive: bool = False,
                random_seed: int | None = None) -> Any:
        """Posterior predictions for a pandas frame ``newdata`` (as for an in-memory fit).  For the fitted data
        (``newdata=None``) or Dask new data, the posterior mean of the linear predictor (identity link: of
        the response) as a lazy Dask series, computed partition by partition; intervals and draws per row of
        Dask data are refused."""
        from ..outofcore.source import as_dask_frame, is_dask_data

        if newdata is not None and not is_dask_data(newdata):
            return super().predict(newdata, include_random, allow_new_levels, type, summary, prob, predictive,
                                   random_seed)
        if not summary or predictive:
            raise self._needs_rows("draws per row (summary=False or predictive=True)",
                                   "Predict an in-memory frame, or use the posterior means returned by "
                                   "predict() with the default summary=True and predictive=False")
        import pandas as pd

        from ..outofcore.fit import _new_values, _training_values

        p = self.params
        beta = p.flat(p.beta).mean(axis=0)
        b = np.concatenate([p.flat(bk).mean(axis=0).ravel() for bk in p.b])
        meta = pd.Series(dtype=float, name="mean")
        if newdata is None and include_random:  # the fitted rows (complete ones), with their offsets
            ddf = as_dask_frame(self.model.data)
            return ddf.map_partitions(_training_values, self.design, beta, b, 1.0, "fitted", meta=meta).rename("mean")
        ddf = as_dask_frame(self.model.data if newdata is None else newdata)
        return ddf.map_partitions(_new_values, self.design, beta, b, include_random, allow_new_levels, type,
                                  meta=meta).rename("mean")
