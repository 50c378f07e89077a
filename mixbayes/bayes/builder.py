"""The PyMC model of a design: :func:`build_model` returns a :class:`BuiltModel`.

Parameterisation
----------------
* Fixed effects: the non-intercept columns of X are centred internally (as brms and rstanarm do), so the
  sampled intercept is the expected response at the predictors' means; results convert it back to the
  original scale (intercept = centred intercept - sum(mean_j beta_j)).
* Random effects of term k: SDs ``sd`` (one prior per column), a correlation Cholesky factor with an LKJ prior
  for terms with several columns (``(x | g)``; ``(x || g)`` is split into independent scalar terms by the
  formula front end), so that Cov(b) = diag(sd) R diag(sd) = L L' with L = diag(sd) chol(R).
* Gaussian models with the identity link: the random effects are integrated out
  (:mod:`mixbayes.bayes.marginal`) and drawn afterwards from their exact conditional distribution.
* ``partial`` form: the effects of the block factor (the grouping factor with the most levels and at most
  :data:`~mixbayes.bayes.marginal.BLOCK_MAX_Q` columns) integrated out in the block form (with the terms in
  ``schur`` through a dense Schur complement), those of the other factors sampled: centred (``b__<label>``; the
  one with the fewest levels holding b + the intercept) or non-centred (``z__<label>``); the integrated-out
  effects are drawn afterwards from their exact conditional distribution given the sampled ones.
* Otherwise (or with ``marginalize=False``): non-centred, b = z L' with z ~ N(0, 1), gathered by index:
  eta += sum_c z_ic b[codes_i, c].

Names of the free variables: ``fixef_c`` (the centred coefficients; one variable per coefficient, named
``fixef_c[<name>]``, when the priors differ in family), ``sigma``, ``dispersion``, ``sd__<label>``,
``cor__<label>``, ``z__<label>`` (non-centred effects) and ``b__<label>`` (centred effects, partial form) with
``<label>`` lme4's unique name of the term's grouping factor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..design.matrices import ModelMatrices
from ..priors.prior import Prior, PriorError, PriorSet, intercept_index, sd_entry_names, term_labels
from .marginal import BLOCK_MAX_Q, BlockMarginal, DenseMarginal
from .schur import SchurMarginal, block_factor

INTERCEPT = "(Intercept)"

__all__ = ["BuiltModel", "TermSpec", "VectorParam", "build_model", "choose_mode"]


@dataclass(frozen=True)
class VectorParam:
    """A vector assembled from free variables: ``parts`` are (variable name, positions, is_scalar)."""

    size: int
    parts: tuple[tuple[str, tuple[int, ...], bool], ...]

    def assemble(self, draws: Mapping[str, np.ndarray]) -> np.ndarray:
        """(..., size) array from the variables' draws (leading sample dimensions kept)."""
        first = draws[self.parts[0][0]]
        lead = first.shape[:-1] if not self.parts[0][2] else first.shape
        out = np.empty((*lead, self.size))
        for name, pos, scalar in self.parts:
            value = np.asarray(draws[name])
            out[..., list(pos)] = value[..., None] if scalar else value
        return out

    @property
    def names(self) -> list[str]:
        return [p[0] for p in self.parts]


@dataclass(frozen=True)
class TermSpec:
    """How term k is parameterised."""

    index: int
    label: str
    group: str
    columns: tuple[str, ...]
    levels: tuple[str, ...]
    sd: VectorParam
    cor: str | None
    z: str | None
    centred: bool = False  # the variable ``z`` holds the effects b themselves (b ~ N(0, Sigma)), not z (b = z L')
    shift: int | None = None  # centred: the column holding b + the fixed intercept (hierarchical centring)


