"""Starting point and posterior scales from the REML estimate (partial form): where the chains start and the
sampler's first guess of the inverse mass matrix.

The partial form samples thousands of effects (InstEval: 1,128 lecturers, centred).  From the default start (the
prior's typical values, effects at zero, uniform(-1, 1) jitter on the unconstrained scale) and a unit inverse mass
matrix, the first warm-up window of the window adaptation needs trees of hundreds of leapfrog steps: the posterior
SD of log sigma is 0.003 there, that of a lecturer's effect 0.1.  The REML fit, which the form choice already made
(:func:`mixbayes.bayes.forms.centred_terms`), gives both a start and the scale of every sampled variable:

* fixed effects: the REML estimate, SDs from its covariance (the centred intercept's from a' V a);
* sigma: the REML estimate, SD of log sigma about 1 / sqrt(2 n);
* SDs of term k (log scale) and its correlation parameters: the REML estimate (floored at 5% of sigma), scale
  1 / sqrt(J_k) for J_k levels; correlations start at the identity;
* sampled effects: the conditional modes, with the conditional SDs of the block-diagonal approximation,
  sigma^2 T (I + T'Z_j'WZ_jT)^-1 T' for centred effects and (I + T'Z_j'WZ_jT)^-1 for non-centred z.

The chains are still dispersed: each starts at uniform(-1, 1) times min(1, 10 scale) from this point
(:func:`mixbayes.bayes.samplers.initial_points`), ten posterior SDs either way.  Only efficiency depends on these
guesses; the window adaptation replaces the inverse mass matrix after its first window.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..design.matrices import ModelMatrices
from .builder import BuiltModel, split_start
from .marginal import level_crossproducts

__all__ = ["apply_reml_start"]

SD_FLOOR = 0.05
"""Smallest starting SD of a random-effects column, as a fraction of sigma (REML estimates can be 0)."""


def apply_reml_start(built: BuiltModel, design: ModelMatrices, reml: Any) -> None:
    """Set ``built.start`` (constrained values) and ``built.scales`` (posterior SDs on the unconstrained scale) from
    the REML estimate ``reml`` (:class:`~mixbayes.likelihood.lmm.LmmEstimate`)."""
    sigma = float(reml.sigma)
    rows = built.rows
    n = int(rows.sum())
    w = np.asarray(design.weights, dtype=float)[rows]
    start, scales = built.start, built.scales
    beta = np.asarray(reml.beta, dtype=float)
    intercept = 0.0
    if len(beta):
        beta_c = beta.copy()
        vc = sigma**2 * np.asarray(reml.unscaled_vcov, dtype=float)
        se = np.sqrt(np.maximum(np.diag(vc), 0.0))
        if built.icpt is not None:
            beta_c[built.icpt] = beta[built.icpt] + float(built.x_means @ beta)
            a = built.x_means.copy()
            a[built.icpt] = 1.0
            se[built.icpt] = float(np.sqrt(max(a @ vc @ a, 0.0)))
        intercept = float(beta_c[built.icpt]) if built.icpt is not None else 0.0
        split_start(start, built.fixef, beta_c)
        split_start(scales, built.fixef, se)
    if built.sigma:
        start[built.sigma] = np.asarray(sigma)
        scales[built.sigma] = np.asarray(1.0 / np.sqrt(2.0 * n))
    offsets = np.asarray(design.Gp)
    b_all = np.asarray(reml.b, dtype=float)
    for k, (t, spec) in enumerate(zip(design.terms, built.terms, strict=True)):
        T = t.factor(reml.theta)
        L = sigma * T
        sd = np.maximum(np.sqrt(np.sum(L * L, axis=1)), SD_FLOOR * sigma)
        split_start(start, spec.sd, sd)
        split_start(scales, spec.sd, np.full(t.q, 1.0 / np.sqrt(t.n_levels)))
        if spec.cor:
            scales[spec.cor] = np.asarray(1.0 / np.sqrt(t.n_levels))
        if not spec.z:
            continue
        b = b_all[offsets[k] : offsets[k + 1]].reshape(t.n_levels, t.q)
        C = level_crossproducts(np.asarray(t.z, dtype=float)[rows], np.asarray(t.codes)[rows], w, t.n_levels)
        A = np.eye(t.q) + np.einsum("ca,jcd,db->jab", T, C, T)
        Ainv = np.linalg.inv(A)
        if spec.centred:
            value = b.copy()
            if spec.shift is not None and built.icpt is not None:  # the variable holds b + the intercept
                value[:, spec.shift] += intercept
            var = sigma**2 * np.einsum("ca,jab,db->jcd", T, Ainv, T)
        else:  # z = diag(sd)^-1 b: the start's correlation is the identity
            value = b / sd
            var = Ainv
        start[spec.z] = value
        scales[spec.z] = np.sqrt(np.maximum(np.diagonal(var, axis1=1, axis2=2), 1e-12))
