"""Posterior summaries that a :class:`~mixbayes.bayes.results.BayesFit` hands out: one scalar's draws, the
variance components, the random effects, the ICC, WAIC, and the record of how the draws were made."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..design.matrices import ModelMatrices
from ..results.ranef import FrameMapping
from ..results.varcorr import unique_names
from .output import pair_names, pair_values
from .posterior import ParameterDraws

__all__ = ["WAIC", "BayesICC", "BayesRandomEffects", "BayesVarCorr", "PosteriorScalar", "SamplerInfo"]


def _interval_names(prob: float) -> tuple[str, str]:
    lo = 100 * (1 - prob) / 2
    return f"{lo:g}%", f"{100 - lo:g}%"


class PosteriorScalar:
    """Draws of one scalar quantity.  ``float(x)`` is the posterior mean.

    Attributes
    ----------
    draws : the flattened draws (chains x draws).
    """

    def __init__(self, draws: np.ndarray, name: str = "") -> None:
        self.draws = np.asarray(draws, dtype=float).ravel()
        self.name = name

    @property
    def mean(self) -> float:
        return float(np.mean(self.draws))

    @property
    def median(self) -> float:
        return float(np.median(self.draws))

    @property
    def sd(self) -> float:
        return float(np.std(self.draws, ddof=1))

    def interval(self, prob: float = 0.95) -> tuple[float, float]:
        """Central (equal-tailed) credible interval."""
        lo, hi = np.quantile(self.draws, [(1 - prob) / 2, (1 + prob) / 2])
        return float(lo), float(hi)

    def summary(self, prob: float = 0.95) -> pd.Series:
        lo, hi = self.interval(prob)
        names = _interval_names(prob)
        return pd.Series({"mean": self.mean, "median": self.median, "sd": self.sd, names[0]: lo, names[1]: hi},
                         name=self.name)

    def __float__(self) -> float:
        return self.mean

    def __repr__(self) -> str:
        lo, hi = self.interval()
        return f"{self.name or 'posterior'}: mean {self.mean:.4g} (sd {self.sd:.3g}), 95% interval [{lo:.4g}, {hi:.4g}]"


@dataclass(kw_only=True)
class SamplerInfo:
    """How the posterior was sampled.

    timings : seconds per phase: ``build`` (PyMC model), ``compile`` (0 when the compiled sampler was reused),
        ``sample``, ``postprocess`` and ``total``.
    parameterisation : ``block``/``schur``/``dense`` (random effects integrated out, drawn afterwards from their
        exact conditional), ``partial`` (the block factor's integrated out, the others' sampled) or
        ``noncentred``; chosen by estimated cost per gradient (:mod:`mixbayes.bayes.forms`) unless
        ``marginalize=`` forced it.
    form_costs : the estimated cost per gradient evaluation (flop equivalents) of each form; inf where a form
        does not apply.
    centred : the grouping factors whose effects the ``partial`` form sampled centred (the others' non-centred).
    """

    sampler: str
    random_seed: int
    chains: int
    draws: int
    tune: int
    target_accept: float
    max_treedepth: int
    parameterisation: str
    reused: bool
    timings: dict[str, float] = field(default_factory=dict)
    form_costs: dict[str, float] = field(default_factory=dict)
    centred: tuple[str, ...] = ()

    @property
    def seed(self) -> int:
        """Deprecated spelling of :attr:`random_seed`."""
        from ..warn import warn_user

        warn_user("SamplerInfo.seed is deprecated; use SamplerInfo.random_seed", FutureWarning)
        return self.random_seed

    @property
    def parameterisation_text(self) -> str:
        """The parameterisation in words, with the estimated costs per gradient of the forms that apply."""
        how = {"block": "random effects integrated out (one grouping factor, block-diagonal)",
               "schur": "random effects integrated out through the blocked factor (block + dense Schur complement)",
               "dense": "random effects integrated out (dense factor)",
               "partial": "random effects of the block factor integrated out, the other factors' sampled",
               "noncentred": "non-centred random effects"}
        text = how.get(self.parameterisation, self.parameterisation)
        if self.parameterisation == "partial":
            text += f" ({', '.join(self.centred)} centred, any other non-centred)" if self.centred else \
                " (non-centred)"
        costs = [f"{k} {v:.3g}" for k, v in self.form_costs.items() if np.isfinite(v)]
        return text + (f" [estimated cost per gradient: {', '.join(costs)}]" if costs else "")

    def __str__(self) -> str:
        t = ", ".join(f"{k} {v:.2f} s" for k, v in self.timings.items())
        return (f"NUTS ({self.sampler}), {self.chains} chains x {self.draws} draws after {self.tune} warm-up steps, "
                f"target_accept {self.target_accept}, seed {self.random_seed}; {self.parameterisation_text}; "
                f"{'compiled sampler reused; ' if self.reused else ''}{t}")


# ---- variance components ------------------------------------------------------------------------------------------

class BayesVarCorr:
    """Posterior of the variance components, with the rows of lme4's ``as.data.frame(VarCorr(fit))``.

    ``as_frame()``: grp, var1, var2 and posterior mean, median, sd, interval, ess_bulk, r_hat of the SD (rows
    without var2) or correlation (rows with var2); the residual SD is the ``Residual`` row.  ``draws``: one column
    of draws per row (labels ``grp:var1`` or ``grp:var1:var2``).
    """

    def __init__(self, design: ModelMatrices, pd_: ParameterDraws, table: pd.DataFrame | None) -> None:
        self.rows: list[tuple[str, str | None, str | None, np.ndarray, str]] = []
        labels = unique_names([t.group for t in design.terms])
        for k, (t, g) in enumerate(zip(design.terms, labels, strict=True)):
            sd = pd_.flat(pd_.sd[k])
            for i, col in enumerate(t.columns):
                self.rows.append((g, col, None, sd[:, i], f"sd_{g}[{col}]"))
            if t.q > 1:
                pairs = pd_.flat(pair_values(pd_.corr(k)))
                names = pair_names(t.columns)
                idx = [(j, i) for j in range(t.q) for i in range(j + 1, t.q)]
                for m, (j, i) in enumerate(idx):
                    self.rows.append((g, t.columns[j], t.columns[i], pairs[:, m], f"cor_{g}[{names[m]}]"))
        if pd_.sigma is not None:
            self.rows.append(("Residual", None, None, pd_.flat(pd_.sigma), "sigma"))
        self._table = table
        self._design = design
        self._pd = pd_

    @property
    def draws(self) -> pd.DataFrame:
        cols = [":".join(x for x in (g, v1, v2) if x) for g, v1, v2, _, _ in self.rows]
        return pd.DataFrame(np.column_stack([r[3] for r in self.rows]), columns=cols)

    def covariance_draws(self, k: int) -> np.ndarray:
        """(S, q, q) covariance matrices of term k."""
        return self._pd.flat(self._pd.cov(k))

    def as_frame(self, prob: float = 0.95) -> pd.DataFrame:
        lo, hi = _interval_names(prob)
        out = []
        for g, v1, v2, d, label in self.rows:
            q = np.quantile(d, [(1 - prob) / 2, (1 + prob) / 2])
            ess = rhat = np.nan
            if self._table is not None and label in self._table.index:
                ess, rhat = self._table.loc[label, "ess_bulk"], self._table.loc[label, "r_hat"]
            out.append((g, v1, v2, d.mean(), np.median(d), d.std(ddof=1), q[0], q[1], ess, rhat))
        return pd.DataFrame(out, columns=["grp", "var1", "var2", "mean", "median", "sd", lo, hi, "ess_bulk",
                                          "r_hat"])

    def table(self, prob: float = 0.95) -> str:
        """lme4-style text: Groups, Name, and the posterior of each SD / correlation: its median (the centre used
        for variance parameters in every mixbayes table: compare, tidy), SD, interval, ESS and R-hat."""
        f = self.as_frame(prob)
        lo, hi = _interval_names(prob)
        lines = []
        header = ["Groups", "Name", "Median", "SD", lo, hi, "ESS", "R-hat"]
        rows = []
        last = None
        for r in f.itertuples(index=False):
            grp = r[0] if r[0] != last else ""
            last = r[0]
            var1 = "" if pd.isna(r[1]) else str(r[1])
            name = var1 if pd.isna(r[2]) else f"cor({var1}, {r[2]})"
            ess = "" if not np.isfinite(r[8]) else f"{r[8]:.0f}"
            rhat = "" if not np.isfinite(r[9]) else f"{r[9]:.3f}"
            rows.append([grp, name or "", f"{r[4]:.4g}", f"{r[5]:.3g}", f"{r[6]:.4g}", f"{r[7]:.4g}", ess, rhat])
        widths = [max(len(x[i]) for x in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            lines.append(" " + " ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(row)))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.table()


# ---- random effects ------------------------------------------------------------------------------------------------

class BayesRandomEffects(FrameMapping):
    """Posterior means of the random effects per grouping factor (levels x columns), as ``ranef`` gives the
    conditional modes; ``sd``, ``lower`` and ``upper`` hold the posterior SDs and interval bounds in the same shape,
    ``draws(group)`` the (S, levels, columns) draws."""

    def __init__(self, design: ModelMatrices, pd_: ParameterDraws, prob: float = 0.95) -> None:
        self.prob = prob
        self._frames: dict[str, pd.DataFrame] = {}
        self.sd: dict[str, pd.DataFrame] = {}
        self.lower: dict[str, pd.DataFrame] = {}
        self.upper: dict[str, pd.DataFrame] = {}
        self._draws: dict[str, np.ndarray] = {}
        for k, t in enumerate(design.terms):
            b = pd_.flat(pd_.b[k])  # (S, levels, q)
            index = pd.Index(t.levels, name=t.group)
            q = np.quantile(b, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
            parts = {"mean": b.mean(axis=0), "sd": b.std(axis=0, ddof=1), "lower": q[0], "upper": q[1]}
            frames = {key: pd.DataFrame(v, index=index, columns=list(t.columns)) for key, v in parts.items()}
            if t.group in self._frames:
                self._frames[t.group] = pd.concat([self._frames[t.group], frames["mean"]], axis=1)
                for key, store in (("sd", self.sd), ("lower", self.lower), ("upper", self.upper)):
                    store[t.group] = pd.concat([store[t.group], frames[key]], axis=1)
                self._draws[t.group] = np.concatenate([self._draws[t.group], b], axis=2)
            else:
                self._frames[t.group] = frames["mean"]
                self.sd[t.group], self.lower[t.group], self.upper[t.group] = (frames["sd"], frames["lower"],
                                                                              frames["upper"])
                self._draws[t.group] = b

    def draws(self, group: str) -> np.ndarray:
        """(S, levels, columns) draws of the grouping factor's random effects."""
        return self._draws[group]

    def as_frame(self) -> pd.DataFrame:
        """Long form: grpvar, term, grp, mean, sd, lower, upper."""
        parts = []
        for group, frame in self._frames.items():
            for j, col in enumerate(frame.columns):
                parts.append(pd.DataFrame({
                    "grpvar": group, "term": col, "grp": frame.index.astype(str),
                    "mean": frame.iloc[:, j].to_numpy(), "sd": self.sd[group].iloc[:, j].to_numpy(),
                    "lower": self.lower[group].iloc[:, j].to_numpy(), "upper": self.upper[group].iloc[:, j].to_numpy(),
                }))
        return pd.concat(parts, ignore_index=True)

    def __repr__(self) -> str:
        return "\n".join(f"${g}\n{f.to_string()}" for g, f in self._frames.items())


# ---- ICC -----------------------------------------------------------------------------------------------------------

@dataclass
class BayesICC:
    """The ICC (as :mod:`mixbayes.results.icc` defines it) per posterior draw.

    adjusted, unadjusted : :class:`PosteriorScalar`.
    groups : per grouping factor, a :class:`PosteriorScalar` of its share of the variance.
    """

    adjusted: PosteriorScalar
    unadjusted: PosteriorScalar
    groups: dict[str, PosteriorScalar]

    def summary(self, prob: float = 0.95) -> pd.DataFrame:
        rows = {"adjusted": self.adjusted.summary(prob), "unadjusted": self.unadjusted.summary(prob)}
        rows.update({f"icc[{g}]": v.summary(prob) for g, v in self.groups.items()})
        return pd.DataFrame(rows).T

    def __str__(self) -> str:
        return "Intraclass Correlation Coefficient (posterior)\n" + self.summary().round(3).to_string()

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return "<p><b>Intraclass Correlation Coefficient (posterior)</b></p>" + self.summary().to_html(
            float_format=lambda x: f"{x:.3f}")


@dataclass(kw_only=True)
class WAIC:
    """Widely applicable information criterion (Watanabe), computed from the pointwise log-likelihood.

    elpd_waic, se : expected log predictive density and its standard error; p_waic : effective number of
    parameters; waic = -2 elpd_waic; pointwise : per unit (observation, or level for a marginal fit);
    n_high_p : units with p_waic > 0.4 (WAIC unreliable there; prefer LOO).
    """

    elpd_waic: float
    se: float
    p_waic: float
    waic: float
    pointwise: np.ndarray
    n_high_p: int

    def __str__(self) -> str:
        return (f"WAIC: elpd_waic {self.elpd_waic:.2f} (se {self.se:.2f}), p_waic {self.p_waic:.2f}, "
                f"waic {self.waic:.2f}" + (f"; {self.n_high_p} units with p_waic > 0.4: prefer loo()"
                                            if self.n_high_p else ""))


# ---- the fit -------------------------------------------------------------------------------------------------------