@dataclass
class BuiltModel:
    """A PyMC model and what the post-processing needs to interpret its draws.

    Attributes
    ----------
    pm_model : the ``pymc.Model``.
    mode : ``"block"``, ``"schur"``, ``"dense"`` (Gaussian random effects integrated out), ``"partial"`` (one
        factor's integrated out, the others' sampled) or ``"noncentred"`` (:mod:`mixbayes.bayes.forms`).
    fixef : the centred coefficients; ``x_means`` the column means subtracted (0 for the intercept), ``icpt`` the
        intercept's position (None without one).
    sigma, dispersion : variable names, or None.
    terms : one :class:`TermSpec` per random-effects term.
    rows : boolean mask of the observations in the likelihood (zero-weight rows are left out).
    observed : the observed values (the response, or binomial successes) of those rows.
    data_name : name of the ``pm.Data`` container holding them (swapped by simulation-based calibration).
    marginal : the :class:`~mixbayes.bayes.marginal.BlockMarginal` / ``DenseMarginal`` /
        :class:`~mixbayes.bayes.schur.SchurMarginal` helper, or None.
    free_names : the free variables (constrained), in the model's order.
    priors : the :class:`~mixbayes.priors.PriorSet` used.
    likelihood_weights : prior weights applied as powers of the likelihood (non-Gaussian families), or None.
    form_costs : the estimated cost per gradient of each form (:func:`mixbayes.bayes.forms.form_costs`).
    """

    pm_model: Any
    mode: str
    fixef: VectorParam
    x_means: np.ndarray
    icpt: int | None
    sigma: str | None
    dispersion: str | None
    terms: list[TermSpec]
    rows: np.ndarray
    observed: np.ndarray
    data_name: str
    marginal: BlockMarginal | DenseMarginal | SchurMarginal | None
    free_names: list[str]
    priors: PriorSet
    likelihood_weights: np.ndarray | None = None
    start: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    scales: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # posterior SD guesses (unconstrained)
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    form_costs: dict[str, float] = field(default_factory=dict)
    from_blocks: bool = False  # out-of-core data: ``observed`` holds the response cross-products, ``rows`` is empty

    @property
    def parameter_names(self) -> list[str]:
        """The free variables other than sampled random effects (``z__``/``b__`` variables)."""
        effects = {spec.z for spec in self.terms if spec.z}
        return [n for n in self.free_names if n not in effects]

    @property
    def centred_groups(self) -> tuple[str, ...]:
        """The grouping factors whose effects are sampled centred (partial form)."""
        return tuple(dict.fromkeys(spec.group for spec in self.terms if spec.centred))


def choose_mode(design: ModelMatrices, marginalize: bool | str | None) -> str:
    """The parameterisation (:func:`mixbayes.bayes.forms.choose_form`): the cheapest form per gradient unless
    ``marginalize`` forces one (False: non-centred; True: the cheapest marginal form; or a form's name)."""
    from .forms import choose_form

    return choose_form(design, marginalize).form


def _scalar_params(prior: Prior, name: str) -> dict[str, float]:
    out = {}
    for k, v in prior.params.items():
        if isinstance(v, tuple):
            raise PriorError(f"the prior of {name} needs scalar parameters, got {k}={list(v)}")
        out[k] = v
    return out


def prior_vector(name: str, labels: Sequence[str], priors: Sequence[Prior], initval: np.ndarray | None = None,
                 dims: str | None = None) -> tuple[Any, VectorParam]:
    """One free variable with stacked parameters when all priors share a family, else one per element."""
    import pytensor.tensor as pt

    size = len(priors)
    params = [_scalar_params(p, f"{name}[{lab}]") for p, lab in zip(priors, labels, strict=True)]
    same = len({(p.distribution, tuple(sorted(pp))) for p, pp in zip(priors, params, strict=True)}) == 1
    if same:
        stacked = {k: np.array([pp[k] for pp in params]) for k in params[0]}
        kwargs: dict[str, Any] = {"dims": dims} if dims else {"shape": size}
        if initval is not None:
            kwargs["initval"] = initval
        cls = priors[0]._pymc_class()
        try:
            rv = cls(name, **stacked, **kwargs)
        except TypeError as exc:
            raise PriorError(f"the prior {priors[0]} of {name} cannot be built: {exc}") from None
        return rv, VectorParam(size, ((name, tuple(range(size)), False),))
    parts = []
    elems = []
    for i, (p, lab) in enumerate(zip(priors, labels, strict=True)):
        var = f"{name}[{lab}]"
        extra = {"initval": float(initval[i])} if initval is not None else {}
        elems.append(p.create(var, **extra))
        parts.append((var, (i,), True))
    return pt.stack(elems), VectorParam(size, tuple(parts))


