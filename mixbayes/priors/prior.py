"""Prior specifications (:class:`Prior`), the default priors of a design and the :class:`PriorSet` that holds them.

Nothing here imports PyMC: a :class:`Prior` is a distribution name and its parameters, turned into a PyMC
distribution only when the model is built (:meth:`Prior.create`), or evaluated with SciPy for the MAP fit
(:meth:`Prior.logpdf`).

Default priors (see docs/priors.md for the rationale; rstanarm and brms are the reference points).  With
``s_y`` the SD of the response, ``s_x`` the SD of a predictor column, ``m_y`` its mean and ``g`` the link:

==========================  ====================================  ==========================================
parameter                   identity link (Gaussian)              other links (link scale)
==========================  ====================================  ==========================================
intercept (centred)         Normal(m_y, 2.5 s_y)                  Normal(g(m_y), 2.5)
slope of column x           Normal(0, 2.5 s_y / s_x)              Normal(0, 2.5 / s_x)
residual SD ``sigma``       HalfStudentT(3, s_y)                  (no residual SD)
SD of column x in a term    HalfStudentT(3, s_y / s_x)            HalfStudentT(3, 1 / s_x)
correlations of a term      LKJ(eta = 2)                          LKJ(eta = 2)
NB dispersion theta         --                                    InverseGamma(0.5, 0.5)
Gamma/inv. Gaussian sigma   --                                    HalfStudentT(3, s_y / m_y^k), k = 1, 1.5
==========================  ====================================  ==========================================

``s_x`` is 1 for intercept columns.  The intercept prior applies to the intercept of the *centred* predictors
(the expected response at the predictors' means), as in brms and rstanarm; results report the intercept on the
original scale.
"""

from __future__ import annotations

import difflib
import html
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ..design.matrices import ModelMatrices
from ..design.naming import unique_names
from ..exceptions import PriorError
from .checks import check_params

__all__ = ["LKJ_ETA", "Prior", "PriorEntry", "PriorError", "PriorSet", "default_priors"]

LKJ_ETA = 2.0
"""Default LKJ shape: eta = 2 puts a density proportional to (1 - rho^2) on a 2 x 2 correlation, pulling gently
towards 0 and away from the +-1 boundary (brms uses eta = 1, rstanarm's ``decov`` regularisation 1)."""

_SUPPORT: dict[str, str] = {
    # real line
    "Normal": "real", "StudentT": "real", "Cauchy": "real", "Laplace": "real", "Logistic": "real",
    "SkewNormal": "real", "Gumbel": "real",
    # positive
    "HalfNormal": "positive", "HalfStudentT": "positive", "HalfCauchy": "positive", "Exponential": "positive",
    "Gamma": "positive", "InverseGamma": "positive", "LogNormal": "positive", "Weibull": "positive",
    "ChiSquared": "positive",
    # bounded
    "Uniform": "interval", "Beta": "interval",
    # correlation matrices
    "LKJ": "correlation",
}


