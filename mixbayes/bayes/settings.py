"""The settings of a Bayesian fit, parsed once at the public entry point (:meth:`mixbayes.Model.sample`).

:class:`SampleControl` holds every option of the sampler; the engine (:mod:`mixbayes.bayes.sampling`,
:mod:`mixbayes.bayes.samplers`) reads the record and never parses keywords again.  Importing this module is light
(no PyMC, PyTensor or JAX).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ..arguments import check_int, check_number, closest, reject_unknown, renamed_arguments
from ..exceptions import ArgumentError, NotSupportedError

__all__ = ["DEPRECATED_SAMPLE_NAMES", "SAMPLERS", "SampleControl"]

#: the samplers :func:`mixbayes.bayes.samplers.run_sampler` knows
SAMPLERS = ("blackjax", "nutpie", "pymc", "numpyro")

#: old spellings of :meth:`mixbayes.Model.sample`'s arguments, accepted for one release with a FutureWarning
DEPRECATED_SAMPLE_NAMES = {"cores": "n_jobs", "seed": "random_seed", "progress": "progressbar"}


@dataclass(frozen=True, kw_only=True)
class SampleControl:
    """How to sample the posterior (the arguments of :meth:`mixbayes.Model.sample`, checked).

    draws, tune, chains : kept draws and warm-up steps per chain, and the number of chains.
    sampler : ``"blackjax"``, ``"nutpie"``, ``"pymc"`` or ``"numpyro"``.
    target_accept : target acceptance rate of the step-size adaptation, in (0, 1).
    random_seed : a non-negative integer, or None for a fresh seed (recorded in ``fit.sampler_info``).
    progressbar : phase messages and the samplers' progress bars.
    posterior_predictive : add a ``posterior_predictive`` group.
    max_treedepth : the largest number of trajectory doublings.
    marginalize : None, True, False or a form's name (see :mod:`mixbayes.bayes.forms`).
    n_jobs : processes for the nutpie and PyMC samplers (None: one per chain, at most the CPUs).
    sampler_kwargs : options of the sampler itself (``dense_mass``, ``backend``, ``nuts``).
    emit_warnings : issue the sampling diagnostics as warnings.
    """

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    sampler: str = "blackjax"
    target_accept: float = 0.8
    random_seed: int | None = None
    progressbar: bool = True
    posterior_predictive: bool = False
    max_treedepth: int = 10
    marginalize: bool | str | None = None
    n_jobs: int | None = None
    sampler_kwargs: Mapping[str, Any] = field(default_factory=dict)
    emit_warnings: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.sampler, str) or self.sampler not in SAMPLERS:
            raise NotSupportedError(f"unknown sampler {self.sampler!r}; choose one of {', '.join(SAMPLERS)}"
                                    + (closest(self.sampler, SAMPLERS) if isinstance(self.sampler, str) else ""))
        set_ = object.__setattr__  # frozen: normalise the checked values once
        set_(self, "draws", check_int(self.draws, "draws", 1))
        set_(self, "tune", check_int(self.tune, "tune", 0))
        set_(self, "chains", check_int(self.chains, "chains", 1))
        set_(self, "max_treedepth", check_int(self.max_treedepth, "max_treedepth", 1))
        if self.n_jobs is not None:
            set_(self, "n_jobs", check_int(self.n_jobs, "n_jobs", 1))
        set_(self, "target_accept", check_number(self.target_accept, "target_accept", 0.0, 1.0))
        seed = self.random_seed
        if seed is not None:
            import numpy as np

            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ArgumentError(f"random_seed must be a non-negative integer or None, not {seed!r}")
            set_(self, "random_seed", int(seed))
        kw = self.sampler_kwargs
        if kw is None:
            kw = {}
        if not isinstance(kw, Mapping):
            raise ArgumentError(f"sampler_kwargs must be a dict, not {type(kw).__name__}")
        set_(self, "sampler_kwargs", dict(kw))

    @classmethod
    def names(cls) -> list[str]:
        """The names of the settings."""
        return [f.name for f in fields(cls)]

    @classmethod
    def from_kwargs(cls, what: str = "Model.sample", /, **kwargs: Any) -> SampleControl:
        """The record from keyword arguments: old spellings (``cores``, ``seed``, ``progress``) are renamed with a
        FutureWarning, an unknown name is an :class:`~mixbayes.exceptions.ArgumentError` with a "did you mean"."""
        kwargs = renamed_arguments(kwargs, DEPRECATED_SAMPLE_NAMES, what)
        reject_unknown(kwargs, cls.names(), what)
        return cls(**kwargs)

    def with_seed(self, random_seed: int) -> SampleControl:
        """The same settings with a fixed ``random_seed``."""
        return replace(self, random_seed=random_seed)