def _likelihood_rows(design: ModelMatrices) -> np.ndarray:
    return design.family.used_rows(design.weights, design.trials)


def observed_values(design: ModelMatrices) -> np.ndarray:
    """The observed values the likelihood takes: the response, or binomial counts of successes."""
    return design.family.observed_values(design.y, design.weights, design.successes)


def n_trials(design: ModelMatrices) -> np.ndarray | None:
    """The numbers of trials per observation (binomial), else None."""
    return design.family.n_trials(design.weights, design.trials)


def prior_weights(design: ModelMatrices) -> np.ndarray:
    """Prior weights per observation (for the binomial: the weights divided by the trials)."""
    return design.family.prior_weights(design.weights, design.trials)


def build_model(design: ModelMatrices, priors: PriorSet, mode: str, source: Any = None,
                centred: Sequence[int] = (), schur: Sequence[int] = ()) -> BuiltModel:
    """Build the PyMC model of ``design`` with ``priors`` in parameterisation ``mode``.

    ``source``: for out-of-core data (no rows), the blocked-Schur marginal built from the summed blocks
    (:class:`~mixbayes.bayes.outofcore.GramSchurMarginal`); ``mode`` must then be ``"schur"``.
    ``centred``: in the ``partial`` form, the terms whose effects are sampled centred
    (:func:`mixbayes.bayes.forms.centred_terms`); ``schur``: the terms it integrates out in a dense Schur
    complement with the block factor (:func:`mixbayes.bayes.forms.partial_schur_terms`).
    """
    import pymc as pm
    import pytensor.tensor as pt

    fam = design.family
    labels = term_labels(design)
    sd_names = sd_entry_names(design)
    icpt = intercept_index(design)
    X = np.asarray(design.X, dtype=float)
    if source is not None:  # the sampler's data are the response cross-products; no rows
        rows, x_means, observed = source.rows, source.x_means, source.observed
        Xc, offset = np.zeros((0, X.shape[1])), np.zeros(0)
    else:
        rows = _likelihood_rows(design)
        x_means = X.mean(axis=0) if icpt is not None else np.zeros(X.shape[1])
        if icpt is not None:
            x_means[icpt] = 0.0
        Xc = (X - x_means)[rows]
        offset = np.asarray(design.offset, dtype=float)[rows]
        observed = observed_values(design)[rows]

    coords: dict[str, Any] = {"fixef": list(design.fixef_names), "obs": np.arange(len(observed))}
    for t, label in zip(design.terms, labels, strict=True):
        coords[t.group] = list(t.levels)
        coords[f"{label}__term"] = list(t.columns)

    block_group = block_factor(design, BLOCK_MAX_Q) if mode == "partial" else None
    absorb = _intercept_absorber(design, block_group, centred, icpt) if mode == "partial" else None
    keep = [j for j in range(X.shape[1]) if absorb is None or j != icpt]  # fixed effects outside the effects
    with pm.Model(coords=coords) as m:
        data = pm.Data("y_obs", observed, dims="obs")
        fixef_priors = [priors[n] for n in design.fixef_names]
        init = np.array([p.params.get("mu", 0.0) if p.distribution in ("Normal", "StudentT") else 0.0
                         for p in fixef_priors])
        if X.shape[1]:
            beta_c, fixef = prior_vector("fixef_c", design.fixef_names, fixef_priors, initval=init, dims="fixef")
            if absorb is None:
                eta = pt.dot(Xc, beta_c) + offset
            else:  # the intercept enters through the absorbing term's effects (hierarchical centring)
                eta = pt.dot(Xc[:, keep], beta_c[keep]) + offset
        else:
            fixef = VectorParam(0, ())
            eta = pt.as_tensor_variable(offset)
        sigma = priors["sigma"].create("sigma") if fam.has_scale else None
        # a negative binomial given a theta holds it fixed (no dispersion parameter)
        dispersion = priors["dispersion"].create("dispersion") if fam.estimates_dispersion else None

        term_specs: list[TermSpec] = []
        chols = []
        for k, (t, label) in enumerate(zip(design.terms, labels, strict=True)):
            sd, sd_param = prior_vector(f"sd__{label}", t.columns, [priors[n] for n in sd_names[k]],
                                   dims=f"{label}__term")
            cor_name = None
            if t.q > 1:
                cor_name = f"cor__{label}"
                eta_lkj = priors[f"cor_{label}"].params.get("eta", 1.0)
                R = pm.LKJCorr(cor_name, n=t.q, eta=eta_lkj)
                L = sd[:, None] * R
            else:
                L = sd.reshape((1, 1))
            chols.append(L)
            sampled = mode == "noncentred" or (mode == "partial" and t.group != block_group and k not in schur)
            centre = sampled and mode == "partial" and k in centred
            z_name = (f"b__{label}" if centre else f"z__{label}") if sampled else None
            shift = t.columns.index(INTERCEPT) if k == absorb else None
            term_specs.append(TermSpec(k, label, t.group, t.columns, t.levels, sd_param, cor_name, z_name, centre,
                                       shift))

        marginal: BlockMarginal | DenseMarginal | SchurMarginal | None = None
        lik_weights = None
        if mode == "partial":  # the block factor (and small factors) integrated out, the others' effects sampled
            sampled_eta: Any = 0.0
            for t, spec, L in zip(design.terms, term_specs, chols, strict=True):
                if spec.z is not None:
                    icpt_var = beta_c[icpt] if spec.shift is not None else None
                    sampled_eta = sampled_eta + _noncentred_effects(t, spec, L, rows, icpt_var)
            inner = [k for k, spec in enumerate(term_specs) if spec.z is None]
            if schur:  # block factor + the small factors' dense Schur complement, given the sampled effects
                marginal = SchurMarginal(design, rows, Xc[:, keep], group=block_group,
                                         exclude=[k for k, spec in enumerate(term_specs) if spec.z is not None])
                marginal.beta_columns = keep
                ll = marginal.graph(data - offset - sampled_eta, beta_c[keep] if keep else None, sigma,
                                    [L / sigma for L in chols])
            else:  # the block factor alone, per level
                marginal = BlockMarginal(design, rows, term_indices=inner)
                ll = pt.sum(marginal.graph(data - eta - sampled_eta, sigma, [chols[k] / sigma for k in inner]))
            pm.Potential("marginal_loglik", ll)
        elif mode == "schur":
            marginal = SchurMarginal(design, rows, Xc) if source is None else source
            T = [L / sigma for L in chols]
            response = data - offset if source is None else data
            pm.Potential("marginal_loglik", marginal.graph(response, beta_c if X.shape[1] else None, sigma, T))
        elif mode in ("block", "dense"):
            marginal = BlockMarginal(design, rows) if mode == "block" else DenseMarginal(design, rows)
            T = [L / sigma for L in chols]
            ll = marginal.graph(data - eta, sigma, T)
            pm.Potential("marginal_loglik", pt.sum(ll))
        else:
            for t, spec, L in zip(design.terms, term_specs, chols, strict=True):
                eta = eta + _noncentred_effects(t, spec, L, rows)
            pw = prior_weights(design)[rows]
            lik_weights = None if np.allclose(pw, 1.0) else pw
            trials = n_trials(design)
            fam.add_pymc_likelihood(eta, data, n_trials=None if trials is None else trials[rows], sigma=sigma,
                                    dispersion=dispersion, weights=np.asarray(design.weights, dtype=float)[rows],
                                    prior_weights=lik_weights)

    free = [rv.name for rv in m.free_RVs]
    # starting values on the constrained scale (the sampler jitters them on the unconstrained scale)
    start: dict[str, np.ndarray] = {}
    split_start(start, fixef, init if X.shape[1] else np.zeros(0))
    if sigma is not None:
        start["sigma"] = np.asarray(priors["sigma"].typical_value())
    if dispersion is not None:
        start["dispersion"] = np.asarray(priors["dispersion"].typical_value())
    for k, (t, spec) in enumerate(zip(design.terms, term_specs, strict=True)):
        split_start(start, spec.sd, np.array([priors[n].typical_value() for n in sd_names[k]]))
        if spec.cor:
            start[spec.cor] = np.eye(t.q)
        if spec.z:
            start[spec.z] = np.zeros((t.n_levels, t.q))
            if spec.shift is not None and icpt is not None:
                start[spec.z][:, spec.shift] = init[icpt]
    return BuiltModel(m, mode, fixef, x_means, icpt, "sigma" if sigma is not None else None,
                      "dispersion" if dispersion is not None else None, term_specs, rows, observed, "y_obs",
                      marginal, free, priors, lik_weights, start, from_blocks=source is not None)


