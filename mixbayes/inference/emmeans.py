"""Estimated marginal means and their contrasts, as R's ``emmeans`` (Lenth).

The reference grid crosses the levels of every factor of the fixed part with each numeric covariate at its mean
over the data used (or at the values of ``at=``).  A marginal mean of the ``specs`` factors is the equally
weighted average of the grid's rows for that combination (within each ``by`` group), l = mean of the grid rows of
X, so that emmean = l' beta and SE = sqrt(l' V l).

- :class:`~mixbayes.results.lmm.LmmFit`: V and df by Kenward-Roger (pbkrtest's ``vcovAdj`` and ``Lb_ddf``, as
  emmeans does for ``lmer`` by default; a REML fit is needed), or Satterthwaite (``ddf="satterthwaite"``,
  lmerTest's df with the unadjusted V), or ``"asymptotic"`` (z).
- :class:`~mixbayes.results.glmm.GlmmFit`: the Wald covariance, asymptotic (z) intervals and tests;
  ``type="response"`` back-transforms the means (SE by the delta method, the interval back-transformed from the
  link scale, as emmeans' ``type = "response"``); ``regrid=True`` moves the grid to the response scale first
  (emmeans' ``regrid``: symmetric intervals and contrasts of the response means).
- :class:`~mixbayes.bayes.results.BayesFit` (and MAP fits with draws): l' beta per posterior draw, summarised by
  the median, the SD and the HPD interval, as emmeans summarises Bayesian fits.

Pairwise contrasts (:meth:`EMMeans.pairs`) are adjusted within each ``by`` group: Tukey (studentized range,
``scipy.stats.studentized_range``), Holm, Bonferroni or none.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import ContrastError, NotSupportedError

__all__ = ["EMMeans", "emmeans", "reference_grid"]


def _fixed_variables(design: Any) -> list[str]:
    """Columns of the model frame that the fixed part (or an offset) uses."""
    f = design.formula
    text = " ".join([f.fixed_text(), *f.offsets])
    out = []
    for col in design.frame.columns:
        if col == design.response_name:
            continue
        if re.search(rf"(?<![\w.]){re.escape(str(col))}(?![\w.])", text):
            out.append(col)
    return out


def reference_grid(fit: Any, at: dict[str, Any] | None = None) -> pd.DataFrame:
    """The reference grid: every factor's levels crossed, numeric covariates at their means (or ``at=``)."""
    design = fit.design
    frame = design.frame.loc[design.row_index] if set(design.row_index) <= set(design.frame.index) else design.frame
    at = dict(at or {})
    values: dict[str, list[Any]] = {}
    for col in _fixed_variables(design):
        x = frame[col]
        if col in at:
            v = at.pop(col)
            values[col] = list(np.atleast_1d(np.asarray(v, dtype=object)))
        elif isinstance(x.dtype, pd.CategoricalDtype):
            present = set(x.dropna().unique())
            values[col] = [lv for lv in x.cat.categories if lv in present]
        elif x.dtype == bool or x.dtype == object:
            values[col] = sorted(x.dropna().unique().tolist())
        else:
            values[col] = [float(np.mean(x))]
    if at:
        raise ContrastError(f"at= names variable(s) {', '.join(at)} that the fixed part does not use; "
                            f"variables: {', '.join(values)}")
    cols = list(values)
    # the first variable varies fastest, as in emmeans' grid
    rows = [dict(zip(cols, combo[::-1], strict=True)) for combo in itertools.product(*[values[c] for c in cols[::-1]])]
    grid = pd.DataFrame(rows, columns=cols)
    for col in cols:
        x = frame[col]
        if isinstance(x.dtype, pd.CategoricalDtype):
            grid[col] = pd.Categorical(grid[col], categories=x.cat.categories, ordered=x.cat.ordered)
        elif col not in (at or {}) and pd.api.types.is_numeric_dtype(x):
            grid[col] = grid[col].astype(float)
    return grid


def _label(var: str, value: Any) -> str:
    s = f"{value:g}" if isinstance(value, float) else str(value)
    try:
        float(s)
    except ValueError:
        return s
    return f"{var}{s}"


def _hpd(draws: np.ndarray, prob: float) -> tuple[np.ndarray, np.ndarray]:
    x = np.sort(draws, axis=0)
    n = x.shape[0]
    k = max(int(np.floor(prob * n)), 1)
    widths = x[k:] - x[: n - k]
    i = np.argmin(widths, axis=0)
    cols = np.arange(x.shape[1])
    return x[i, cols], x[i + k, cols]


def _fit_kind(fit: Any) -> str:
    if hasattr(fit, "params") and hasattr(fit.params, "beta"):
        return "bayes"
    if hasattr(fit, "reml"):
        return "lmm"
    return "glmm"


