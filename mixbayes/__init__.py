"""mixbayes: lme4-style mixed-effects models fitted two ways and compared side by side.

``import mixbayes as mb``.  Importing mixbayes (and a REML fit) never imports PyMC, PyTensor or ArviZ: the
Bayesian engine loads them on first use.
"""

from __future__ import annotations

from . import report as report
from .api import glmer, glmmTMB, lmer
from .datasets import list_datasets, load_dataset
from .exceptions import (
    ArgumentError,
    BootstrapError,
    ContrastError,
    ConvergenceWarning,
    CountDataWarning,
    DataTypeWarning,
    DesignError,
    DesignWarning,
    DivergenceWarning,
    EmptyDataError,
    EnergyWarning,
    FamilyError,
    FileFormatError,
    FitError,
    FormulaSyntaxError,
    LoadMismatchWarning,
    LooUnitError,
    LowEssWarning,
    MissingDataWarning,
    MixbayesError,
    MixbayesWarning,
    ModelMismatchError,
    NotSupportedError,
    OverdispersionWarning,
    PriorError,
    ProfileError,
    RankDeficiencyWarning,
    ResponseError,
    RhatWarning,
    SamplingWarning,
    SeparationError,
    SeparationWarning,
    SingularFitWarning,
    TooFewLevelsError,
    TreeDepthWarning,
    UnknownColumnError,
    UnknownGroupError,
)
from .exceptions import DegenerateResponseWarning as DegenerateResponseWarning
from .families import Family, get_family
from .families import negative_binomial as negative_binomial
from .formula import ParsedFormula, expand_formula, parse_formula
from .inference.bootstrap import pbtest
from .inference.emmeans import emmeans
from .model import Model
from .persistence import load
from .priors import Prior, PriorSet
from .report import compare, convergence_walkthrough, explain_icc, naive_vs_mixed, shrinkage
from .report.html import write_report
from .results.allfit import allfit
from .results.anova import anova
from .version import __version__ as __version__


def __getattr__(name: str) -> object:
    """Load the heavier public helpers on first use (they import matplotlib or ArviZ)."""
    if name == "loo_compare":
        from .bayes.loo_compare import loo_compare

        return loo_compare
    if name == "plot_predictions":
        from .report.predictions import plot_predictions

        return plot_predictions
    if name == "tidy":
        from .results.tidy import tidy

        return tidy
    raise AttributeError(f"module 'mixbayes' has no attribute {name!r}")

__all__ = [
    # issue 10
    "ArgumentError",
    "BootstrapError",
    "ContrastError",
    "ConvergenceWarning",
    "CountDataWarning",
    "DataTypeWarning",
    "DesignError",
    "DesignWarning",
    "DivergenceWarning",
    "EmptyDataError",
    "EnergyWarning",
    "Family",
    "FamilyError",
    "FileFormatError",
    "FitError",
    "FormulaSyntaxError",
    "LoadMismatchWarning",
    "LooUnitError",
    "LowEssWarning",
    "MissingDataWarning",
    "MixbayesError",
    "MixbayesWarning",
    "Model",
    "ModelMismatchError",
    "NotSupportedError",
    "OverdispersionWarning",
    "ParsedFormula",
    "Prior",
    "PriorError",
    "PriorSet",
    "ProfileError",
    "RankDeficiencyWarning",
    "ResponseError",
    "RhatWarning",
    "SamplingWarning",
    "SeparationError",
    "SeparationWarning",
    "SingularFitWarning",
    "TooFewLevelsError",
    "TreeDepthWarning",
    "UnknownColumnError",
    "UnknownGroupError",
    "__version__",
    "allfit",
    "anova",
    "compare",
    "convergence_walkthrough",
    "emmeans",
    "expand_formula",
    "explain_icc",
    "get_family",
    "glmer",
    "list_datasets",
    "lmer",
    "load",
    "load_dataset",
    "loo_compare",
    "naive_vs_mixed",
    "parse_formula",
    "pbtest",
    "plot_predictions",
    "report",
    "shrinkage",
    "tidy",
]
__all__ += ["DegenerateResponseWarning", "negative_binomial"]
__all__ += ["write_report"]  # issue 11: mb.report (deprecated) is the callable subpackage mixbayes.report
__all__ += ["glmmTMB"]
