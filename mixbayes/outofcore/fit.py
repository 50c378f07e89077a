"""Results of a linear mixed model fitted to Dask data: :class:`DaskLmmFit`.

Everything that needs only the blocks works as for in-memory data (estimates, summary, Satterthwaite, anova,
ICC, ranef with conditional variances).  What needs the rows is computed partition by partition and returned
as a lazy Dask series (``fitted``, ``residuals()``, ``predict()``); what needs the rows on the client (refits,
simulation, bootstrap, profiles, Kenward-Roger) raises :class:`~.design.DaskDataNotSupportedError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import pandas as pd

from ..design.terms import effect_blocks
from ..results.lmm import LmmFit
from ..results.prediction import new_linear_predictor
from .design import BlockDesign, DaskDataNotSupportedError
from .source import as_dask_frame, is_dask_data

if TYPE_CHECKING:
    from ..results.summary import LmmSummary

__all__ = ["DaskLmmFit"]


def _training_values(part: pd.DataFrame, design: BlockDesign, beta: np.ndarray, b: np.ndarray, sigma: float,
                     what: str) -> pd.Series:
    """Fitted values or residuals of one partition's complete rows."""
    X, y, w, off, terms, index = design.spec.matrices(part)
    eta = X[:, list(design.fixed_spec.keep)] @ beta + off
    for t, bt in zip(terms, effect_blocks(design.terms, b), strict=True):
        eta = eta + t.z_times(bt)
    if what == "fitted":
        return pd.Series(eta, index=index, name="fitted")
    r = y - eta
    if what in ("pearson", "deviance"):
        r = np.sqrt(w) * r
    elif what == "scaled":
        r = np.sqrt(w) * r / sigma
    return pd.Series(r, index=index, name=f"{what} residuals")


def _new_values(part: pd.DataFrame, design: BlockDesign, beta: np.ndarray, b: np.ndarray, include_random: bool,
                allow_new_levels: bool, type: str) -> pd.Series:
    eta = new_linear_predictor(design, beta, b, part, include_random, allow_new_levels)
    values = eta if type == "link" else design.family.link.inverse(eta)
    return pd.Series(values, index=part.index, name="predicted")


class DaskLmmFit(LmmFit):
    """A linear mixed model fitted by REML or ML to a Dask DataFrame (or a Parquet dataset).

    ``fitted``, ``residuals()`` and ``predict()`` return lazy Dask series, computed partition by partition
    (call ``.compute()`` or reduce them in Dask, e.g. ``fit.residuals("scaled").quantile(...)``).
    """

    def _map(self, func: Any, ddf: Any, name: str, *args: Any) -> Any:
        meta = pd.Series(dtype=float, name=name)
        return ddf.map_partitions(func, self.design, self.beta, self.b, *args, meta=meta)

    @property
    def _data(self) -> Any:
        return as_dask_frame(self.model.data)

    @property
    def linear_predictor(self) -> Any:  # type: ignore[override]
        """eta on the data used for the fit, as a Dask series."""
        return self._map(_training_values, self._data, "fitted", self.sigma, "fitted")

    @property
    def fitted(self) -> Any:
        return self.linear_predictor

    def residuals(self, type: str = "response") -> Any:
        """Residuals (``response``, ``pearson`` or ``scaled``) as a Dask series, partition by partition."""
        if type not in ("response", "pearson", "deviance", "scaled"):
            raise ValueError(f"unknown residual type {type!r}: use response, pearson or scaled")
        return self._map(_training_values, self._data, f"{type} residuals", self.sigma, type)

    def predict(self, newdata: Any = None, include_random: bool = True, allow_new_levels: bool = False,
                type: str = "response", offset: Any = None) -> Any:
        """Predictions: for the fitted data or Dask new data a Dask series (by partition); for a pandas frame
        a pandas series, as for an in-memory fit."""
        if newdata is None:
            if not include_random or offset is not None:
                return self._map(_new_values, self._data, "predicted", include_random, allow_new_levels, type)
            return self.linear_predictor
        if is_dask_data(newdata):
            if offset is not None:
                raise DaskDataNotSupportedError("with Dask new data, give the offset as a column in the formula")
            return self._map(_new_values, as_dask_frame(newdata), "predicted", include_random, allow_new_levels,
                             type)
        return super().predict(newdata, include_random, allow_new_levels, type, offset)

    def _needs_rows(self, what: str) -> DaskDataNotSupportedError:
        return DaskDataNotSupportedError(f"{what} needs the rows in memory; it is not available for a fit to Dask "
                                         "data (fit an in-memory sample, see docs/dask.md)")

    def simulate(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        raise self._needs_rows("simulate()")

    def refit(self, *args: Any, **kwargs: Any) -> LmmFit:
        raise self._needs_rows("refit()")

    def bootstrap(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._needs_rows("the parametric bootstrap")

    def profile(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._needs_rows("profile()")

    def confint(self, method: str = "wald", level: float = 0.95, parm: Any = None, **kwargs: Any) -> pd.DataFrame:
        """Wald intervals (profile and bootstrap intervals need the rows)."""
        if method != "wald":
            raise self._needs_rows(f"confint(method={method!r})")
        return super().confint(method=method, level=level, parm=parm, **kwargs)

    def summary(self, ddf: str = "satterthwaite", correlation: bool = True) -> LmmSummary:
        self._check_ddf(ddf)
        return super().summary(ddf=ddf, correlation=correlation)

    def anova(self, type: int | str = 3, ddf: str = "satterthwaite") -> pd.DataFrame:
        self._check_ddf(ddf)
        return super().anova(type=type, ddf=ddf)

    def _check_ddf(self, ddf: str) -> None:
        if ddf.lower().replace("_", "-") in ("kenward-roger", "kr", "kenwardroger"):
            raise self._needs_rows("Kenward-Roger's method")
