"""Which parameterisation the Bayesian fit samples: the cheapest by estimated cost per gradient evaluation.

Four forms (:data:`FORMS`):

* ``block`` - the random effects integrated out, one grouping factor, A block-diagonal
  (:class:`~mixbayes.bayes.marginal.BlockMarginal`);
* ``schur`` - integrated out through the blocked factor: one factor block-diagonal, the others in a dense Schur
  complement (:class:`~mixbayes.bayes.schur.SchurMarginal`);
* ``dense`` - integrated out with a dense q x q factor (:class:`~mixbayes.bayes.marginal.DenseMarginal`);
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

Marginal forms need a Gaussian model with the identity link.  The dense Schur complement and the dense form
are limited to :data:`DENSE_LIMIT` effects (memory of the q x q matrix and its Cholesky factor).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..design.matrices import ModelMatrices
from .marginal import BLOCK_MAX_Q

__all__ = ["CHOLESKY_GRADIENT", "DENSE_LIMIT", "FORMS", "GATHER_COST", "GRADIENT_OVERHEAD", "NONCENTRED_FACTOR",
           "FormChoice", "choose_form",
           "form_costs", "marginal_form"]

FORMS = ("block", "schur", "dense", "noncentred")
GRADIENT_OVERHEAD = 6.0e5
GATHER_COST = 30.0
NONCENTRED_FACTOR = 4.0
DENSE_LIMIT = 4000
CHOLESKY_GRADIENT = 3.0


@dataclass(frozen=True)
class FormChoice:
    """The chosen form, the estimated cost per gradient of every form (inf: not applicable) and the block
    factor of the ``schur`` form."""

    form: str
    costs: dict[str, float] = field(default_factory=dict)
    block_group: str | None = None

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
        candidates = [f for f in FORMS[:3] if marginalize is True or f == marginalize]
        form = min(candidates, key=lambda f: costs[f])
        if not np.isfinite(costs[form]):
            raise NotSupportedError(f"marginalize={marginalize!r}: {_why(design, marginalize)}")
    else:
        raise NotSupportedError(f"marginalize must be None, True, False or one of {', '.join(FORMS)}, "
                                f"not {marginalize!r}")
    return FormChoice(form, costs, group if form == "schur" else None)


def _why(design: ModelMatrices, marginalize: bool | str) -> str:
    if not marginalisable(design):
        return "only Gaussian models with the identity link can be marginalised"
    if marginalize == "block":
        return "the block form needs a single grouping factor with at most 6 columns per level"
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
