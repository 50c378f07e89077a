"""The public entry point: ``mb.Model(formula, data, family=...)``, fitted by ``.fit()`` or ``.sample()``."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .design.explain import Explanation, explain
from .design.matrices import ModelMatrices, build_design
from .exceptions import DesignWarning
from .families import Family, get_family
from .formula import ParsedFormula, parse_formula
from .warn import warn_user

if TYPE_CHECKING:
    import os
    from pathlib import Path

    from xarray import DataTree

    from .bayes.results import BayesFit
    from .priors import PriorSet
    from .results.glmm import GlmmFit
    from .results.lmm import LmmFit
    from .results.map import MapFit
    from .results.pql import PqlFit

__all__ = ["Model"]

_KEEP: Any = object()
"""Default of :meth:`Model.update`'s arguments that may be set to None: keep this model's value."""


def _family(family: str | Family, link: str | None) -> Family:
    """get_family, pointing glmmTMB's families (zero-inflated, hurdle, nbinom1, beta-binomial) to mb.glmmTMB."""
    from .exceptions import FamilyError
    from .families.tmb import needs_glmmtmb

    try:
        return get_family(family, link)
    except FamilyError as exc:
        if needs_glmmtmb(family):
            raise FamilyError(f"family {family!r} is one of glmmTMB's families: fit it with mb.glmmTMB(formula, data, "
                              f"family={family!r}, zi=...) or mb.glmer(..., family={family!r}) (docs/families.md)"
                              ) from exc
        raise


