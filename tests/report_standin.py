"""A STAND-IN for a Bayesian fit, for unit tests of the report's comparison logic only.

It is NOT a posterior: it draws normal (fixed effects) and log-normal (SDs, sigma) noise around a likelihood fit's
estimates, with optional shifts, so that tests can place the "posterior" where they need it (agreeing, or
disagreeing in a known way) without running a sampler.  It offers the names the report reads from
``mixbayes.bayes.results.BayesFit`` (see mixbayes/report/_bayes.py).  Tests of the real sampler use
``model.sample()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mixbayes.results.varcorr import unique_names


@dataclass
class _Info:
    chains: int
    draws: int
    sampler: str = "stand-in (not a sampler)"
    tune: int = 0

    def __str__(self) -> str:
        return f"stand-in posterior: {self.chains} chains x {self.draws} draws (test double, not a sampler)"


@dataclass
class _Report:
    divergences: int
    problems: list[tuple[str, str, str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"Divergent transitions: {self.divergences} (stand-in)\n" + "\n".join(
            f"[{k}] {p}: {m}" for k, p, m, _ in self.problems)


class _Values:
    def __init__(self, values: np.ndarray) -> None:
        self.values = values


class _Scalar:
    def __init__(self, draws: np.ndarray) -> None:
        self.draws = draws


@dataclass
class _ICC:
    adjusted: _Scalar
    groups: dict[str, _Scalar]


def _summ(d: np.ndarray) -> dict[str, float]:
    q = np.quantile(d, [0.025, 0.975])
    return {"mean": d.mean(), "median": np.median(d), "sd": d.std(ddof=1), "2.5%": q[0], "97.5%": q[1]}


class _VarCorr:
    def __init__(self, rows: list[tuple[str, str | None, str | None, np.ndarray]], rhat: dict[tuple, float]) -> None:
        self.rows = rows
        self.rhat = rhat

    @property
    def draws(self) -> pd.DataFrame:
        return pd.DataFrame({":".join(x for x in (g, a, b) if x): d for g, a, b, d in self.rows})

    def as_frame(self) -> pd.DataFrame:
        out = []
        for g, a, b, d in self.rows:
            out.append({"grp": g, "var1": a, "var2": b, **_summ(d), "ess_bulk": 800.0,
                        "r_hat": self.rhat.get((g, a, b), 1.001)})
        return pd.DataFrame(out)


class _Ranef(dict):
    def __init__(self, frames: dict[str, pd.DataFrame], long: pd.DataFrame) -> None:
        super().__init__(frames)
        self._long = long

    def as_frame(self) -> pd.DataFrame:
        return self._long


class StandInBayesFit:
    """Test double of a BayesFit built around likelihood fit ``lfit`` (see the module docstring).

    shift : parameter name (lme4's: ``(Intercept)``, ``sd_Days|Subject``, ``cor_Days.(Intercept)|Subject``,
        ``sigma``) -> value to add to the centre of its draws.
    spread : the draws' SD as a multiple of the SE (fixed effects) or, for SDs, the SD of their log.
    sd_floor : SDs whose estimate is below this are drawn around this value instead (a posterior that keeps
        the SD away from zero, as a prior does).
    divergent : how many draws to mark divergent (the first ones).
    rhat : (grp, var1, var2) -> R-hat to report for that variance parameter.
    """

    method = "NUTS"

    def __init__(self, lfit: Any, shift: dict[str, float] | None = None, spread: float = 1.0, draws: int = 400,
                 chains: int = 2, random_seed: int = 0, sd_floor: float = 0.0, divergent: int = 0,
                 rhat: dict[tuple, float] | None = None) -> None:
        rng = np.random.default_rng(random_seed)
        shift = shift or {}
        self.model = lfit.model
        self.design = lfit.design
        self.formula = lfit.formula
        S = draws * chains
        self.S = S
        self.sampler_info = _Info(chains, draws)
        names = list(self.design.fixef_names)
        se = lfit.se.to_numpy(float)
        self.beta_draws = np.column_stack([
            lfit.beta[j] + shift.get(n, 0.0) + spread * se[j] * rng.standard_normal(S) for j, n in enumerate(names)])
        rows = []
        vc = lfit.varcorr
        labels = unique_names([t.group for t in vc.terms])
        for term, label in zip(vc.terms, labels, strict=True):
            sd = np.sqrt(np.diag(term.cov))
            cols = list(term.columns)
            for i, c in enumerate(cols):
                centre = max(sd[i], sd_floor) + shift.get(f"sd_{c}|{term.group}", 0.0)
                rows.append((label, c, None, centre * np.exp(0.25 * spread * rng.standard_normal(S))))
            for j in range(len(cols)):
                for i in range(j + 1, len(cols)):
                    r = term.cov[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else 0.0
                    r = r + shift.get(f"cor_{cols[i]}.{cols[j]}|{term.group}", 0.0)
                    rows.append((label, cols[j], cols[i],
                                 np.tanh(np.arctanh(np.clip(r, -0.99, 0.99)) + 0.3 * spread * rng.standard_normal(S))))
        sigma = getattr(lfit, "scale_sigma", None)
        if sigma is not None:
            rows.append(("Residual", None, None,
                         (sigma + shift.get("sigma", 0.0)) * np.exp(0.05 * spread * rng.standard_normal(S))))
        self.varcorr = _VarCorr(rows, rhat or {})
        icc = lfit.icc()
        self._icc = _ICC(_Scalar(np.clip(icc.adjusted + 0.05 * rng.standard_normal(S), 0, 1)),
                         {g: _Scalar(np.clip(r["icc"] + 0.05 * rng.standard_normal(S), 0, 1))
                          for g, r in icc.groups.iterrows()})
        # random effects: the conditional modes with their conditional SDs
        re = lfit.ranef()
        frames, parts = {}, []
        for g, frame in re.items():
            frames[g] = frame.copy()
            for c in frame.columns:
                m, s = frame[c].to_numpy(float), re.condsd[g][c].to_numpy(float)
                parts.append(pd.DataFrame({"grpvar": g, "term": c, "grp": frame.index.astype(str), "mean": m, "sd": s,
                                           "lower": m - 1.96 * s, "upper": m + 1.96 * s}))
        self._ranef = _Ranef(frames, pd.concat(parts, ignore_index=True))
        self._coef = {g: f.copy() for g, f in lfit.coef.items()}
        div = np.zeros((chains, draws), dtype=bool)
        div.ravel()[:divergent] = True
        self.idata = {"sample_stats": {"diverging": _Values(div)}}
        self._report = _Report(divergent, [("divergences", "the posterior", f"{divergent} divergent transitions",
                                            "raise target_accept")] if divergent else [])
        self._rhat = rhat or {}

    @property
    def fixef(self) -> pd.Series:
        return pd.Series(self.beta_draws.mean(axis=0), index=list(self.design.fixef_names))

    def fixef_summary(self) -> pd.DataFrame:
        rows = {n: {**_summ(self.beta_draws[:, j]), "ess_bulk": 900.0, "ess_tail": 800.0, "r_hat": 1.001,
                    "mcse": 0.01} for j, n in enumerate(self.design.fixef_names)}
        return pd.DataFrame(rows).T.drop(columns=["median"])

    def ranef(self) -> _Ranef:
        return self._ranef

    @property
    def coef(self) -> dict[str, pd.DataFrame]:
        return self._coef

    def icc(self) -> _ICC:
        return self._icc

    def diagnose(self) -> _Report:
        return self._report

    def summary(self) -> str:
        return f"Stand-in posterior of {self.formula} (test double)"