class Prior:
    """A prior distribution: a PyMC distribution name and its parameters.

    Parameters
    ----------
    distribution : str
        The name of a PyMC distribution (``"Normal"``, ``"HalfStudentT"``, ``"Exponential"``, ...), or ``"LKJ"``
        for the correlations of a random-effects term (parameter ``eta``).
    **params
        The distribution's parameters, with PyMC's names (``mu``, ``sigma``, ``nu``, ``lam``, ``alpha``...).

    Examples
    --------
    >>> import mixbayes as mb
    >>> mb.Prior("HalfStudentT", nu=3, sigma=10)
    Prior('HalfStudentT', nu=3, sigma=10)
    >>> str(mb.Prior("LKJ", eta=2))
    'LKJ(eta=2)'
    """

    __slots__ = ("distribution", "params")

    def __init__(self, distribution: str, **params: Any) -> None:
        if not isinstance(distribution, str) or not distribution.isidentifier():
            raise PriorError(f"a prior needs a PyMC distribution name such as 'Normal', not {distribution!r}")
        clean: dict[str, float | tuple[float, ...]] = {}
        for key, value in params.items():
            try:
                arr = np.asarray(value, dtype=float)
            except (TypeError, ValueError):
                raise PriorError(f"parameter {key}={value!r} of the {distribution} prior is not a number") from None
            if arr.size == 0 or not np.all(np.isfinite(arr)):
                raise PriorError(f"parameter {key}={value!r} of the {distribution} prior is not finite")
            clean[key] = float(arr) if arr.ndim == 0 else tuple(float(v) for v in arr.ravel())
        if distribution == "LKJ" and set(clean) - {"eta"}:
            raise PriorError(f"the LKJ prior takes one parameter, eta > 0 (eta = 1: uniform over correlations), not "
                             f"{', '.join(sorted(set(clean) - {'eta'}))}")
        if distribution == "LKJ" and np.any(np.asarray(clean.get("eta", 1.0)) <= 0):
            raise PriorError(f"parameter eta={_fmt(clean['eta'])} of the LKJ prior must be > 0")
        check_params(distribution, clean)
        object.__setattr__(self, "distribution", distribution)
        object.__setattr__(self, "params", clean)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Prior is immutable")

    # ---- identity ---------------------------------------------------------------------------------------
    def key(self) -> tuple[Any, ...]:
        """A hashable identity (distribution and parameters)."""
        return (self.distribution, tuple(sorted(self.params.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Prior) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __reduce__(self) -> tuple[Any, ...]:
        # immutable with __slots__: pickle rebuilds the prior through the constructor
        return (_make_prior, (self.distribution, dict(self.params)))

    def __repr__(self) -> str:
        args = "".join(f", {k}={_fmt(v)}" for k, v in self.params.items())
        return f"Prior({self.distribution!r}{args})"

    def __str__(self) -> str:
        return f"{self.distribution}({', '.join(f'{k}={_fmt(v)}' for k, v in self.params.items())})"

    @property
    def support(self) -> str:
        """``real``, ``positive``, ``interval``, ``correlation`` or ``unknown`` (a PyMC name not listed here)."""
        if self.distribution == "Uniform" and self.params.get("lower", 0.0) >= 0.0:
            return "positive"
        return _SUPPORT.get(self.distribution, "unknown")

    # ---- PyMC ---------------------------------------------------------------------------------------------
    def _pymc_class(self) -> Any:
        import pymc as pm

        cls = getattr(pm, self.distribution, None)
        if cls is None or not hasattr(cls, "dist"):
            raise PriorError(f"{self.distribution!r} is not a PyMC distribution")
        return cls

    def create(self, name: str, size: int | None = None, **kwargs: Any) -> Any:
        """Register the prior as a free random variable ``name`` in the current PyMC model context."""
        if self.distribution == "LKJ":
            raise PriorError("an LKJ prior can only be given to the correlations of a random-effects term")
        cls = self._pymc_class()
        try:
            return cls(name, **self.params, **({"shape": size} if size is not None else {}), **kwargs)
        except TypeError as exc:
            raise PriorError(f"the prior {self} cannot be built: {exc}") from None

    def typical_value(self) -> float:
        """A central value of the distribution (used to start the sampler): the location of real-valued priors,
        the scale of positive ones."""
        p = self.params
        d = self.distribution

        def g(key: str, default: float) -> float:
            v = p.get(key, default)
            return float(v[0]) if isinstance(v, tuple) else float(v)

        if self.support == "real":
            return g("mu", g("alpha", 0.0)) if d != "Cauchy" else g("alpha", 0.0)
        if d in ("HalfStudentT", "HalfNormal"):
            return g("sigma", 1.0)
        if d == "HalfCauchy":
            return g("beta", 1.0)
        if d == "Exponential":
            return g("scale", 1.0 / g("lam", 1.0))
        if d == "Gamma":
            return g("alpha", 1.0) / g("beta", 1.0) if "alpha" in p else g("mu", 1.0)
        if d == "InverseGamma":
            return g("beta", 1.0) / (g("alpha", 1.0) + 1.0)
        if d == "LogNormal":
            return float(np.exp(g("mu", 0.0)))
        if d == "Uniform":
            return 0.5 * (g("lower", 0.0) + g("upper", 1.0))
        return 1.0

    # ---- SciPy (MAP fit) ------------------------------------------------------------------------------------
    def logpdf(self, x: np.ndarray | float) -> np.ndarray:
        """The log density at ``x`` (SciPy), for the distributions the MAP fit supports."""
        from scipy import stats

        p = self.params
        x = np.asarray(x, dtype=float)
        d = self.distribution
        if d == "HalfStudentT":
            return np.log(2.0) + stats.t.logpdf(x, p.get("nu", 1.0), scale=p.get("sigma", 1.0))
        if d == "HalfNormal":
            return stats.halfnorm.logpdf(x, scale=p.get("sigma", 1.0))
        if d == "HalfCauchy":
            return stats.halfcauchy.logpdf(x, scale=p.get("beta", 1.0))
        if d == "Exponential":
            scale = p["scale"] if "scale" in p else 1.0 / p.get("lam", 1.0)
            return stats.expon.logpdf(x, scale=scale)
        if d == "Gamma" and "alpha" in p:
            return stats.gamma.logpdf(x, p["alpha"], scale=1.0 / p.get("beta", 1.0))
        if d == "InverseGamma":
            return stats.invgamma.logpdf(x, p.get("alpha", 1.0), scale=p.get("beta", 1.0))
        if d == "LogNormal":
            return stats.lognorm.logpdf(x, p.get("sigma", 1.0), scale=np.exp(p.get("mu", 0.0)))
        if d == "Uniform":
            lo, hi = p.get("lower", 0.0), p.get("upper", 1.0)
            return stats.uniform.logpdf(x, lo, hi - lo)
        if d == "Normal":
            return stats.norm.logpdf(x, p.get("mu", 0.0), p.get("sigma", 1.0))
        if d == "StudentT":
            return stats.t.logpdf(x, p.get("nu", 1.0), p.get("mu", 0.0), p.get("sigma", 1.0))
        if d == "Cauchy":
            return stats.cauchy.logpdf(x, p.get("alpha", 0.0), p.get("beta", 1.0))
        from ..exceptions import NotSupportedError

        raise NotSupportedError(f"the MAP fit cannot evaluate a {self} prior; use HalfStudentT, HalfNormal, "
                                "HalfCauchy, Exponential, Gamma(alpha, beta), InverseGamma, LogNormal or Uniform")


def _make_prior(distribution: str, params: dict[str, Any]) -> Prior:
    """Rebuild a pickled :class:`Prior`."""
    return Prior(distribution, **params)


def _fmt(v: float | tuple[float, ...]) -> str:
    if isinstance(v, tuple):
        return "[" + ", ".join(f"{x:.4g}" for x in v) + "]"
    return f"{v:.4g}"


@dataclass(frozen=True)
class PriorEntry:
    """One prior of a model.

    name : the override key (``"(Intercept)"``, ``"Days"``, ``"sigma"``, ``"sd_Subject[Days]"``,
        ``"cor_Subject"``, ``"dispersion"``).
    prior : the :class:`Prior`.
    kind : ``fixef``, ``sigma``, ``sd``, ``cor`` or ``dispersion``.
    target : what the parameter is, in words.
    rationale : why this default (``"user"`` for an override).
    term : index of the random-effects term (SDs and correlations), else None.
    column : the fixed-effect or random-effect column, else None.
    """

    name: str
    prior: Prior
    kind: str
    target: str
    rationale: str
    term: int | None = None
    column: str | None = None


class PriorSet(Mapping[str, Prior]):
    """The priors of a model, by name.  ``print(model.priors)`` shows them; ``as_frame()`` gives a DataFrame.

    Overrides go by name (see :meth:`with_overrides`): an entry's own name, ``"sd_<group>"`` for every SD of a
    grouping factor, ``"sd"`` for all SDs, ``"fixef"`` for every coefficient but the intercept, and
    ``"Intercept"`` as an alias of ``"(Intercept)"``.
    """

    def __init__(self, entries: tuple[PriorEntry, ...]) -> None:
        self.entries = tuple(entries)
        self._by_name = {e.name: e for e in self.entries}

    def __getitem__(self, name: str) -> Prior:
        return self._by_name[name].prior

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def entry(self, name: str) -> PriorEntry:
        return self._by_name[name]

    def key(self) -> tuple[Any, ...]:
        """Hashable identity of all priors (used to cache compiled models)."""
        return tuple((e.name, e.prior.key()) for e in self.entries)

    def _targets(self, name: str) -> list[str]:
        if name in self._by_name:
            return [name]
        if name == "Intercept" and "(Intercept)" in self._by_name:
            return ["(Intercept)"]
        if name == "fixef":
            return [e.name for e in self.entries if e.kind == "fixef" and e.name != "(Intercept)"]
        if name == "sd":
            return [e.name for e in self.entries if e.kind == "sd"]
        if name == "cor":
            return [e.name for e in self.entries if e.kind == "cor"]
        if name.startswith("sd_"):
            hits = [e.name for e in self.entries if e.kind == "sd" and e.name.startswith(name + "[")]
            if hits:
                return hits
        return []

    def with_overrides(self, overrides: Mapping[str, Prior] | None) -> PriorSet:
        """A new set with some priors replaced.

        Raises
        ------
        PriorError
            For a name that matches no parameter (with suggestions), a value that is not a :class:`Prior`, or a
            prior whose support does not fit the parameter (e.g. a Normal prior on an SD).
        """
        if not overrides:
            return self
        entries = list(self.entries)
        index = {e.name: i for i, e in enumerate(entries)}
        for name, prior in overrides.items():
            if not isinstance(prior, Prior):
                raise PriorError(f"the prior for {name!r} must be a mixbayes.Prior, e.g. "
                                 f"mb.Prior('Normal', mu=0, sigma=1); got {type(prior).__name__}")
            targets = self._targets(name)
            if not targets:
                names = [*self._by_name, "fixef", "sd", "cor",
                         *sorted({e.name.split("[")[0] for e in self.entries if e.kind == "sd"})]
                close = difflib.get_close_matches(name, names, n=3, cutoff=0.4)
                hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
                raise PriorError(f"no parameter is called {name!r}.{hint} The priors are: {', '.join(self)}")
            for target in targets:
                entry = entries[index[target]]
                _check_support(entry, prior)
                entries[index[target]] = replace(entry, prior=prior, rationale="user")
        return PriorSet(tuple(entries))

    # ---- display --------------------------------------------------------------------------------------------
    def as_frame(self) -> pd.DataFrame:
        """One row per prior: name, prior, applies_to, rationale."""
        return pd.DataFrame({
            "name": [e.name for e in self.entries],
            "prior": [str(e.prior) for e in self.entries],
            "applies_to": [e.target for e in self.entries],
            "rationale": [e.rationale for e in self.entries],
        })

    def __str__(self) -> str:
        frame = self.as_frame()
        w = [max(len(c), *(len(str(v)) for v in frame[c])) for c in ("name", "prior", "applies_to")]
        lines = ["Priors (override by name: model.sample(priors={name: mb.Prior(...)})):",
                 f"  {'name'.ljust(w[0])}  {'prior'.ljust(w[1])}  {'applies to'.ljust(w[2])}  rationale"]
        for row in frame.itertuples(index=False):
            lines.append(f"  {row.name.ljust(w[0])}  {row.prior.ljust(w[1])}  {row.applies_to.ljust(w[2])}  "
                         f"{row.rationale}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(e.name)}</code></td><td>{html.escape(str(e.prior))}</td>"
            f"<td>{html.escape(e.target)}</td><td>{html.escape(e.rationale)}</td></tr>" for e in self.entries)
        return ("<table class='mixbayes-priors'><thead><tr><th>name</th><th>prior</th><th>applies to</th>"
                f"<th>rationale</th></tr></thead><tbody>{rows}</tbody></table>")


def _check_support(entry: PriorEntry, prior: Prior) -> None:
    support = prior.support
    if entry.kind == "cor":
        if support != "correlation":
            raise PriorError(f"{entry.name} is a correlation matrix: give it an LKJ prior, mb.Prior('LKJ', eta=2)")
        return
    if support == "correlation":
        raise PriorError(f"an LKJ prior only fits the correlations of a term, not {entry.name}")
    if entry.kind in ("sigma", "sd", "dispersion") and support not in ("positive", "unknown"):
        raise PriorError(f"{entry.name} is positive: give it a prior on (0, inf) such as HalfStudentT, HalfNormal, "
                         f"Exponential or Gamma, not {prior}")


# ---- defaults --------------------------------------------------------------------------------------------------

def column_sd(x: np.ndarray) -> float:
    """Sample SD (ddof 1) of a column; 0 when it is undefined, not finite or zero."""
    s = float(np.std(x, ddof=1)) if len(x) > 1 else 0.0
    return s if np.isfinite(s) and s > 0 else 0.0


def intercept_index(design: ModelMatrices) -> int | None:
    """Position of the intercept column (all ones) among the fixed effects, or None."""
    for j, name in enumerate(design.fixef_names):
        if name == "(Intercept)" and np.all(design.X[:, j] == 1.0):
            return j
    return None


def term_labels(design: ModelMatrices) -> list[str]:
    """lme4's unique names of the terms' grouping factors (``Subject``, ``Subject.1``...)."""
    return unique_names([t.group for t in design.terms])


def sd_entry_names(design: ModelMatrices) -> list[list[str]]:
    """Per term, the override names of its SDs: ``sd_<group>[<column>]`` (``sd_<label>[...]`` on clashes)."""
    labels = term_labels(design)
    plain = [[f"sd_{t.group}[{c}]" for c in t.columns] for t in design.terms]
    flat = [n for names in plain for n in names]
    out = []
    for t, label, names in zip(design.terms, labels, plain, strict=True):
        if any(flat.count(n) > 1 for n in names):
            names = [f"sd_{label}[{c}]" for c in t.columns]
        out.append(names)
    return out


def response_scale(design: ModelMatrices) -> tuple[bool, float, float]:
    """(identity link, location, scale) of the response used to scale the default priors."""
    fam = design.family
    y = design.y
    if fam.is_lmm:
        sy = column_sd(y)
        return True, float(np.mean(y)), sy if sy > 0 else 1.0
    if fam.has_trials:
        w = design.weights
        m = float(np.sum(w * y) / np.sum(w)) if np.sum(w) > 0 else 0.5
        m = min(max(m, 0.01), 0.99)
    else:
        m = float(max(np.mean(y), 0.01)) if fam.link.positive_mean else float(np.mean(y))
    with np.errstate(all="ignore"):
        loc = float(fam.link.link(np.array([m]))[0])
    return False, loc if np.isfinite(loc) else 0.0, 1.0


def default_priors(design: ModelMatrices) -> PriorSet:
    """The default priors of a design (see the module notes and docs/priors.md)."""
    identity, loc, sy = response_scale(design)
    scale_txt = "2.5 sd(y)" if identity else "2.5 on the link scale"
    entries: list[PriorEntry] = []
    icpt = intercept_index(design)
    X = design.X
    for j, name in enumerate(design.fixef_names):
        if j == icpt:
            entries.append(PriorEntry(
                name, Prior("Normal", mu=loc, sigma=2.5 * sy), "fixef",
                "intercept at the predictors' means (centred)",
                f"centred at {'mean(y)' if identity else 'link(mean(y))'}, sd {scale_txt} (rstanarm/brms)",
                column=name))
            continue
        sx = column_sd(X[:, j] - (X[:, j].mean() if icpt is not None else 0.0)) or 1.0
        entries.append(PriorEntry(
            name, Prior("Normal", mu=0.0, sigma=2.5 * sy / sx), "fixef", f"fixed effect {name}",
            f"{'2.5 sd(y)' if identity else '2.5'} / sd({name}): weakly informative per unit of x (rstanarm)",
            column=name))
    if design.family.positive_response:
        # sigma = sqrt(phi): the coefficient of variation sd/mu (Gamma) or sd/mu^1.5 (inverse Gaussian)
        cv, unit = design.family.sigma_prior_scale(design.y)
        entries.append(PriorEntry(
            "sigma", Prior("HalfStudentT", nu=3.0, sigma=cv), "sigma",
            f"sqrt(dispersion) of the {design.family.name} response (glmmTMB's sigma)",
            f"half-t(3) scaled to {unit}, the marginal value of sqrt(phi): the conditional one is smaller"))
    elif design.family.has_scale:
        s_resid = sy if identity else (column_sd(design.y) or 1.0)
        entries.append(PriorEntry(
            "sigma", Prior("HalfStudentT", nu=3.0, sigma=s_resid), "sigma", "residual SD",
            "half-t(3) scaled to sd(y): heavy tail, mode at 0 (brms uses t(3, 0, mad(y)))"))
    for k, (t, names) in enumerate(zip(design.terms, sd_entry_names(design), strict=True)):
        for c, (col, name) in enumerate(zip(t.columns, names, strict=True)):
            sx = column_sd(t.z[:, c]) if col != "(Intercept)" else 1.0
            sx = sx or 1.0
            unit = f"{'sd(y)' if identity else '1'}" + (f" / sd({col})" if col != "(Intercept)" else "")
            entries.append(PriorEntry(
                name, Prior("HalfStudentT", nu=3.0, sigma=sy / sx), "sd", f"SD of {col} over {t.group} ({t.expr})",
                f"half-t(3) scaled to {unit}: allows SDs near 0 and large ones (brms-like)", term=k, column=col))
    labels = term_labels(design)
    for k, t in enumerate(design.terms):
        if t.q > 1:
            entries.append(PriorEntry(
                f"cor_{labels[k]}", Prior("LKJ", eta=LKJ_ETA), "cor", f"correlations of {t.expr}",
                "LKJ(2): density (1 - rho^2) for two columns, away from +-1 (regularises like rstanarm's decov)",
                term=k))
    if design.family.estimates_dispersion:
        entries.append(PriorEntry(
            "dispersion", Prior("InverseGamma", alpha=0.5, beta=0.5), "dispersion",
            "NB2 dispersion theta (variance mu + mu^2 / theta)",
            "InverseGamma(0.5, 0.5) = half-normal(0, 1) on 1/sqrt(theta): the Poisson limit stays plausible "
            "(Stan prior recommendations)"))
    return PriorSet(tuple(entries))
