"""``mb.compare``: one model fitted both ways, in one table.

Rows: the fixed effects, every SD and correlation of the random effects (lme4's names, as ``confint`` gives
them: ``sd_(Intercept)|Subject``, ``cor_Days.(Intercept)|Subject``), the residual SD ``sigma`` and the ICC.

Likelihood columns: the estimate, its standard error and a 95% interval -- Wald (estimate +- 1.96 SE) for the
fixed effects; for the variance parameters the likelihood-profile interval (lme4's ``confint(fit)``) when it can
be computed quickly, else none (lme4 gives no Wald interval for them).

Posterior columns: mean and SD, and the central 95% interval.  The "centre" compared is the posterior mean for
the fixed effects and the median for the variance parameters and the ICC, whose posteriors are skewed.

Flags (a row can have several):

- ``outside``: the likelihood estimate lies outside the 95% posterior interval;
- ``singular``: the likelihood fit puts an SD at zero (or a correlation at +-1) where the posterior keeps it away;
- ``shift``: the two centres differ by more than half a posterior SD and by more than 25% (relative; 0.25 in
  absolute value for correlations and the ICC);
- ``se``: a fixed effect's SE and posterior SD differ by more than a factor 1.5;
- ``r_hat``: the posterior of this parameter has not converged (R-hat > 1.01).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import ArgumentError, ModelMismatchError
from ..results.varcorr import unique_names
from . import _bayes
from .format import Displayed, TextTable, fmt, fmt_interval

__all__ = ["Comparison", "compare"]

COLUMNS = ["kind", "estimate", "se", "lower", "upper", "interval", "post_mean", "post_median", "post_sd",
           "post_lower", "post_upper", "r_hat", "ess_bulk", "flag"]
SECTIONS = {"fixed": "Fixed effects", "sd": "Random effects: standard deviations",
            "cor": "Random effects: correlations", "sigma": "Residual", "icc": "Intraclass correlation"}
PROFILE_MAX_OBS = 20_000
PROFILE_MAX_THETA = 6
SHIFT_SDS = 0.5
SHIFT_REL = 0.25
SE_RATIO = 1.5
RHAT_MAX = 1.01


@dataclass(repr=False)
class Comparison(Displayed):
    """The side-by-side table of :func:`compare`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per parameter (index: lme4's parameter names); columns ``kind`` (fixed, sd, cor, sigma, icc),
        ``estimate``, ``se``, ``lower``, ``upper``, ``interval`` (how the likelihood interval was obtained),
        ``post_mean``, ``post_median``, ``post_sd``, ``post_lower``, ``post_upper``, ``r_hat``, ``ess_bulk`` and
        ``flag`` (empty when the two fits agree).
    likelihood_method : str
        ``REML``, ``ML``, ``Laplace``...
    posterior_method : str or None
        Sampler, chains and draws (None without a Bayesian fit).
    formula : str
    notes : list of str
        What could not be computed, and why.
    """

    table: pd.DataFrame
    likelihood_method: str
    posterior_method: str | None
    formula: str
    notes: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> pd.DataFrame:
        """The rows where the two fits disagree materially."""
        return self.table[self.table["flag"] != ""]

    def _text_table(self) -> TextTable:
        has_post = self.posterior_method is not None
        header = ["parameter", "estimate", "SE", "95% CI", "method"]
        groups = [("", 1), (self.likelihood_method, 4)]
        if has_post:
            header += ["centre", "SD", "95% interval", "flag"]
            groups += [("posterior", 3), ("", 1)]
        right = [False, True, True, True, False] + ([True, True, True, False] if has_post else [])
        t = TextTable(header=header, groups=groups, right=right, css_class="mb-table mb-compare")
        last = None
        for name, r in self.table.iterrows():
            if r["kind"] != last:
                t.section(SECTIONS.get(r["kind"], r["kind"]))
                last = r["kind"]
            cells = [str(name), fmt(r["estimate"]), fmt(r["se"]), fmt_interval(r["lower"], r["upper"]),
                     r["interval"] if np.isfinite(r["lower"]) else ""]
            if has_post:
                centre = r["post_mean"] if r["kind"] == "fixed" else r["post_median"]
                cells += [fmt(centre), fmt(r["post_sd"]), fmt_interval(r["post_lower"], r["post_upper"]), r["flag"]]
            t.add(cells, "flagged" if r["flag"] else "")
        return t

    def _caption(self) -> str:
        lines = [f"Side by side: {self.formula}",
                 f"Likelihood: {self.likelihood_method}; fixed-effect intervals Wald, variance-parameter intervals "
                 f"{self._varpar_interval()}."]
        if self.posterior_method:
            lines.append(f"Posterior: {self.posterior_method}; centre = mean for fixed effects, median otherwise; "
                         "central 95% intervals.")
        return "\n".join(lines)

    def _varpar_interval(self) -> str:
        kinds = self.table.loc[self.table["kind"].isin(["sd", "cor", "sigma"]), "interval"]
        methods = sorted({m for m in kinds if m})
        return ", ".join(methods) if methods else "none"

    def _footer(self) -> list[str]:
        out = []
        n = len(self.flagged)
        if self.posterior_method:
            out.append(f"{n} row{'s' if n != 1 else ''} flagged (see the flag column)." if n else
                       "No row flagged: the two fits agree.")
        out += self.notes
        return out

    def to_text(self) -> str:
        """The table as fixed-width text (what ``print`` shows)."""
        return "\n".join([self._caption(), "", self._text_table().to_text(), "", *self._footer()]).rstrip()

    def to_markdown(self) -> str:
        """The table as a Markdown (pipe) table, with the caption above it."""
        cap = self._caption().replace("\n", "  \n")
        foot = "  \n".join(self._footer())
        return f"{cap}\n\n{self._text_table().to_markdown()}\n\n{foot}".rstrip() + "\n"

    def to_latex(self) -> str:
        """The table as LaTeX (a booktabs tabular with section rows), the caption and notes as paragraphs."""
        from ..tables import latex_escape

        cap = "\\\\\n".join(latex_escape(line) for line in self._caption().splitlines())
        foot = "\n\n".join(latex_escape(line) for line in self._footer())
        return f"{cap}\n\n{self._text_table().to_latex()}\n\n{foot}".rstrip() + "\n"

    def to_html(self) -> str:
        """The table as an HTML fragment (no styles of its own; the report's stylesheet styles it)."""
        import html

        cap = "<br>".join(html.escape(line) for line in self._caption().splitlines())
        foot = "".join(f"<p class='note'>{html.escape(line)}</p>" for line in self._footer())
        return f"<div class='mb-comparison'><p class='caption'>{cap}</p>{self._text_table().to_html()}{foot}</div>"


# ---- building the table -------------------------------------------------------------------------------------

def _split(a: Any, b: Any) -> tuple[Any, Any]:
    """(likelihood fit, Bayesian fit) whatever order they were given in."""
    if _bayes.is_bayes_fit(a) and (b is None or not _bayes.is_bayes_fit(b)):
        return b, a
    return a, b


def _empty_row(kind: str) -> dict[str, Any]:
    row: dict[str, Any] = {c: np.nan for c in COLUMNS}
    row.update(kind=kind, interval="", flag="")
    return row


def _profile_ok(fit: Any) -> bool:
    d = fit.design
    return hasattr(fit, "profile") and d.n_obs <= PROFILE_MAX_OBS and d.n_theta <= PROFILE_MAX_THETA


def likelihood_intervals(fit: Any, intervals: str = "auto", notes: list[str] | None = None) -> tuple[pd.DataFrame, str]:
    """95% intervals of the variance parameters (lme4's names), and how they were obtained.

    ``intervals``: ``"auto"`` (profile when the model is small enough to profile in seconds, else none),
    ``"profile"``, ``"boot"`` (parametric bootstrap, 500 replicates) or ``"none"``.
    """
    notes = [] if notes is None else notes
    key = (intervals or "none").lower()
    if key == "wald":
        key = "none"
    if key == "auto":
        key = "profile" if _profile_ok(fit) else "none"
        if key == "none" and hasattr(fit, "profile"):
            notes.append("Profile intervals of the variance parameters were skipped (large model); "
                         "pass intervals='profile' to compute them.")
        elif key == "none":
            notes.append(f"The variance parameters of a {getattr(fit, 'method', '')} fit have no likelihood interval "
                         "here (profiles are implemented for linear mixed models).")
    if key == "none" or not hasattr(fit, "confint"):
        if key != "none":
            notes.append(f"No {key} intervals for a {getattr(fit, 'method', '')} fit: variance parameters have "
                         "no likelihood interval here.")
        return pd.DataFrame(columns=["lower", "upper"], dtype=float), "none"
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if key == "boot":
                ci = fit.confint(method="boot", nsim=500, random_seed=1)
            else:
                ci = fit.confint(method="profile")
    except Exception as exc:  # reported in the notes: the comparison goes on without these intervals
        notes.append(f"The {key} intervals failed ({type(exc).__name__}: {exc}); variance parameters are shown "
                     "without a likelihood interval.")
        return pd.DataFrame(columns=["lower", "upper"], dtype=float), "none"
    out = pd.DataFrame({"lower": ci.iloc[:, 0].to_numpy(float), "upper": ci.iloc[:, 1].to_numpy(float)},
                       index=ci.index)
    out.attrs["seconds"] = time.perf_counter() - t0
    return out, key


def _likelihood_rows(fit: Any, intervals: str, notes: list[str]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    z = stats.norm.ppf(0.975)
    se = fit.se
    for name, est in fit.fixef.items():
        row = _empty_row("fixed")
        s = float(se[name])
        row.update(estimate=float(est), se=s, lower=est - z * s, upper=est + z * s, interval="Wald")
        rows[str(name)] = row
    ci, how = likelihood_intervals(fit, intervals, notes)
    vc = fit.varcorr
    labels = unique_names([t.group for t in vc.terms])
    for term, label in zip(vc.terms, labels, strict=True):
        cov = np.asarray(term.cov, dtype=float)
        sd = np.sqrt(np.clip(np.diag(cov), 0, None))
        cols = list(term.columns)
        for i, col in enumerate(cols):
            name = f"sd_{col}|{term.group}"
            row = _empty_row("sd")
            row.update(estimate=float(sd[i]), _key=(label, col, None))
            rows[_unique(rows, name)] = row
        for j in range(len(cols)):
            for i in range(j + 1, len(cols)):
                name = f"cor_{cols[i]}.{cols[j]}|{term.group}"
                row = _empty_row("cor")
                corr = cov[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else np.nan
                row.update(estimate=float(corr), _key=(label, cols[j], cols[i]))
                rows[_unique(rows, name)] = row
    sigma = getattr(fit, "scale_sigma", None)
    if sigma is not None:
        row = _empty_row("sigma")
        row.update(estimate=float(sigma), _key=("Residual", None, None))
        rows["sigma"] = row
    for name, row in rows.items():
        if row["kind"] != "fixed" and name in ci.index:
            row.update(lower=float(ci.loc[name, "lower"]), upper=float(ci.loc[name, "upper"]), interval=how)
    try:
        icc = fit.icc()
    except Exception as exc:  # the ICC needs e.g. a null-model fit for Poisson models; report, don't fail
        notes.append(f"ICC not available ({type(exc).__name__}: {exc}).")
        return rows
    row = _empty_row("icc")
    row.update(estimate=float(icc.adjusted), _key="adjusted")
    rows["ICC (adjusted)"] = row
    groups = getattr(icc, "groups", None)
    if groups is not None and len(groups) > 1:
        for g, r in groups.iterrows():
            row = _empty_row("icc")
            row.update(estimate=float(r["icc"]), _key=str(g))
            rows[f"ICC[{g}]"] = row
    return rows


def _unique(rows: dict[str, Any], name: str) -> str:
    out, k = name, 1
    while out in rows:
        out = f"{name}.{k}"
        k += 1
    return out


def _posterior_rows(bfit: Any, rows: dict[str, dict[str, Any]], notes: list[str]) -> None:
    fe = _bayes.fixef_posterior(bfit)
    for name, r in fe.iterrows():
        if name in rows:
            rows[name].update(post_mean=r["mean"], post_sd=r["sd"], post_median=r["median"], post_lower=r["lower"],
                              post_upper=r["upper"], r_hat=r["r_hat"], ess_bulk=r["ess_bulk"])
    vc = _bayes.varcorr_posterior(bfit)
    for row in rows.values():
        key = row.get("_key")
        if row["kind"] in ("sd", "cor", "sigma") and key in vc:
            p = vc[key]
            row.update(post_mean=p["mean"], post_median=p["median"], post_sd=p["sd"], post_lower=p["lower"],
                       post_upper=p["upper"], r_hat=p["r_hat"], ess_bulk=p["ess_bulk"])
    if any(r["kind"] == "icc" for r in rows.values()):
        try:
            draws = _bayes.icc_posterior(bfit)
        except Exception as exc:  # reported in the notes
            notes.append(f"Posterior ICC not available ({type(exc).__name__}: {exc}).")
            return
        for row in rows.values():
            if row["kind"] == "icc" and row.get("_key") in draws:
                d = draws[row["_key"]]
                d = d[np.isfinite(d)]
                if d.size:
                    lo, hi = np.quantile(d, [0.025, 0.975])
                    row.update(post_mean=float(d.mean()), post_median=float(np.median(d)),
                               post_sd=float(d.std(ddof=1)) if d.size > 1 else np.nan, post_lower=float(lo),
                               post_upper=float(hi))


def _flags(row: dict[str, Any], singular: bool) -> str:
    est, lo, hi = row["estimate"], row["post_lower"], row["post_upper"]
    if not (np.isfinite(est) and np.isfinite(lo) and np.isfinite(hi)):
        return ""
    kind = row["kind"]
    centre = row["post_mean"] if kind == "fixed" else row["post_median"]
    if not np.isfinite(centre):
        centre = row["post_mean"]
    flags = []
    boundary = False
    if kind == "sd" and singular:
        boundary = est <= 1e-4 * max(abs(centre), 1e-300) or est == 0.0
        if boundary and lo > 0.1 * centre:
            flags.append("singular: likelihood SD at zero, posterior away from zero")
    if kind == "cor" and abs(est) > 0.99:
        boundary = True
        if max(abs(lo), abs(hi)) < 0.99:
            flags.append(f"singular: likelihood correlation at {est:+.2f}, posterior away from it")
    if not boundary and not lo <= est <= hi:
        flags.append("outside: likelihood estimate outside the 95% posterior interval")
    psd = row["post_sd"]
    diff = abs(est - centre)
    absolute = kind in ("cor", "icc")
    big = diff > SHIFT_REL if absolute else diff > SHIFT_REL * max(abs(est), abs(centre))
    if not boundary and np.isfinite(psd) and diff > SHIFT_SDS * psd and big:
        flags.append(f"shift: centres differ by {diff / psd:.1f} posterior SDs")
    if kind == "fixed" and np.isfinite(row["se"]) and np.isfinite(psd) and psd > 0 and row["se"] > 0:
        ratio = psd / row["se"]
        if ratio > SE_RATIO or ratio < 1 / SE_RATIO:
            flags.append(f"se: posterior SD / SE = {ratio:.2f}")
    if np.isfinite(row["r_hat"]) and row["r_hat"] > RHAT_MAX:
        flags.append(f"r_hat: {row['r_hat']:.3f} > {RHAT_MAX}")
    return "; ".join(flags)


def _same_model(lfit: Any, bfit: Any) -> None:
    """Both sides of a comparison must be fits of one model: the same formula, family and response data."""
    lf, bf = getattr(lfit, "formula", None), getattr(bfit, "formula", None)
    if lf is not None and bf is not None and lf != bf:
        raise ModelMismatchError(f"the fits are of different models: {lf!r} and {bf!r}; fit and sample one Model")
    ld = getattr(getattr(lfit, "model", None), "design", None)
    bd = getattr(getattr(bfit, "model", None), "design", None)
    if ld is None or bd is None or ld is bd:
        return
    if str(ld.family) != str(bd.family):
        raise ModelMismatchError(f"the fits are of different families: {ld.family} and {bd.family}")
    if ld.y.shape != bd.y.shape or not np.array_equal(ld.y, bd.y):
        raise ModelMismatchError(f"the fits are of the same formula {lf!r} but different data ({len(ld.y)} and "
                                 f"{len(bd.y)} observations, or other responses); fit and sample one Model")


def compare(likelihood_fit: Any, bayes_fit: Any = None, intervals: str = "auto") -> Comparison:
    """One model fitted both ways, side by side.

    Parameters
    ----------
    likelihood_fit : LmmFit or GlmmFit
        The REML/ML (or Laplace) fit.
    bayes_fit : BayesFit, optional
        The posterior of the same model (``model.sample()``).  The two may be given in either order; without a
        Bayesian fit the table has the likelihood columns only.
    intervals : {"auto", "profile", "boot", "none"}
        Likelihood intervals for the variance parameters: ``auto`` profiles models small enough to profile in
        seconds (at most 20,000 observations and 6 covariance parameters) and shows none otherwise.

    Returns
    -------
    Comparison
        ``.table`` (DataFrame), ``.flagged``, ``to_text()``, ``to_markdown()``, ``to_html()``.

    Examples
    --------
    >>> import mixbayes as mb
    >>> model = mb.Model("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    >>> side = mb.compare(model.fit(), model.sample(random_seed=1))  # doctest: +SKIP
    >>> print(side)  # doctest: +SKIP
    """
    if hasattr(likelihood_fit, "likelihood_fit") and hasattr(likelihood_fit, "draws"):  # a TmbBayesFit first/alone
        likelihood_fit, bayes_fit = (bayes_fit if bayes_fit is not None else likelihood_fit.likelihood_fit,
                                     likelihood_fit)
    lfit, bfit = _split(likelihood_fit, bayes_fit)
    if hasattr(lfit, "fixef_zi"):  # a glmmTMB-family fit (and its TmbBayesFit from glmmTMB(method="bayes"))
        from .compare_tmb import tmb_comparison

        return tmb_comparison(lfit, bfit, _empty_row, Comparison, COLUMNS)
    if lfit is None or not hasattr(lfit, "varcorr") or _bayes.is_bayes_fit(lfit):
        raise ArgumentError("compare() needs a likelihood fit (model.fit()); got "
                        f"{type(likelihood_fit).__name__} and {type(bayes_fit).__name__}")
    if bfit is not None and not _bayes.is_bayes_fit(bfit):
        raise ArgumentError(f"the second fit must be a Bayesian fit (model.sample()), not {type(bfit).__name__}")
    if bfit is not None:
        _same_model(lfit, bfit)
    notes: list[str] = []
    rows = _likelihood_rows(lfit, intervals, notes)
    if bfit is not None:
        _posterior_rows(bfit, rows, notes)
        singular = bool(getattr(lfit, "is_singular", False))
        for row in rows.values():
            row["flag"] = _flags(row, singular)
    table = pd.DataFrame([{c: r[c] for c in COLUMNS} for r in rows.values()], index=pd.Index(list(rows),
                                                                                              name="parameter"))
    for col in COLUMNS:
        if col not in ("kind", "interval", "flag"):
            table[col] = table[col].astype(float)
    method = str(getattr(lfit, "method", "likelihood")) or "likelihood"
    return Comparison(table, method, _bayes.describe(bfit) if bfit is not None else None, lfit.formula, notes)
