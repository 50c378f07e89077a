"""Which parameterisation the Bayesian fit samples: the cheapest by estimated cost per gradient evaluation.

Five forms (:data:`FORMS`):

* ``block`` - the random effects integrated out, one grouping factor, A block-diagonal
  (:class:`~mixbayes.bayes.marginal.BlockMarginal`);
* ``schur`` - integrated out through the blocked factor: one factor block-diagonal, the others in a dense Schur
  complement (:class:`~mixbayes.bayes.schur.SchurMarginal`);
* ``dense`` - integrated out with a dense q x q factor (:class:`~mixbayes.bayes.marginal.DenseMarginal`);
* ``partial`` - the effects of the block factor integrated out in the block form (per-level Q1 x Q1 blocks, no
  dense factor), the other factors' effects sampled: centred where the data inform their levels more than the
  prior (:func:`centred_terms`; the centred term with the fewest levels absorbs the fixed intercept), else
  non-centred.  It serves designs too large for a dense Schur complement (InstEval: 2,972 students integrated
  out, 1,128 lecturers and 14 departments sampled centred);
* ``noncentred`` - the random effects sampled, b = z L'.

Estimated cost of one log-density gradient, in flop equivalents (n observations, p fixed effects,
nnz = n sum_k q_k non-zeros of Z, q random effects, q_max the widest term):

==============  ============================================================================================
form            cost
==============  ============================================================================================
block           C0 + 2 n (p + Q + 1) + 4 J Q^3                 (J levels, Q columns per level)
schur           C0 + 2 (nnz + n p) + 4 J Q1^3 + U + D Q2^3 + 2 Q2^2 q2_max
                (J levels and Q1 columns of the block factor, Q2 effects in the Schur complement,
                U = min(2 Q2^2 K Q1, 8 E): the Schur update as a matrix product over the K distinct level
                blocks of Z2'WZ1 or as a scatter of its E non-zero products)
dense           C0 + 2 (nnz + n p) + D q^3 + 2 q^2 q_max
partial         P (C0 + G nnz2 + 2 n p + U1 + 2 n (Q1 + 1) + 4 J Q1^3 + K Q1^4)
                (nnz2 the non-zeros of the sampled factors' columns; U1 the block factor's per-level sums,
                2 J n (Q1 + 1) as a dense product or G n (Q1 + 1) as a scatter; K Q1^4 the many small kernels
                of the unrolled Q1 x Q1 algebra)
noncentred      F (C0 + G nnz + 2 n p)
==============  ============================================================================================

D (:data:`CHOLESKY_GRADIENT`) is the cost of a dense Cholesky factor *with its gradient*: n^3/3 for the factor
and two n x n triangular solves (n^3 each) in its reverse-mode derivative, about 2.3 n^3, rounded up to 3 for the
copies around the LAPACK calls (measured: benchmarks/form_gradients.py, figures in docs/bayes.md).
C0 (:data:`GRADIENT_OVERHEAD`) is the fixed cost of one evaluation (dispatch, the NUTS step's own work, the many
small kernels of a compiled gradient: about 0.15 ms on the XLA CPU backend, where matrix products and
factorisations run near 4e9 flop equivalents per second).  G (:data:`GATHER_COST`) is the cost per non-zero of Z
of the non-centred model's gather of effects and scatter-add of their gradient (about 7 ns).  C0 and G were
fitted to the measured gradients of benchmarks/form_gradients.py (docs/bayes.md).  The
non-centred cost is multiplied by F (:data:`NONCENTRED_FACTOR`): its sampled dimension is larger by the number of
random effects and its posterior has the funnel between SDs and effects, so it takes more gradient evaluations
per draw (deeper trees) and yields fewer effective draws per draw.  F = 4 is measured on the maximal crossed
design (48 x 32, 320 effects): the non-centred run had 4.0 times fewer min bulk ESS per draw (503 vs 2023 of 4000)
and about as many gradients per iteration as the blocked-Schur run (docs/bayes.md).  With it the automatic choice
samples that design non-centred: one blocked-Schur gradient costs 4-7 non-centred ones there.  After the
blocked-Schur graph was batched and given an analytic log-determinant gradient (docs/bayes.md, issue 15),
a blocked-Schur gradient there still costs about 20 non-centred ones in CPU time (1.4 ms against 0.07 ms) for
about 8 times more effective draws per gradient (dense mass matrix): non-centred remains the faster choice.

P (:data:`PARTIAL_FACTOR` = 2) and K (:data:`UNROLLED_KERNEL` = 4e3) are measured on the maximal crossed design:
one partial gradient cost 2.7 non-centred ones there (the 4 x 4 algebra over 48 subjects unrolled into hundreds of
small kernels, and the per-level sums of 1,536 rows), for 1.8 times more effective draws per gradient (18 leapfrog
steps per draw against 31, min bulk ESS 663 against 632 of 4,000), so that design stays non-centred.  On InstEval
the non-centred form needs the full tree depth (about 560 leapfrog steps per draw, min bulk ESS 7 of 400 after 100
warm-up steps) and the partial form about 31 (docs/bayes.md).

Marginal forms need a Gaussian model with the identity link.  The dense Schur complement and the dense form
are limited to :data:`DENSE_LIMIT` effects (memory of the q x q matrix and its Cholesky factor).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..design.matrices import ModelMatrices
from .marginal import BLOCK_MAX_Q, level_crossproducts

__all__ = [
    "CENTRE_INFORMATION",
    "CHOLESKY_GRADIENT",
    "DENSE_LIMIT",
    "FORMS",
    "GATHER_COST",
    "GRADIENT_OVERHEAD",
    "MARGINAL_FORMS",
    "NONCENTRED_FACTOR",
    "PARTIAL_FACTOR",
    "PARTIAL_SCHUR_MAX",
    "UNROLLED_KERNEL",
    "FormChoice",
    "centred_terms",
    "choose_form",
    "form_costs",
    "marginal_form",
    "partial_schur_terms",
]

FORMS = ("block", "schur", "dense", "partial", "noncentred")
MARGINAL_FORMS = ("block", "schur", "dense")
"""The forms that integrate out every random effect (``marginalize=True`` picks the cheapest of them)."""
GRADIENT_OVERHEAD = 6.0e5
GATHER_COST = 30.0
NONCENTRED_FACTOR = 4.0
PARTIAL_FACTOR = 2.0
UNROLLED_KERNEL = 4.0e3
PARTIAL_SCHUR_MAX = 0
CENTRE_INFORMATION = 1.0
DENSE_LIMIT = 4000
CHOLESKY_GRADIENT = 3.0


@dataclass(frozen=True)
class FormChoice:
    """The chosen form, the estimated cost per gradient of every form (inf: not applicable), the block
    factor of the ``schur`` and ``partial`` forms, and the terms the ``partial`` form samples centred
    (:func:`centred_terms`)."""

    form: str
    costs: dict[str, float] = field(default_factory=dict)
    block_group: str | None = None
    centred: tuple[int, ...] = ()
    schur_terms: tuple[int, ...] = ()
    reml: Any = field(default=None, repr=False, compare=False)  # the REML estimate behind ``centred``

    def describe(self) -> str:
        """One line: the form and the estimated costs (flop equivalents per gradient)."""
        parts = [f"{k} {v:.3g}" for k, v in self.costs.items() if np.isfinite(v)]
        return f"{self.form} (estimated cost per gradient: {', '.join(parts)})"


def marginalisable(design: ModelMatrices) -> bool:
    fam = design.family
    return fam.is_lmm and bool(design.terms)


def form_costs(design: ModelMatrices) -> tuple[dict[str, float], str | None]:
    """Estimated cost per gradient evaluation of each form (inf where not applicable), and the block factor."""
    from .schur import block_factor, distinct_blocks, scatter_entries, schur_update_costs

    n = int(np.sum(np.asarray(design.weights) > 0))
    p = design.n_fixef
    terms = design.terms
    nnz = n * sum(t.q for t in terms)
    q = design.n_random
    qmax = max((t.q for t in terms), default=0)
    inf = float("inf")
    costs = {f: inf for f in FORMS}
    costs["noncentred"] = NONCENTRED_FACTOR * (GRADIENT_OVERHEAD + GATHER_COST * nnz + 2.0 * n * p)
    group = None
    if not marginalisable(design):
        return costs, None
    groups = {t.group for t in terms}
    if len(groups) == 1:
        Q = sum(t.q for t in terms)
        if Q <= BLOCK_MAX_Q:
            costs["block"] = GRADIENT_OVERHEAD + 2.0 * n * (p + Q + 1) + 4.0 * terms[0].n_levels * Q**3
    if q <= DENSE_LIMIT:
        costs["dense"] = GRADIENT_OVERHEAD + 2.0 * (nnz + n * p) + CHOLESKY_GRADIENT * q**3 + 2.0 * q * q * qmax
    group = block_factor(design, BLOCK_MAX_Q)
    if group is not None:
        from .schur import design_rows

        rows = np.asarray(design.weights) > 0
        data = design_rows(design, rows, np.zeros((int(rows.sum()), 0)), group)
        lay = data.layout
        small = partial_schur_terms(design, group)
        nnz2 = n * sum(t.q for k, t in enumerate(terms) if t.group != group and k not in small)
        # the block factor's per-level sums: a dense (J, n) product, or a scatter (BlockMarginal.graph)
        sums = 2.0 * lay.J * n * (lay.Q1 + 1) if lay.J * n <= 250_000 else GATHER_COST * n * (lay.Q1 + 1)
        q2s = sum(terms[k].n_random for k in small)  # the small factors' Schur complement, if any
        small_cost = (2.0 * q2s * q2s * lay.J * lay.Q1 + CHOLESKY_GRADIENT * q2s**3
                      + GATHER_COST * n * sum(terms[k].q for k in small)) if small else 0.0
        costs["partial"] = PARTIAL_FACTOR * (GRADIENT_OVERHEAD + GATHER_COST * nnz2 + 2.0 * n * p + sums
                                             + 2.0 * n * (lay.Q1 + 1) + 4.0 * lay.J * lay.Q1**3
                                             + UNROLLED_KERNEL * lay.Q1**4 + small_cost)
        if lay.Q2 <= DENSE_LIMIT:
            G = data.design.Z2Z1
            dense_u, scatter_u = schur_update_costs(lay, scatter_entries(G, lay), distinct_blocks(G, lay))
            q2max = max(qq for _, qq in lay.schur_shapes)
            costs["schur"] = (GRADIENT_OVERHEAD + 2.0 * (nnz + n * p) + 4.0 * lay.J * lay.Q1**3
                              + min(dense_u, scatter_u) + CHOLESKY_GRADIENT * lay.Q2**3 + 2.0 * lay.Q2**2 * q2max)
    return costs, group


def choose_form(design: ModelMatrices, marginalize: bool | str | None = None) -> FormChoice:
    """The form to sample.

    ``marginalize``: None (the cheapest form), True (the cheapest marginal form; an error when none applies),
    False (non-centred) or a form's name (forced; an error when it does not apply).
    """
    from ..exceptions import NotSupportedError

    costs, group = form_costs(design)
    if marginalize is None:
        form = min(costs, key=lambda f: costs[f])
    elif marginalize is False or marginalize == "noncentred":
        form = "noncentred"
    elif marginalize is True or marginalize in FORMS:
        candidates = list(MARGINAL_FORMS) if marginalize is True else [marginalize]
        form = min(candidates, key=lambda f: costs[f])
        if not np.isfinite(costs[form]):
            raise NotSupportedError(f"marginalize={marginalize!r}: {_why(design, marginalize)}")
    else:
        raise NotSupportedError(f"marginalize must be None, True, False or one of {', '.join(FORMS)}, "
                                f"not {marginalize!r}")
    if form != "partial":
        return FormChoice(form, costs, group if form == "schur" else None)
    reml = _reml(design)
    schur = partial_schur_terms(design, group)
    return FormChoice(form, costs, group, centred_terms(design, group, reml, exclude=schur), schur, reml)


def partial_schur_terms(design: ModelMatrices, group: str | None) -> tuple[int, ...]:
    """The terms the partial form integrates out in a dense Schur complement next to the block factor ``group``:
    the factors other than the block factor with the fewest effects, while their effects add up to at most
    :data:`PARTIAL_SCHUR_MAX`; the factor with the most effects is always sampled.

    A factor with few levels sampled next to many others (InstEval's 14 departments next to 1,128 lecturers) mixes
    slowly: its effects and the means of the other factors' effects within its levels form ridges.  Integrated out,
    it costs a small dense factor per gradient - but on InstEval the ridge moves to the sampled lecturers (min bulk
    ESS 247 on the departments' SD and 755 on the intercept, against 362 and 1058 with the departments sampled
    centred and absorbing the intercept; 4 x (500 + 500), docs/bayes.md), so :data:`PARTIAL_SCHUR_MAX` is 0: the
    automatic choice samples every factor but the block factor, and a Schur part is built only when the builder
    is given one (``build_model(..., schur=...)``)."""
    sizes: dict[str, int] = {}
    for t in design.terms:
        if t.group != group:
            sizes[t.group] = sizes.get(t.group, 0) + t.n_random
    order = sorted(sizes, key=lambda g: sizes[g])[:-1]  # the largest is sampled
    chosen: list[str] = []
    total = 0
    for g in order:
        if total + sizes[g] > PARTIAL_SCHUR_MAX:
            break
        chosen.append(g)
        total += sizes[g]
    return tuple(k for k, t in enumerate(design.terms) if t.group in chosen)


def _reml(design: ModelMatrices) -> Any:
    """The REML estimate without derivatives, or None when the fit fails."""
    from ..exceptions import MixbayesError
    from ..likelihood.lmm import LmmControl, fit_lmm

    try:
        return fit_lmm(design, reml=True, control=LmmControl(calc_derivs=False), emit_warnings=False)
    except MixbayesError:
        return None


def centred_terms(design: ModelMatrices, group: str | None, reml: Any = None, exclude: tuple[int, ...] = ()
                  ) -> tuple[int, ...]:
    """The terms of the factors other than ``group`` whose effects the partial form samples centred (b itself,
    b ~ N(0, Sigma)) rather than non-centred (b = z L').

    Centring pays where the data inform a level's effects more than the prior does; the non-centred form where
    they inform them less (Papaspiliopoulos, Roberts and Skold 2007).  The information of level j in the
    spherical direction c is (T' Z_j'W Z_j T)_cc, with T the term's relative covariance factor at the REML
    estimate (a fit without derivatives; milliseconds to seconds).  A term is centred when, at the median
    level, every direction carries more than :data:`CENTRE_INFORMATION` (the prior's own information, 1): a
    lecturer with 65 ratings in InstEval (about 12), not an item's interaction slope in a 2 x 2 design
    (about 0.04).  ``reml``: the REML estimate (fitted here when None); when the fit fails, every term stays
    non-centred.
    """
    others = [k for k, t in enumerate(design.terms) if t.group != group and k not in exclude]
    reml = _reml(design) if reml is None and others else reml
    if not others or reml is None:
        return ()
    theta = reml.theta
    w = np.asarray(design.weights, dtype=float)
    out = []
    for k in others:
        t = design.terms[k]
        T = t.factor(theta)
        C = level_crossproducts(np.asarray(t.z, dtype=float), np.asarray(t.codes), w, t.n_levels)
        info = np.einsum("ca,jcd,da->ja", T, C, T)  # diag(T' Z_j'W Z_j T) per level
        if float(np.median(info.min(axis=1))) > CENTRE_INFORMATION:
            out.append(k)
    return tuple(out)


def _why(design: ModelMatrices, marginalize: bool | str) -> str:
    if not marginalisable(design):
        return "only Gaussian models with the identity link can be marginalised"
    if marginalize == "block":
        return "the block form needs a single grouping factor with at most 6 columns per level"
    if marginalize == "partial":
        return ("the partial form needs two or more grouping factors, one of them with at most 6 columns per "
                "level (its effects are integrated out, the others' sampled)")
    if marginalize == "schur":
        return ("the blocked-Schur form needs two or more grouping factors, one of them with at most 6 columns "
                f"per level, and at most {DENSE_LIMIT} effects in the other factors")
    return f"{design.n_random} random effects exceed the dense form's limit of {DENSE_LIMIT}"


def marginal_form(design: ModelMatrices) -> str | None:
    """The form the automatic choice samples (``"block"``, ``"schur"``, ``"dense"``), or None when it samples the
    random effects (non-centred); see :func:`mixbayes.bayes.forms.choose_form`.

    Only Gaussian models with the identity link can be marginalised.
    """
    form = choose_form(design).form
    return None if form == "noncentred" else form
