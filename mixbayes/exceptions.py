"""Typed errors and warnings.

Every error mixbayes raises on purpose is a :class:`MixbayesError`; every diagnostic it emits is a
:class:`MixbayesWarning`.  Warnings name the model part at fault and the remedy to try next.
"""

from __future__ import annotations


class MixbayesError(Exception):
    """Base class of every error raised by mixbayes."""


class FormulaSyntaxError(MixbayesError, ValueError):
    """A malformed formula.  The message shows the formula with a caret under the offending position.

    Attributes
    ----------
    formula : str
        The formula as given.
    position : int
        0-based character offset of the problem within ``formula``.
    reason : str
        The problem, without the caret display.
    """

    def __init__(self, reason: str, formula: str, position: int) -> None:
        self.reason = reason
        self.formula = formula
        self.position = max(0, min(position, len(formula)))
        caret = " " * self.position + "^"
        super().__init__(f"{reason}\n    {formula}\n    {caret}")


class UnknownColumnError(MixbayesError, LookupError):
    """A formula (or a weights/offset argument) names a column that the data do not have."""

    def __init__(self, name: str, available: list[str], where: str = "formula") -> None:
        import difflib

        self.name = name
        self.suggestions = difflib.get_close_matches(name, available, n=3, cutoff=0.5)
        lowered = {c.lower(): c for c in available}
        if name.lower() in lowered and lowered[name.lower()] not in self.suggestions:
            self.suggestions.insert(0, lowered[name.lower()])
        hint = (
            f" Did you mean {' or '.join(repr(s) for s in self.suggestions)}?"
            if self.suggestions
            else f" Available columns: {', '.join(available[:12])}{', ...' if len(available) > 12 else ''}."
        )
        super().__init__(f"unknown column {name!r} in the {where}.{hint}")


class TooFewLevelsError(MixbayesError, ValueError):
    """A grouping factor has fewer than two levels in the data that are used."""


class EmptyDataError(MixbayesError, ValueError):
    """No rows are left once the rows with missing values are dropped."""


class ResponseError(MixbayesError, ValueError):
    """The response cannot be modelled by the requested family."""


class DesignError(MixbayesError, ValueError):
    """The design cannot be fitted as specified (e.g. as many random-effect levels as observations)."""


class FamilyError(MixbayesError, ValueError):
    """An unknown family or link, or a combination that is not supported."""


class DatasetNotFoundError(MixbayesError, LookupError):
    """``load_dataset`` was asked for a data set that is not bundled."""


class PriorError(MixbayesError, ValueError):
    """An invalid prior, or a prior override that names no parameter of the model."""


class NotSupportedError(MixbayesError, ValueError):
    """A valid request that this model cannot honour, e.g. nAGQ > 1 with several random-effects terms."""


class ContrastError(MixbayesError, ValueError):
    """A contrast (hypothesis) matrix that does not fit the model's fixed effects."""


class BootstrapError(MixbayesError, RuntimeError):
    """Every refit of a parametric bootstrap failed, so there is nothing to summarise."""


class ProfileError(MixbayesError, RuntimeError):
    """Profiling found a deviance below the fit's (the fit is not at the optimum) or could not proceed."""


class MixbayesWarning(UserWarning):
    """Base class of every diagnostic warning emitted by mixbayes."""


class MissingDataWarning(MixbayesWarning):
    """Rows with missing values in the columns a model uses were dropped."""


class RankDeficiencyWarning(MixbayesWarning):
    """The fixed-effects model matrix is rank deficient; aliased columns were dropped (as lme4 does)."""


class DesignWarning(MixbayesWarning):
    """A structure in the data that is likely a modelling mistake (see ``Model.explain()``)."""


class SingularFitWarning(MixbayesWarning):
    """A variance component (or a correlation) was estimated on the boundary of its space."""


class ConvergenceWarning(MixbayesWarning):
    """The optimiser may not have reached the optimum (gradient, Hessian or scaling check failed)."""


class SeparationWarning(MixbayesWarning):
    """Complete or quasi-complete separation in a binomial model: a fixed effect runs off to infinity."""


class OverdispersionWarning(MixbayesWarning):
    """A Poisson fit shows more variance than the Poisson family allows."""


class SamplingWarning(MixbayesWarning):
    """A Bayesian fit failed a convergence diagnostic (divergences, R-hat, ESS, tree depth, E-BFMI)."""


class DivergenceWarning(SamplingWarning):
    """Divergent transitions after warm-up: the sampler met curvature it could not follow."""


class RhatWarning(SamplingWarning):
    """R-hat above 1.01: the chains have not mixed."""


class LowEssWarning(SamplingWarning):
    """Bulk or tail effective sample size below 100 per chain."""


class TreeDepthWarning(SamplingWarning):
    """Draws reached the maximum tree depth: trajectories were cut short."""


class EnergyWarning(SamplingWarning):
    """E-BFMI below 0.3 in a chain: the energy is explored poorly."""


class ArgumentError(MixbayesError, ValueError, TypeError):
    """An argument of a public call has the wrong type or value (an unknown option, ``draws=2.5``, a misspelt
    ``control`` key).  It is also a ``ValueError`` and a ``TypeError``, so code written against either keeps working.
    """


class ModelMismatchError(MixbayesError, ValueError):
    """Fits that should describe the same model (e.g. the two sides of :func:`mixbayes.compare`) do not."""


class FitError(MixbayesError, ArithmeticError):
    """The likelihood fit could not proceed (e.g. PIRLS found no conditional mode); the message names the cause
    and the remedy."""


class SeparationError(FitError):
    """Complete separation in a binomial model stopped the fit before it started (lme4 stops too: "pwrssUpdate did
    not converge"); the message names the separating coefficients and the remedy."""


class CountDataWarning(MixbayesWarning):
    """A count family got non-integer counts (binomial successes, Poisson responses); glm and glmer warn too."""


class DataTypeWarning(MixbayesWarning):
    """A data column's type is probably not what was meant, e.g. numbers stored as text with a few stray strings."""


class UnknownGroupError(MixbayesError, KeyError, ValueError):
    """No random-effects term is grouped by the named factor (e.g. ``mb.shrinkage(fit, group="Subjct")``).  It is
    also a ``KeyError`` and a ``ValueError``, as the errors it replaces were."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class LooUnitError(MixbayesError, ValueError):
    """Models whose pointwise log-likelihoods cover different units (observations of one, groups of another, or
    different rows) cannot be compared by LOO."""


class FileFormatError(MixbayesError, ValueError):
    """A file that :func:`mixbayes.load` cannot read: not a mixbayes file, a damaged one, or one written in a format
    version this mixbayes does not know (the message names both versions and the remedy)."""


class LoadMismatchWarning(MixbayesWarning):
    """A loaded likelihood fit, refitted from its formula, data and options, differs from the estimates saved with
    it (typically a file written by another mixbayes version)."""


class DegenerateResponseWarning(MixbayesWarning):
    """The response is determined by a grouping factor (constant within every level): the variance of that
    factor's random effects is not identified by the data."""