def _intercept_absorber(design: ModelMatrices, block_group: str | None, centred: Sequence[int],
                        icpt: int | None) -> int | None:
    """The centred term (partial form) whose intercepts absorb the fixed intercept: the one with the fewest levels
    among the centred terms with an intercept column, or None (no intercept, or no such term)."""
    if icpt is None:
        return None
    terms = [k for k in centred if design.terms[k].group != block_group and INTERCEPT in design.terms[k].columns]
    return min(terms, key=lambda k: design.terms[k].n_levels) if terms else None


def _noncentred_effects(t: Any, spec: TermSpec, L: Any, rows: np.ndarray, intercept: Any = None) -> Any:
    """Term ``t``'s contribution to the linear predictor, its effects sampled (a new free variable ``spec.z``):
    non-centred, b = z L' with z ~ N(0, 1), or centred (``spec.centred``), b ~ N(0, L L'); gathered by level.

    ``intercept`` (centred terms with ``spec.shift``): hierarchical centring (Gelfand, Sahu and Carlin 1995): the
    variable holds b + beta_0 in the intercept column, drawn from N(beta_0 e, L L'), and the linear predictor
    leaves the fixed intercept out.  The group means are then what the data identify, and the fixed intercept is
    no longer tied to the mean of the effects by a ridge."""
    import pymc as pm
    import pytensor.tensor as pt

    assert spec.z is not None
    dims = (t.group, f"{spec.label}__term")
    if spec.centred:
        mu: Any = np.zeros(t.q)
        if intercept is not None:
            mu = pt.set_subtensor(pt.zeros(t.q)[spec.shift], intercept)
        b = pm.MvNormal(spec.z, mu=mu, chol=L, dims=dims) if t.q > 1 else \
            pm.Normal(spec.z, mu[0], L[0, 0], dims=dims)
    else:
        z = pm.Normal(spec.z, 0.0, 1.0, dims=dims)
        b = pt.dot(z, L.T)  # (levels, q)
    codes = np.asarray(t.codes)[rows]
    zt = np.asarray(t.z, dtype=float)[rows]
    return (b[codes] * zt).sum(axis=1) if t.q > 1 else b[codes, 0] * zt[:, 0]


def split_start(start: dict[str, np.ndarray], param: VectorParam, values: np.ndarray) -> None:
    for name, pos, scalar in param.parts:
        start[name] = np.asarray(values[pos[0]] if scalar else values[list(pos)], dtype=float)

