"""What a parametric bootstrap returns: :class:`BootstrapResult` (lme4's ``bootMer``) and :class:`PBTest`
(pbkrtest's ``PBmodcomp``), with the percentile interval and the naming of a user statistic's values.  Shared by
the linear (:mod:`.bootstrap`) and generalised (:mod:`.glmm_bootstrap`) bootstraps, which both import it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import BootstrapError, NotSupportedError
from .parameters import percent_labels

__all__ = ["BootstrapResult", "PBTest", "percentile_interval"]


def _user_values(value: Any) -> np.ndarray:
    if isinstance(value, pd.Series | pd.DataFrame):
        value = value.to_numpy()
    elif isinstance(value, dict):
        value = list(value.values())
    return np.atleast_1d(np.asarray(value, dtype=float)).ravel()


def _user_names(value: Any, n: int) -> list[str]:
    """Names of a statistic's values: a Series' index or a dict's keys, else ``t1, t2, ...`` (boot's names)."""
    if isinstance(value, pd.Series | dict):
        return [str(k) for k in (value.index if isinstance(value, pd.Series) else value.keys())]
    return [f"t{i + 1}" for i in range(n)]


@dataclass(kw_only=True)
class PBTest:
    """A parametric-bootstrap likelihood-ratio test (pbkrtest's ``PBmodcomp``).

    Attributes
    ----------
    stat : observed LRT, 2 (logLik_large - logLik_small), both models fitted by ML.
    df : difference in the number of parameters.
    p_chisq : chi-square(df) p-value of ``stat``.
    p_value : pbkrtest's bootstrap p-value (1 + #{LRT* > stat}) / (1 + #{LRT* > 0}), over the successful
        replicates with a positive LRT*.
    p_value_all : (1 + #{LRT* >= stat}) / (1 + number of successful replicates).
    simulated : the simulated LRT* (NaN for failed refits), in replicate order.
    nsim, n_failed : replicates asked for and replicates whose refits failed (``failures``: message -> count).
    seed_entropy : entropy of the SeedSequence (pass it as ``seed`` to reproduce the run).
    """

    stat: float
    df: int
    p_chisq: float
    p_value: float
    p_value_all: float
    simulated: np.ndarray
    nsim: int
    n_failed: int
    n_positive: int
    n_extreme: int
    failures: dict[str, int] = field(default_factory=dict)
    seed_entropy: Any = None
    elapsed: float = 0.0

    @property
    def table(self) -> pd.DataFrame:
        """pbkrtest's test table: rows LRT and PBtest; columns stat, df, p.value."""
        return pd.DataFrame({"stat": [self.stat, self.stat], "df": [self.df, np.nan],
                             "p.value": [self.p_chisq, self.p_value]}, index=["LRT", "PBtest"])

    def __str__(self) -> str:
        lines = [f"Bootstrap test; time: {self.elapsed:.2f} sec; samples: {self.nsim}; extremes: {self.n_extreme}"
                 + (f"; failed refits: {self.n_failed}" if self.n_failed else ""),
                 self.table.to_string(float_format=lambda x: f"{x:.4g}", na_rep="")]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    @classmethod
    def from_simulated(cls, stat: float, df: int, simulated: np.ndarray, failures: dict[str, int],
                       seed_entropy: Any, started: float) -> PBTest:
        """The test from the observed LRT and the simulated LRT* (NaN for failed refits; ``started``: the
        ``time.perf_counter()`` at the start of the run).

        Raises
        ------
        BootstrapError
            When every refit failed.
        """
        nsim = len(simulated)
        ok = simulated[np.isfinite(simulated)]
        if len(ok) == 0:
            raise BootstrapError(f"all {nsim} bootstrap refits failed: {failures}")
        pos = ok[ok > 0]
        n_extreme = int(np.sum(pos > stat))
        return cls(stat=float(stat), df=int(df), p_chisq=float(stats.chi2.sf(stat, df)) if df > 0 else np.nan,
                   p_value=(1.0 + n_extreme) / (1.0 + len(pos)),
                   p_value_all=(1.0 + float(np.sum(ok >= stat))) / (1.0 + len(ok)), simulated=simulated,
                   nsim=nsim, n_failed=nsim - len(ok), n_positive=len(pos), n_extreme=n_extreme,
                   failures=failures, seed_entropy=seed_entropy, elapsed=time.perf_counter() - started)


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval as ``boot::boot.ci(type="perc")``: order statistics (R + 1) alpha, interpolated on
    the normal-quantile scale between neighbours (boot's ``norm.inter``); non-finite values are dropped."""
    t = np.sort(np.asarray(values, dtype=float)[np.isfinite(values)])
    R = len(t)
    if R == 0:
        return np.nan, np.nan
    out = []
    for alpha in ((1 - level) / 2, (1 + level) / 2):
        rk = (R + 1) * alpha
        k = int(np.trunc(rk))
        if k == rk and 0 < k <= R:
            out.append(t[k - 1])
        elif k <= 0:
            out.append(t[0])
        elif k >= R:
            out.append(t[R - 1])
        else:
            z, z1, z2 = stats.norm.ppf([alpha, k / (R + 1), (k + 1) / (R + 1)])
            out.append(t[k - 1] + (z - z1) / (z2 - z1) * (t[k] - t[k - 1]))
    return float(out[0]), float(out[1])


@dataclass(kw_only=True)
class BootstrapResult:
    """A parametric bootstrap of a fit (lme4's ``bootMer``).

    Attributes
    ----------
    t0 : the statistic on the original fit.
    replicates : (nsim, k) values on the refits (NaN rows for failed refits).
    n_failed : number of failed refits; ``failures`` maps each error message to its count.
    seed_entropy : entropy of the SeedSequence (pass it as ``seed`` to reproduce the run).
    """

    t0: pd.Series
    replicates: pd.DataFrame
    nsim: int
    n_failed: int
    failures: dict[str, int] = field(default_factory=dict)
    seed_entropy: Any = None
    elapsed: float = 0.0

    def confint(self, level: float = 0.95, type: str = "perc") -> pd.DataFrame:
        """Bootstrap intervals per statistic: ``perc`` (percentile), ``basic`` or ``norm``, as
        ``boot::boot.ci`` computes them (lme4's ``confint(..., method="boot")``)."""
        rows = []
        for name in self.t0.index:
            t = self.replicates[name].to_numpy()
            t0 = float(self.t0[name])
            if type == "perc":
                rows.append(percentile_interval(t, level))
            elif type == "basic":
                lo, hi = percentile_interval(t, level)
                rows.append((2 * t0 - hi, 2 * t0 - lo))
            elif type == "norm":
                tt = t[np.isfinite(t)]
                bias = tt.mean() - t0
                merr = tt.std(ddof=1) * stats.norm.ppf((1 + level) / 2)
                rows.append((t0 - bias - merr, t0 - bias + merr))
            else:
                raise NotSupportedError(f"unknown interval type {type!r}: use 'perc', 'basic' or 'norm'")
        return pd.DataFrame(rows, index=self.t0.index, columns=percent_labels(level))

    def summary(self) -> pd.DataFrame:
        """original, bootBias, bootSE and bootMed per statistic (as ``summary(bootMer)``)."""
        r = self.replicates
        return pd.DataFrame({"original": self.t0, "bootBias": r.mean() - self.t0, "bootSE": r.std(ddof=1),
                             "bootMed": r.median()})

    def __str__(self) -> str:
        head = (f"Parametric bootstrap: {self.nsim} refits in {self.elapsed:.2f}s"
                + (f"; {self.n_failed} failed" if self.n_failed else ""))
        return head + "\n" + self.summary().to_string(float_format=lambda x: f"{x:.4g}")

    def __repr__(self) -> str:
        return str(self)