class Model:
    """A mixed model: formula + data + family, turned into one frozen design that both engines fit.

    A model is never changed after it is built: :meth:`update` (another formula, data, family, weights or offset)
    and :meth:`with_response` (the same design, another response) derive new models, and refits, bootstraps,
    profiles and anova refits all go through them.

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``.
    data : pandas.DataFrame, dask.dataframe.DataFrame or str
        The data.  Rows with missing values in the columns used are dropped (with a warning).  A Dask DataFrame
        or the path of a Parquet dataset is read partition by partition (Gaussian models; see docs/dask.md).
    family : str or Family
        ``"gaussian"`` (default), ``"binomial"``, ``"poisson"`` or ``"negative_binomial"``.
    link : str, optional
        Link function; the family's canonical link by default.
    weights, offset : column name, R expression of columns (``"log(n)"``) or array, optional
        Prior weights and an offset on the linear-predictor scale.
    functions : dict, optional
        Your own functions that the formula may call, e.g. ``functions={"logit": f}`` for
        ``"y ~ logit(p) + (1 | g)"``.  Formulas never run code: only these and a fixed table of R functions
        can be called (see docs/security.md).

    Attributes
    ----------
    weights, offset : the ``weights=`` and ``offset=`` arguments as given (None when not given).
    replaced_response : the response given to :meth:`with_response` (None: the data's own response).
    bayes_cache : what the Bayesian engine compiled for this model (PyMC model, samplers, default priors),
        filled on demand by :mod:`mixbayes.bayes.sampling`, never pickled and never shared with a derived model.

    Examples
    --------
    >>> import mixbayes as mb
    >>> m = mb.Model("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    >>> m.design.n_theta
    3
    """

    def __init__(
        self,
        formula: str,
        data: pd.DataFrame,
        family: str | Family = "gaussian",
        weights: Any = None,
        offset: Any = None,
        link: str | None = None,
        functions: Mapping[str, Callable[..., Any]] | None = None,
    ) -> None:
        from .design.expressions import check_functions

        self.functions = check_functions(functions)
        self.formula: ParsedFormula = parse_formula(formula, self.functions)
        self.family: Family = _family(family, link)
        from .outofcore.source import is_dask_data

        if not is_dask_data(data):  # polars, PyArrow, ... become pandas once, here
            from .frames import to_pandas

            data = to_pandas(data)
        self.data = data
        self.weights = weights
        self.offset = offset
        self.replaced_response: np.ndarray | None = None
        self.bayes_cache: dict[Any, Any] = {}
        if is_dask_data(data):  # two passes over the partitions in Dask; only blocks and levels come back
            from .outofcore.design import build_block_design

            if self.functions:
                from .outofcore.design import DaskDataNotSupportedError

                raise DaskDataNotSupportedError("functions= (a formula's own functions) are not supported with Dask "
                                                "data: add the computed column to the data instead")
            self.design: ModelMatrices = build_block_design(self.formula, data, self.family, weights, offset)
            return
        self.design = build_design(self.formula, data, self.family, weights, offset, self.functions)
        from .design.checks import design_issues

        for issue in design_issues(self.design):
            warn_user(issue.message, DesignWarning)

    def update(self, formula: str | None = None, data: Any = None, family: str | Family | None = None,
               link: str | None = None, weights: Any = _KEEP, offset: Any = _KEEP,
               functions: Any = _KEEP) -> Model:
        """A new model with some of the parts replaced (as R's ``update``); the others are this model's.

        A model with a :attr:`replaced_response` keeps it: the new model gets the same response (its rows must
        be the same observations).

        Parameters
        ----------
        formula : the new formula (the whole formula, not R's ``. ~ . + x`` shorthand).
        data : new data.
        family, link : a new family (its canonical link unless ``link`` is given), or only a new link.
        weights, offset, functions : new values; pass None to drop them.

        Examples
        --------
        >>> import mixbayes as mb
        >>> m = mb.Model("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
        >>> m.update(formula="Reaction ~ Days + (1 | Subject)").design.n_theta
        1
        """
        fam: str | Family = self.family if family is None else family
        with warnings.catch_warnings():
            if formula is None and data is None and family is None and link is None:
                warnings.simplefilter("ignore", DesignWarning)  # already shown when this model was built
            new = Model(self.formula.text if formula is None else formula, self.data if data is None else data,
                        family=fam, link=link,
                        weights=self.weights if weights is _KEEP else weights,
                        offset=self.offset if offset is _KEEP else offset,
                        functions=self.functions if functions is _KEEP else functions)
        if self.replaced_response is not None:
            return new.with_response(self.replaced_response)
        return new

    def with_response(self, y: Any) -> Model:
        """The same model (formula, data, family, design) with another response vector, e.g. one drawn by
        ``fit.simulate()``: what ``fit.refit(y)`` and the parametric bootstrap fit.

        ``y`` holds one value per observation used (``model.design.n_obs``); for the binomial, proportions of
        successes.  The new model shares this one's design matrices but nothing else (no cached sampler).
        """
        from .exceptions import ArgumentError

        values = np.asarray(y, dtype=float).ravel()
        d = self.design
        if values.shape != (d.n_obs,):
            raise ArgumentError(f"the new response has {values.size} values; the model has {d.n_obs} observations")
        if self.is_out_of_core:
            from .outofcore.design import DaskDataNotSupportedError

            raise DaskDataNotSupportedError("a new response needs the rows of the data; it is not available for "
                                            "Dask data")
        successes = None if d.successes is None else values * (d.trials if d.trials is not None else 1.0)
        new = object.__new__(Model)
        new.functions = self.functions
        new.formula = self.formula
        new.family = self.family
        new.data = self.data
        new.weights = self.weights
        new.offset = self.offset
        new.replaced_response = values
        new.bayes_cache = {}
        new.design = replace(d, y=values, successes=successes)
        return new

    @property
    def dropped_index(self) -> pd.Index:
        """Index labels of the rows dropped because of missing values."""
        return self.design.dropped_index

    def explain(self) -> Explanation:
        """Terms, grouping factors (levels, observations per level), nesting/crossing in the data and
        warnings about likely mistakes."""
        if self.is_out_of_core:
            from .outofcore.design import DaskDataNotSupportedError

            raise DaskDataNotSupportedError("explain() reads the rows (nesting and crossing of the grouping factors); "
                                            "it is not available for Dask data")
        return explain(self.design)

    def expand(self) -> str:
        """The fully explicit lme4 formula."""
        return self.formula.explicit()

    def fit(self, method: str | None = None, control: Any = None, start: Any = None, nAGQ: int = 1,
            emit_warnings: bool = True, dispersion: str | None = None, niter: int = 10,
            **kwargs: Any) -> LmmFit | GlmmFit | PqlFit | MapFit | BayesFit:
        """Fit by likelihood: ``"reml"`` (default for Gaussian) or ``"ml"``; for other families the Laplace
        approximation (``nAGQ=1``), adaptive Gauss-Hermite (``nAGQ>1``) or the fast ``nAGQ=0``;
        ``"pql"`` is MASS::glmmPQL's penalised quasi-likelihood (binomial and Poisson; approximate, biased for
        binary data with small clusters: see docs/pql.md; ``niter`` bounds its iterations);
        ``"map"`` gives the penalised (posterior-mode) fit under the default priors.

        ``dispersion`` (Gamma and inverse Gaussian): ``"lme4"`` (default: glmer's Laplace and scale) or ``"ml"``
        (glmmTMB's exact Laplace with the dispersion estimated by ML); see docs/gamma.md.

        ``control`` (a dict or the record itself) is parsed once, here, into a
        :class:`~mixbayes.likelihood.lmm.LmmControl`, :class:`~mixbayes.likelihood.glmm.GlmmControl` or
        :class:`~mixbayes.results.map.MapControl`, which the fit keeps as ``fit.control``; an unknown option or
        keyword is an :class:`~mixbayes.exceptions.ArgumentError` that names the closest one.

        Returns an :class:`~mixbayes.results.lmm.LmmFit` or :class:`~mixbayes.results.glmm.GlmmFit` (a
        :class:`~mixbayes.results.pql.PqlFit` for ``"pql"``, a :class:`~mixbayes.results.map.MapFit` for ``"map"``,
        a :class:`~mixbayes.bayes.results.BayesFit` for ``"bayes"``).
        """
        from .arguments import check_int, closest, control_from
        from .exceptions import ArgumentError

        if method is not None and not isinstance(method, str):
            raise ArgumentError(f"method must be a string such as 'reml', 'ml', 'laplace', 'map' or 'bayes', not "
                                f"{method!r}")
        method = (method or self.family.default_method).lower()
        if self.is_out_of_core and method not in ("reml", "ml", "bayes", "nuts"):
            from .outofcore.design import DaskDataNotSupportedError

            raise DaskDataNotSupportedError(f"method {method!r} is not available for Dask data: use 'reml' or 'ml'")
        if method == "map":
            from .results.map import MapControl, fit_map

            unknown = [k for k in kwargs if k != "priors"]
            if unknown:
                raise ArgumentError(f"unexpected argument {unknown[0]!r} for the MAP fit (it takes priors=)."
                                    f"{closest(unknown[0], ['priors', 'control', 'emit_warnings'])}")
            if start is not None:
                raise ArgumentError("start= is not used by the MAP fit (it starts from the REML/Laplace fit)")
            return fit_map(self, priors=kwargs.get("priors"), emit_warnings=emit_warnings,
                           control=control_from(MapControl, control))
        if method in ("bayes", "nuts"):
            if control is not None:
                raise ArgumentError("control= holds options of the likelihood fit; give the sampler's settings as "
                                    "keywords (draws=, chains=, ...: see Model.sample)")
            return self.sample(**kwargs)
        if kwargs:  # a likelihood fit takes no other options: a misspelt one must not be ignored
            name = next(iter(kwargs))
            known = ['method', 'control', 'start', 'nAGQ', 'emit_warnings', 'REML', 'dispersion', 'niter']
            raise ArgumentError(f"unexpected argument {name!r} for a likelihood fit.{closest(name, known)}")
        check_int(nAGQ, "nAGQ", 0)
        if method == "pql":
            if dispersion is not None or start is not None or nAGQ != 1:
                raise ArgumentError("method='pql' takes niter= and control= (for the working LMM fits), not "
                                    "dispersion=, start= or nAGQ=")
            from .results.pql import fit_pql_model

            return fit_pql_model(self, niter=niter, control=control, emit_warnings=emit_warnings)
        if dispersion is not None and not self.family.positive_response:
            raise ArgumentError(f"dispersion= applies to the Gamma and inverse Gaussian families, not "
                                f"{self.family.name}")
        if self._is_lmm:
            if method not in ("reml", "ml"):
                from .exceptions import NotSupportedError

                raise NotSupportedError(f"method {method!r} is not a likelihood method for a linear mixed model; "
                                        "use 'reml', 'ml', 'map' or 'bayes'")
            from .likelihood.convergence import emit_warnings as emit
            from .likelihood.lmm import LmmControl, fit_lmm
            from .results.lmm import LmmFit

            reml = method == "reml"
            lmm_control = LmmControl.from_any(control)
            est = fit_lmm(self.design, reml, lmm_control, start=start, emit_warnings=False)
            if emit_warnings:
                emit(est.report)
            if self.is_out_of_core:
                from .outofcore.fit import DaskLmmFit

                return DaskLmmFit(self, est, reml, control=lmm_control)
            return LmmFit(self, est, reml, control=lmm_control)
        from .likelihood.glmm import GlmmControl
        from .results.glmm import fit_glmm_model

        glmm_control = GlmmControl.from_any(control)
        if dispersion is not None:
            from dataclasses import replace

            glmm_control = replace(glmm_control, dispersion=dispersion)
        return fit_glmm_model(self, method=method, nAGQ=nAGQ, control=glmm_control, start=start,
                              emit_warnings=emit_warnings)

    def sample(self, draws: int = 1000, tune: int = 1000, chains: int = 4, sampler: str = "blackjax",
               target_accept: float = 0.8, random_seed: int | None = None, priors: Mapping[str, Any] | None = None,
               progressbar: bool = True, posterior_predictive: bool = False, max_treedepth: int = 10,
               marginalize: bool | str | None = None, n_jobs: int | None = None,
               sampler_kwargs: dict[str, Any] | None = None, emit_warnings: bool = True,
               **deprecated: Any) -> BayesFit:
        """Sample the posterior with NUTS; returns a :class:`~mixbayes.bayes.results.BayesFit`.

        The arguments are parsed once into a :class:`~mixbayes.bayes.settings.SampleControl` (kept as
        ``fit.settings``); an unknown name is an :class:`~mixbayes.exceptions.ArgumentError` that names the closest
        one, and the old spellings ``cores``, ``seed`` and ``progress`` still work, with a FutureWarning.

        Parameters
        ----------
        draws, tune, chains : kept draws and warm-up steps per chain, and the number of chains.
        sampler : ``"blackjax"`` (default: warm-up and sampling compiled into one XLA program, cached on the
            model), ``"nutpie"``, ``"pymc"`` (PyMC's own NUTS) or ``"numpyro"``.
        target_accept : target acceptance rate of the step-size adaptation (raise it, e.g. to 0.95, when
            there are divergences).
        random_seed : makes the draws reproducible (None: a fresh seed, recorded in ``fit.sampler_info``).
        priors : overrides of the default priors by name, e.g. ``{"sigma": mb.Prior("Exponential", lam=0.1)}``;
            see :attr:`priors`.
        progressbar : phase messages on stderr (and the external samplers' own progress bars).
        posterior_predictive : add a ``posterior_predictive`` group to ``fit.idata``.
        max_treedepth : the largest number of trajectory doublings.
        marginalize : how the random effects are handled: None (the form with the lowest estimated cost per
            gradient), True (the cheapest form that integrates them out), False (non-centred), or a form's name:
            ``"block"``, ``"schur"``, ``"dense"``, ``"partial"`` (one factor's effects integrated out, the
            others' sampled), ``"noncentred"`` (see docs/bayes.md).
        n_jobs : processes for the nutpie and PyMC samplers (default: one per chain, at most the CPUs; formerly
            ``cores``).
        sampler_kwargs : sampler options: ``dense_mass=True`` for blackjax (adapt a dense mass matrix),
            ``backend="jax"`` for nutpie, ``nuts={...}`` for PyMC and numpyro.
        emit_warnings : issue :class:`~mixbayes.exceptions.SamplingWarning` s for failed diagnostics.
        """
        from .bayes.settings import SampleControl

        given = dict(draws=draws, tune=tune, chains=chains, sampler=sampler, target_accept=target_accept,
                     random_seed=random_seed, progressbar=progressbar, posterior_predictive=posterior_predictive,
                     max_treedepth=max_treedepth, marginalize=marginalize, n_jobs=n_jobs,
                     sampler_kwargs=sampler_kwargs, emit_warnings=emit_warnings)
        given.update(_explicit_renames(deprecated, progressbar, random_seed, n_jobs))
        settings = SampleControl.from_kwargs("Model.sample", **given)
        from .bayes import sample

        fit = sample(self, settings, priors)
        if settings.emit_warnings:
            fit.diagnose().emit()
        return fit

    @property
    def priors(self) -> PriorSet:
        """The default priors (a :class:`~mixbayes.priors.PriorSet`; ``print(model.priors)`` shows them)."""
        from .bayes.sampling import model_priors

        return model_priors(self, None)

    def sample_prior_predictive(self, draws: int = 500, random_seed: int | None = None,
                                priors: Mapping[str, Any] | None = None) -> DataTree:
        """Draws from the priors and the prior predictive distribution: a DataTree with ``prior``,
        ``prior_predictive`` and ``observed_data`` groups."""
        from .bayes import sample_prior_predictive

        return sample_prior_predictive(self, draws=draws, random_seed=random_seed, priors=priors)

    def __getstate__(self) -> dict[str, Any]:
        # the Bayesian cache holds PyMC models and compiled samplers: rebuilt on demand, never pickled
        state = self.__dict__.copy()
        state.pop("bayes_cache", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.pop("_bayes_cache", None)  # a model pickled by an older mixbayes
        state.setdefault("replaced_response", None)
        for old, new in (("_weights_arg", "weights"), ("_offset_arg", "offset")):
            if old in state:
                state[new] = state.pop(old)
        self.__dict__.update(state)
        self.bayes_cache = {}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the model (formula, family, data) to a mixbayes file; :func:`mixbayes.load` reads it back.
        See docs/saving.md for the format."""
        from .persistence.encode import save

        return save(self, path)

    @property
    def is_out_of_core(self) -> bool:
        """True when the data are a Dask DataFrame or a Parquet dataset (the design holds blocks, not rows)."""
        return getattr(self.design, "blocks", None) is not None

    @property
    def _is_lmm(self) -> bool:
        return self.family.is_lmm

    def __repr__(self) -> str:
        d = self.design
        return (
            f"Model({self.formula.text!r}, family={self.family}, nobs={d.n_obs}, "
            f"fixef={d.n_fixef}, terms={[t.expr for t in d.terms]})"
        )

    def _repr_html_(self) -> str:
        import html

        d = self.design
        if self.is_out_of_core:
            return f"<pre class='mixbayes'>{html.escape(repr(self))}</pre>"
        rows = "".join(f"<tr><td><code>{html.escape(str(t.expr))}</code></td><td>{html.escape(t.group)}</td>"
                       f"<td>{t.n_levels}</td><td>{html.escape(', '.join(map(str, t.columns)))}</td></tr>"
                       for t in d.terms)
        return (f"<div class='mixbayes-summary'><p><b>Model</b> <code>{html.escape(self.formula.text)}</code><br>"
                f"family {html.escape(str(self.family))}; {d.n_obs} observations; fixed effects: "
                f"{html.escape(', '.join(map(str, d.fixef_names)))}</p>"
                "<table class='mb-table'><thead><tr><th>term</th><th>group</th><th>levels</th><th>columns</th></tr>"
                f"</thead><tbody>{rows}</tbody></table></div>")


def _explicit_renames(deprecated: dict[str, Any], progressbar: bool, random_seed: int | None,
                      n_jobs: int | None) -> dict[str, Any]:
    """The deprecated keywords of :meth:`Model.sample`, renamed (with a FutureWarning) when the new spelling was
    left at its default; an unknown keyword is passed on to be rejected with a "did you mean"."""
    from .arguments import renamed_arguments
    from .bayes.settings import DEPRECATED_SAMPLE_NAMES

    defaults = {"progressbar": progressbar is True, "random_seed": random_seed is None, "n_jobs": n_jobs is None}
    old = {k: v for k, v in deprecated.items() if k in DEPRECATED_SAMPLE_NAMES}
    for key in old:
        if not defaults[DEPRECATED_SAMPLE_NAMES[key]]:
            from .exceptions import ArgumentError

            raise ArgumentError(f"Model.sample got both {key!r} and {DEPRECATED_SAMPLE_NAMES[key]!r}; {key!r} is the "
                                f"deprecated spelling of {DEPRECATED_SAMPLE_NAMES[key]!r}")
    renamed = renamed_arguments(old, DEPRECATED_SAMPLE_NAMES, "Model.sample")
    return {**{k: v for k, v in deprecated.items() if k not in old}, **renamed}