@dataclass(kw_only=True)
class EMMeans:
    """Estimated marginal means (``table``) of a fit, with :meth:`pairs` for their pairwise contrasts.

    table : one row per mean: the ``specs`` and ``by`` variables, ``emmean`` (or ``response`` on the response
        scale), ``SE`` (posterior SD for Bayesian fits), ``df`` (inf for asymptotic), ``lower.CL``, ``upper.CL``.
    L : (rows, p) the linear functions of beta that give the means.
    """

    table: pd.DataFrame
    L: np.ndarray
    fit: Any
    specs: list[str]
    by: list[str]
    ddf: str
    type: str
    regrid: bool
    level: float

    def __str__(self) -> str:
        return self.table.to_string(index=False, float_format=lambda x: f"{x:.5g}")

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return self.table.to_html(index=False, float_format=lambda x: f"{x:.5g}")

    def to_markdown(self) -> str:
        """The means as a Markdown (pipe) table."""
        from ..tables import frame_markdown

        return frame_markdown(self.table, index=False, digits=5) + "\n"

    def to_latex(self) -> str:
        """The means as a LaTeX (booktabs) tabular."""
        from ..tables import frame_latex

        return frame_latex(self.table, index=False, digits=5) + "\n"

    def pairs(self, adjust: str = "tukey", reverse: bool = False) -> pd.DataFrame:
        """Pairwise differences of the means within each ``by`` group (emmeans' ``pairs``): ``contrast``,
        ``estimate``, ``SE``, ``df``, ``t.ratio`` (``z.ratio`` when asymptotic), ``p.value`` adjusted by
        ``adjust`` (``tukey``, ``holm``, ``bonferroni`` or ``none``) within the group."""
        adjust = adjust.lower()
        if adjust not in ("tukey", "holm", "bonferroni", "none"):
            raise NotSupportedError(f"unknown adjustment {adjust!r}: use 'tukey', 'holm', 'bonferroni' or 'none'")
        tab = self.table
        groups = [np.arange(len(tab))] if not self.by else [
            np.asarray(ix) for ix in tab.groupby(self.by, sort=False, observed=True).indices.values()]
        out = []
        for ix in groups:
            labels = [" ".join(_label(v, tab[v].iloc[i]) for v in self.specs) for i in ix]
            rows, names = [], []
            for a, b in itertools.combinations(range(len(ix)), 2):
                if reverse:
                    a, b = b, a
                c = np.zeros(len(tab))
                c[ix[a]], c[ix[b]] = 1.0, -1.0
                rows.append(c)
                names.append(f"{labels[a]} - {labels[b]}")
            if not rows:
                continue
            C = np.array(rows)
            est, se, df = _contrast_values(self, C)
            part = pd.DataFrame({"contrast": names})
            for v in self.by:
                part[v] = tab[v].iloc[ix[0]]
            part["estimate"] = est
            part["SE"] = se
            part["df"] = df
            if _fit_kind(self.fit) == "bayes":
                lo, hi = _hpd(_draws(self) @ C.T, self.level)
                part["lower.HPD"], part["upper.HPD"] = lo, hi
            else:
                t = est / se
                part["z.ratio" if np.all(np.isinf(df)) else "t.ratio"] = t
                part["p.value"] = _adjusted_p(t, df, adjust, len(ix))
            out.append(part)
        return pd.concat(out, ignore_index=True)


def _draws(emm: EMMeans) -> np.ndarray:
    """(S, rows) posterior draws of the means on the table's scale."""
    p = emm.fit.params
    eta = p.flat(p.beta) @ emm.L.T
    if emm.type == "response" or emm.regrid:
        eta = emm.fit.design.family.link.inverse(eta)
    return eta


