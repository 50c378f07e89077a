"""Sampling diagnostics that are never silent: divergences, R-hat, bulk and tail ESS, tree depth, E-BFMI.

Thresholds (Vehtari et al. 2021; Stan's defaults): R-hat > 1.01, ESS < 100 per chain (bulk or tail), any
divergent transition after warm-up, any draw that hit the maximum tree depth, E-BFMI < 0.3 in a chain.  Each
problem becomes a typed :class:`~mixbayes.exceptions.SamplingWarning` naming the parameter and the remedy.
The checks cover the model's parameters: fixed effects, SDs, correlations, sigma and the dispersion (not the
individual random effects).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..exceptions import (
    DivergenceWarning,
    EnergyWarning,
    LowEssWarning,
    RhatWarning,
    SamplingWarning,
    TreeDepthWarning,
)
from ..warn import Notice, emit

__all__ = ["RHAT_MAX", "DiagnosticReport", "diagnose", "parameter_table"]

RHAT_MAX = 1.01
ESS_PER_CHAIN = 100
EBFMI_MIN = 0.3

_CATEGORY: dict[str, type[SamplingWarning]] = {
    "divergences": DivergenceWarning, "rhat": RhatWarning, "ess_bulk": LowEssWarning,
    "ess_tail": LowEssWarning, "treedepth": TreeDepthWarning, "ebfmi": EnergyWarning,
}


@dataclass(kw_only=True)
class DiagnosticReport:
    """The outcome of every check; ``str()`` prints it.

    Attributes
    ----------
    problems : each failed check as (kind, parameter, message, remedy); kinds are ``divergences``, ``rhat``,
        ``ess_bulk``, ``ess_tail``, ``treedepth`` and ``ebfmi``.
    divergences : number of divergent transitions after warm-up.
    max_rhat, min_ess_bulk, min_ess_tail : the worst values over the parameters.
    treedepth_hits : number of draws that reached ``max_treedepth``.
    ebfmi : E-BFMI per chain.
    table : the per-parameter summary (mean, sd, ess_bulk, ess_tail, r_hat, mcse).
    """

    problems: list[tuple[str, str, str, str]]
    divergences: int
    n_draws: int
    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    treedepth_hits: int
    max_treedepth: int
    ebfmi: np.ndarray
    table: pd.DataFrame = field(repr=False)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        lines = [
            f"Divergent transitions: {self.divergences} of {self.n_draws} draws",
            f"Max R-hat: {self.max_rhat:.4f} (threshold {RHAT_MAX})",
            f"Min bulk ESS: {self.min_ess_bulk:.0f}; min tail ESS: {self.min_ess_tail:.0f}",
            f"Draws at max tree depth ({self.max_treedepth}): {self.treedepth_hits}",
            "E-BFMI per chain: " + ", ".join(f"{v:.2f}" for v in self.ebfmi),
        ]
        if self.problems:
            lines.append("Problems:")
            lines += [f"  [{kind}] {param}: {msg}\n      remedy: {remedy}"
                      for kind, param, msg, remedy in self.problems]
        else:
            lines.append("All sampling diagnostics passed.")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        import html

        return f"<pre class='mixbayes'>{html.escape(str(self))}</pre>"

    def notices(self) -> list[Notice]:
        """The problems as typed warning records (:class:`~mixbayes.warn.Notice`), for the public layer to issue."""
        return [Notice(f"{param}: {msg}. Remedy: {remedy}.", _CATEGORY.get(kind, SamplingWarning))
                for kind, param, msg, remedy in self.problems]

    def emit(self) -> None:
        """Issue one typed warning per problem (attributed to the caller's line: :mod:`mixbayes.warn`)."""
        emit(self.notices())


def _labels(name: str, arr: np.ndarray, coords: list[str] | None) -> list[str]:
    if arr.ndim == 2:
        return [name]
    return [f"{name}[{c}]" for c in (coords or range(arr.shape[2]))]


def parameter_table(params: dict[str, tuple[np.ndarray, list[str] | None]]) -> pd.DataFrame:
    """Per scalar parameter: mean, sd, 2.5%, 97.5%, ess_bulk, ess_tail, r_hat, mcse (``(C, D)`` or ``(C, D, k)``
    arrays; diagnostics from arviz_stats)."""
    import arviz_stats as azs

    rows = []
    for name, (arr, coords) in params.items():
        a = arr if arr.ndim == 3 else arr[..., None]
        if a.shape[2] == 0:
            continue
        labels = _labels(name, arr, coords)
        ess_b = np.atleast_1d(azs.ess(a, method="bulk"))
        ess_t = np.atleast_1d(azs.ess(a, method="tail", prob=(0.05, 0.95)))
        rhat = np.atleast_1d(azs.rhat(a))
        mcse = np.atleast_1d(azs.mcse(a))
        flat = a.reshape(-1, a.shape[2])
        q = np.quantile(flat, [0.025, 0.975], axis=0)
        for i, lab in enumerate(labels):
            rows.append((lab, flat[:, i].mean(), flat[:, i].std(ddof=1), q[0, i], q[1, i], ess_b[i], ess_t[i],
                         rhat[i], mcse[i]))
    return pd.DataFrame(rows, columns=["parameter", "mean", "sd", "2.5%", "97.5%", "ess_bulk", "ess_tail", "r_hat",
                                       "mcse"]).set_index("parameter")


def _ebfmi(energy: np.ndarray) -> np.ndarray:
    e = np.asarray(energy, dtype=float)
    num = np.sum(np.diff(e, axis=1) ** 2, axis=1) / e.shape[1]
    den = np.var(e, axis=1)
    return np.divide(num, den, out=np.full(len(num), np.nan), where=den > 0)


def _divergence_culprit(params: dict[str, tuple[np.ndarray, list[str] | None]], div: np.ndarray) -> str | None:
    """The parameter whose divergent draws sit furthest from its posterior mean (in posterior SDs)."""
    best, where = None, 0.0
    d = div.ravel()
    if d.sum() == 0 or d.all():
        return None
    for name, (arr, coords) in params.items():
        a = arr if arr.ndim == 3 else arr[..., None]
        flat = a.reshape(-1, a.shape[2])
        sd = flat.std(axis=0)
        shift = np.abs(flat[d].mean(axis=0) - flat.mean(axis=0)) / np.where(sd > 0, sd, np.inf)
        for i, lab in enumerate(_labels(name, arr, coords)):
            if shift[i] > where:
                best, where = lab, float(shift[i])
    return best


def diagnose(params: dict[str, tuple[np.ndarray, list[str] | None]], stats: dict[str, np.ndarray],
             max_treedepth: int, mode: str, table: pd.DataFrame | None = None) -> DiagnosticReport:
    """Run every check on the parameters' draws and the sampler statistics.

    ``mode`` is the parameterisation (``block``/``schur``/``dense``: random effects integrated out;
    ``noncentred``), used to choose the remedies.
    """
    table = parameter_table(params) if table is None else table
    chains = next(iter(params.values()))[0].shape[0]
    div = np.asarray(stats.get("diverging", np.zeros((chains, 1), bool)), dtype=bool)
    n_div = int(div.sum())
    problems: list[tuple[str, str, str, str]] = []
    already = {"block": "integrated out", "schur": "integrated out", "dense": "integrated out",
               "partial": "integrated out (block factor) or non-centred (other factors)"}.get(mode, "non-centred")
    reparam = (f"the random effects are already {already}; simplify the random-effects structure (drop a slope, "
               "or make the term uncorrelated with ||) or use more informative priors on the SDs")
    if n_div:
        culprit = _divergence_culprit(params, div) or "the posterior"
        problems.append((
            "divergences", culprit,
            f"{n_div} divergent transition{'s' if n_div > 1 else ''} after warm-up ({n_div / div.size:.1%} of draws)"
            + (f"; they concentrate away from the posterior mean of {culprit}" if culprit != "the posterior" else ""),
            f"raise target_accept (e.g. target_accept=0.95); if they persist, {reparam}"))
    bad_rhat = table.index[table["r_hat"] > RHAT_MAX].tolist()
    if bad_rhat:
        worst = table.loc[bad_rhat, "r_hat"].idxmax()
        problems.append((
            "rhat", ", ".join(bad_rhat),
            f"R-hat above {RHAT_MAX} (worst {worst}: {table.loc[worst, 'r_hat']:.3f}): the chains disagree",
            "run longer chains (draws=, tune=); if that does not help, " + reparam))
    need = ESS_PER_CHAIN * chains
    for col, kind, what in (("ess_bulk", "ess_bulk", "bulk"), ("ess_tail", "ess_tail", "tail")):
        bad = table.index[table[col] < need].tolist()
        if bad:
            worst = table.loc[bad, col].idxmin()
            problems.append((
                kind, ", ".join(bad),
                f"{what} effective sample size below {need} ({ESS_PER_CHAIN} per chain; worst {worst}: "
                f"{table.loc[worst, col]:.0f}): {'means' if what == 'bulk' else 'intervals'} are unreliable",
                "run more draws (draws=); if the ESS stays low, " + reparam))
    depth = np.asarray(stats.get("tree_depth", np.zeros(1)))
    hits = int(np.sum(depth >= max_treedepth))
    if hits:
        problems.append((
            "treedepth", "the posterior",
            f"{hits} draw{'s' if hits > 1 else ''} reached the maximum tree depth {max_treedepth} (trajectories cut "
            "short: slow exploration)",
            f"raise max_treedepth (e.g. max_treedepth={max_treedepth + 2}); rescale predictors on very different "
            "scales; " + reparam))
    energy = stats.get("energy")
    ebfmi = _ebfmi(energy) if energy is not None else np.zeros(0)
    low = [i for i, v in enumerate(ebfmi) if np.isfinite(v) and v < EBFMI_MIN]
    if low:
        problems.append((
            "ebfmi", "the posterior",
            f"E-BFMI below {EBFMI_MIN} in chain{'s' if len(low) > 1 else ''} {', '.join(map(str, low))} "
            f"({', '.join(f'{ebfmi[i]:.2f}' for i in low)}): the momentum resampling explores the energy poorly "
            "(heavy tails or a funnel)", reparam))
    return DiagnosticReport(problems=problems, divergences=n_div, n_draws=int(div.size),
                            max_rhat=float(table["r_hat"].max()), min_ess_bulk=float(table["ess_bulk"].min()),
                            min_ess_tail=float(table["ess_tail"].min()), treedepth_hits=hits,
                            max_treedepth=max_treedepth, ebfmi=ebfmi, table=table)