def _contrast_values(emm: EMMeans, C: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fit = emm.fit
    kind = _fit_kind(fit)
    if kind == "bayes":
        d = _draws(emm) @ C.T
        return np.median(d, axis=0), d.std(axis=0, ddof=1), np.full(len(C), np.nan)
    if emm.regrid:
        eta = emm.L @ fit.beta
        J = fit.design.family.link.mu_eta(eta)
        V = (J[:, None] * (emm.L @ fit.vcov.to_numpy() @ emm.L.T)) * J[None, :]
        est = C @ fit.design.family.link.inverse(eta)
        return est, np.sqrt(np.einsum("ij,jk,ik->i", C, V, C)), np.full(len(C), np.inf)
    K = C @ emm.L
    est, se, df = _linear_values(fit, K, emm.ddf)
    return est, se, df


def _linear_values(fit: Any, K: np.ndarray, ddf: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    est = K @ fit.beta
    if ddf == "kenward-roger":
        from .kenward_roger import kr_t_df

        var, df = kr_t_df(fit, K)
    elif ddf == "satterthwaite":
        from .satterthwaite import satterthwaite_df

        var, df = satterthwaite_df(fit, K)
    else:
        var = np.einsum("ij,jk,ik->i", K, fit.vcov.to_numpy(), K)
        df = np.full(len(K), np.inf)
    return est, np.sqrt(var), np.asarray(df, dtype=float)


def _adjusted_p(t: np.ndarray, df: np.ndarray, adjust: str, n_means: int) -> np.ndarray:
    raw = 2.0 * stats.t.sf(np.abs(t), df)
    m = len(t)
    if adjust == "tukey":
        return np.array([float(stats.studentized_range.sf(abs(ti) * np.sqrt(2.0), n_means, di))
                         for ti, di in zip(t, df, strict=True)])
    if adjust == "bonferroni":
        return np.minimum(raw * m, 1.0)
    if adjust == "holm":
        order = np.argsort(raw)
        adj = np.maximum.accumulate((m - np.arange(m)) * raw[order])
        out = np.empty(m)
        out[order] = np.minimum(adj, 1.0)
        return out
    return raw


def emmeans(fit: Any, specs: str | list[str], by: str | list[str] | None = None, at: dict[str, Any] | None = None,
            type: str = "link", regrid: bool = False, ddf: str | None = None, level: float = 0.95) -> EMMeans:
    """Estimated marginal means of ``specs`` (emmeans' ``emmeans(fit, specs, by =, at =)``).

    Parameters
    ----------
    fit : an LmmFit, GlmmFit or BayesFit.
    specs : the factor(s) (or covariate given in ``at``) whose means are wanted.
    by : factor(s) within whose levels the means (and pairwise contrasts) are computed.
    at : values for grid variables, e.g. ``{"temp": 200}`` or ``{"Days": [0, 4.5, 9]}``.
    type : ``"link"`` (default) or ``"response"`` (back-transformed means, delta-method SE).
    regrid : put the grid on the response scale first (emmeans' ``regrid``; contrasts of response means).
    ddf : for an LmmFit, ``"kenward-roger"`` (default, as emmeans for lmer; an ML fit gets Satterthwaite, since
        Kenward-Roger needs REML), ``"satterthwaite"`` or ``"asymptotic"``; ignored otherwise.
    level : confidence (or HPD) level.

    Examples
    --------
    >>> import mixbayes as mb
    >>> fit = mb.lmer("angle ~ recipe * temperature + (1 | recipe:replicate)", mb.load_dataset("cake"))
    >>> emm = mb.emmeans(fit, "recipe")
    >>> emm.table["emmean"].round(4).tolist()
    [33.1222, 31.6444, 31.6]
    """
    specs_l = [specs] if isinstance(specs, str) else list(specs)
    by_l = [] if by is None else ([by] if isinstance(by, str) else list(by))
    if type not in ("link", "response"):
        raise NotSupportedError(f"type must be 'link' or 'response', not {type!r}")
    kind = _fit_kind(fit)
    if kind == "lmm":
        ddf = (ddf or "kenward-roger").lower().replace("_", "-")
        if ddf in ("kr", "kenward-roger") and not fit.reml:
            ddf = "satterthwaite"
        ddf = {"kr": "kenward-roger"}.get(ddf, ddf)
        if ddf not in ("kenward-roger", "satterthwaite", "asymptotic"):
            raise NotSupportedError(f"ddf must be 'kenward-roger', 'satterthwaite' or 'asymptotic', not {ddf!r}")
    else:
        ddf = "asymptotic"
    grid = reference_grid(fit, at)
    unknown = [v for v in specs_l + by_l if v not in grid.columns]
    if unknown:
        raise ContrastError(f"unknown variable(s) {', '.join(unknown)} in specs/by; grid variables: "
                            f"{', '.join(grid.columns)}")
    X = fit.design.fixed_matrix(grid)
    keys = by_l + specs_l
    idx = grid.groupby(keys, sort=False, observed=True).indices
    # order: by outer, specs with the first varying fastest (emmeans' order)
    levels = {k: list(pd.unique(grid[k])) for k in keys}

    def fastest_first(names: list[str]) -> list[tuple[Any, ...]]:
        return [c[::-1] for c in itertools.product(*[levels[k] for k in names[::-1]])]

    rows, L = [], []
    for by_values in fastest_first(by_l):
        for spec_values in fastest_first(specs_l):
            values = tuple(by_values) + tuple(spec_values)
            key = values if len(keys) > 1 else values[0]
            if key not in idx:
                continue
            L.append(X[idx[key]].mean(axis=0))
            rows.append(dict(zip(keys, values, strict=True)))
    Lm = np.array(L)
    table = pd.DataFrame(rows)[specs_l + by_l]
    emm = EMMeans(table=table, L=Lm, fit=fit, specs=specs_l, by=by_l, ddf=ddf, type=type, regrid=regrid, level=level)
    a = (1 - level) / 2
    name = "response" if (type == "response" or regrid) else "emmean"
    if kind == "bayes":
        d = _draws(emm)
        lo, hi = _hpd(d, level)
        table[name], table["SE"], table["df"] = np.median(d, axis=0), d.std(axis=0, ddof=1), np.nan
        table["lower.HPD"], table["upper.HPD"] = lo, hi
        return emm
    est, se, df = _linear_values(fit, Lm, ddf)
    q = stats.t.ppf(1 - a, df)
    lo, hi = est - q * se, est + q * se
    if type == "response" or regrid:
        link = fit.design.family.link
        se = se * np.abs(link.mu_eta(est))
        if regrid:
            est = link.inverse(est)
            lo, hi = est - q * se, est + q * se
        else:
            est, lo, hi = link.inverse(est), link.inverse(lo), link.inverse(hi)
            lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    table[name], table["SE"], table["df"] = est, se, df
    table["lower.CL"], table["upper.CL"] = lo, hi
    return emm
