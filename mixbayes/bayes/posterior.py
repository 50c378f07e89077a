"""From the sampler's draws to the model's quantities, in NumPy: :class:`ParameterDraws`.

Every sampler returns the free variables of :mod:`mixbayes.bayes.builder`; this module turns them into the
fixed effects on the original scale, the SDs, correlations and covariance factors of each term, the random
effects (drawn from their exact conditional distribution when they were integrated out), linear predictors,
pointwise log-likelihoods and predictive draws.  Work over draws is done in chunks to bound memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..design.matrices import ModelMatrices
from ..exceptions import NotSupportedError
from ..families import Family
from .builder import BuiltModel, n_trials, prior_weights
from .schur import SchurMarginal

__all__ = ["ParameterDraws", "draw_observations", "log_likelihood", "simulate_response"]

_CHUNK_ELEMENTS = 4_000_000


def _chunks(S: int, width: int) -> Iterator[slice]:
    step = max(1, _CHUNK_ELEMENTS // max(width, 1))
    for start in range(0, S, step):
        yield slice(start, min(S, start + step))


@dataclass(kw_only=True)
class ParameterDraws:
    """Posterior (or prior) draws of the model's quantities, each with leading (chain, draw) dimensions.

    Attributes
    ----------
    beta : (C, D, p) fixed effects on the original scale.
    beta_c : (C, D, p) the sampled (centred-predictor) coefficients.
    sigma : (C, D) residual SD, or None.
    dispersion : (C, D) negative-binomial dispersion, or None.
    sd : per term, (C, D, q) SDs.
    cor_chol : per term, (C, D, q, q) Cholesky factors of the correlation matrices.
    b : per term, (C, D, levels, q) random effects.
    """

    beta: np.ndarray
    beta_c: np.ndarray
    sigma: np.ndarray | None
    dispersion: np.ndarray | None
    sd: list[np.ndarray]
    cor_chol: list[np.ndarray]
    b: list[np.ndarray]

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.beta.shape[:2])  # type: ignore[return-value]

    @property
    def n_samples(self) -> int:
        return int(np.prod(self.shape))

    def chol(self, k: int) -> np.ndarray:
        """(C, D, q, q) Cholesky factor of term k's covariance: diag(sd) chol(R)."""
        return self.sd[k][..., :, None] * self.cor_chol[k]

    def cov(self, k: int) -> np.ndarray:
        L = self.chol(k)
        return L @ np.swapaxes(L, -1, -2)

    def corr(self, k: int) -> np.ndarray:
        R = self.cor_chol[k]
        return R @ np.swapaxes(R, -1, -2)

    @staticmethod
    def flat(x: np.ndarray) -> np.ndarray:
        """Merge the (chain, draw) dimensions."""
        return x.reshape(-1, *x.shape[2:])

    # ---- construction ----------------------------------------------------------------------------------------
    @classmethod
    def from_free(cls, built: BuiltModel, draws: dict[str, np.ndarray], design: ModelMatrices,
                  rng: np.random.Generator, random_effects: str = "posterior") -> ParameterDraws:
        """Assemble from free-variable draws.

        ``random_effects``: ``"posterior"`` (from z, or from the exact conditional when integrated out),
        ``"prior"`` (new draws from N(0, Sigma): prior predictive simulation) or ``"none"``.
        """
        some = next(iter(draws.values()))
        lead = some.shape[:2]
        p = design.n_fixef
        beta_c = built.fixef.assemble(draws) if p else np.zeros((*lead, 0))
        beta = beta_c.copy()
        if built.icpt is not None:
            beta[..., built.icpt] -= beta_c @ built.x_means
        sigma = np.asarray(draws[built.sigma]) if built.sigma else None
        disp = np.asarray(draws[built.dispersion]) if built.dispersion else None
        sds, cors = [], []
        for spec in built.terms:
            sds.append(spec.sd.assemble(draws))
            q = len(spec.columns)
            cors.append(np.asarray(draws[spec.cor]) if spec.cor else np.ones((*lead, 1, 1)))
            assert cors[-1].shape[-1] == q
        out = cls(beta=beta, beta_c=beta_c, sigma=sigma, dispersion=disp, sd=sds, cor_chol=cors, b=[])
        if random_effects == "none":
            return out
        sampled = [random_effects == "prior" or spec.z is not None for spec in built.terms]
        for k, (spec, t) in enumerate(zip(built.terms, design.terms, strict=True)):
            if not sampled[k]:
                out.b.append(np.zeros(0))  # drawn below from the conditional distribution
                continue
            if random_effects == "prior":
                z = rng.standard_normal((*lead, t.n_levels, t.q))
            else:
                assert spec.z is not None
                z = np.asarray(draws[spec.z])
                if spec.centred:  # the effects themselves (with the fixed intercept in column ``shift``)
                    b = np.array(z, dtype=float).reshape(*lead, t.n_levels, t.q)
                    if spec.shift is not None and built.icpt is not None:
                        b[..., spec.shift] -= out.beta_c[..., built.icpt][..., None]
                    out.b.append(b)
                    continue
            out.b.append(np.einsum("cdlj,cdij->cdli", z, out.chol(k)))
        if not all(sampled):
            inner = out._conditional_b(built, design, rng)
            integrated = [k for k, done in enumerate(sampled) if not done]
            for k, bk in zip(integrated, inner, strict=True):
                out.b[k] = bk
        return out

    def _conditional_b(self, built: BuiltModel, design: ModelMatrices, rng: np.random.Generator) -> list[np.ndarray]:
        """Draw the integrated-out random effects from their conditional given each draw's parameters (and, in the
        ``partial`` form, given the sampled effects of the other factors, already in ``self.b``)."""
        assert built.marginal is not None and self.sigma is not None
        C, D = self.shape
        beta_c = self.flat(self.beta_c)
        sigma = self.flat(self.sigma)
        T = [self.flat(self.chol(k)) / sigma[:, None, None] for k in range(len(self.sd))]
        Xc, off, y = _rows_data(built, design)
        if built.mode == "schur":
            response = y if built.from_blocks else y - off  # from blocks: the response cross-products
            bs = built.marginal.draw(response, beta_c, sigma, T, rng)  # type: ignore[call-arg]
            return [bk.reshape(C, D, *bk.shape[1:]) for bk in bs]
        inner = [k for k, spec in enumerate(built.terms) if spec.z is None]
        outer = [k for k, spec in enumerate(built.terms) if spec.z is not None]
        rows = built.rows
        out = [np.empty((C * D, design.terms[k].n_levels, design.terms[k].q)) for k in inner]
        gathers = [(k, np.asarray(design.terms[k].codes)[rows], np.asarray(design.terms[k].z)[rows]) for k in outer]
        if isinstance(built.marginal, SchurMarginal):  # partial form with a Schur part: draw by draw
            keep = built.marginal.beta_columns or []
            for s_ in range(C * D):
                one = slice(s_, s_ + 1)
                resp = y - off - sum(_gathered(self.flat(self.b[k])[one], codes, z)[0] for k, codes, z in gathers)
                bs = built.marginal.draw(resp, beta_c[one][:, keep], sigma[one], [Tk[one] for Tk in T], rng)
                for i, k in enumerate(inner):
                    out[i][s_] = bs[k][0]
            return [o.reshape(C, D, *o.shape[1:]) for o in out]
        width = built.marginal.width + len(y) * sum(design.terms[k].q for k in outer)
        for sl in _chunks(C * D, width):
            r = y - beta_c[sl] @ Xc.T - off
            for k, codes, z in gathers:  # the sampled effects of the other factors
                r -= _gathered(self.flat(self.b[k])[sl], codes, z)
            bs = built.marginal.draw(r, sigma[sl], [Tk[sl] for Tk in (T[k] for k in inner)], rng)
            for k, bk in enumerate(bs):
                out[k][sl] = bk
        return [o.reshape(C, D, *o.shape[1:]) for o in out]

    # ---- linear predictor ----------------------------------------------------------------------------------------
    def eta(self, design: ModelMatrices, rows: np.ndarray | None = None, sl: slice | None = None) -> np.ndarray:
        """(S, n) linear predictor on the fitted data (flattened draws, optionally a slice of them)."""
        rows = np.ones(design.n_obs, bool) if rows is None else rows
        beta = self.flat(self.beta)
        sl = slice(None) if sl is None else sl
        eta = beta[sl] @ np.asarray(design.X)[rows].T + np.asarray(design.offset)[rows]
        for k, t in enumerate(design.terms):
            b = self.flat(self.b[k])[sl]
            eta += _gathered(b, np.asarray(t.codes)[rows], np.asarray(t.z)[rows])
        return eta


def _gathered(b: np.ndarray, codes: np.ndarray, z: np.ndarray) -> np.ndarray:
    """(S, n) contribution Z b of one term's effects b (S, levels, q) at rows with level ``codes`` and columns z."""
    return np.einsum("snj,nj->sn", b[:, codes, :], z)


def _rows_data(built: BuiltModel, design: ModelMatrices) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = built.rows
    Xc = (np.asarray(design.X, dtype=float) - built.x_means)[rows]
    return Xc, np.asarray(design.offset, dtype=float)[rows], built.observed


def log_likelihood(built: BuiltModel, design: ModelMatrices, pd_: ParameterDraws,
                   unit: str = "observation") -> tuple[np.ndarray, str]:
    """Pointwise log-likelihood, (C, D, units), and the unit: ``"observation"`` (default: each observation given
    the random effects of each draw, which a marginalised fit draws from their conditional distribution) or
    ``"group"`` (the marginal likelihood of each level of the single grouping factor; only for fits whose random
    effects were integrated out in the block form)."""
    C, D = pd_.shape
    S = C * D
    if unit not in ("observation", "group"):
        raise NotSupportedError(f"unit must be 'observation' or 'group', not {unit!r}")
    if unit == "group" and built.mode != "block":
        raise NotSupportedError("a per-group log-likelihood needs a fit whose random effects were integrated out "
                                "(a Gaussian model with one grouping factor fitted with marginalize=True)")
    if unit == "group":
        assert built.marginal is not None and pd_.sigma is not None
        sigma = pd_.flat(pd_.sigma)
        T = [pd_.flat(pd_.chol(k)) / sigma[:, None, None] for k in range(len(pd_.sd))]
        Xc, off, y = _rows_data(built, design)
        beta_c = pd_.flat(pd_.beta_c)
        out = np.empty((S, built.marginal.J))
        for sl in _chunks(S, built.marginal.width):
            out[sl] = built.marginal.loglik(y - beta_c[sl] @ Xc.T - off, sigma[sl], [Tk[sl] for Tk in T])
        return out.reshape(C, D, -1), "group"
    rows = built.rows
    y = built.observed
    out = np.empty((S, int(rows.sum())))
    width = len(y) * (3 + max((t.q for t in design.terms), default=0))
    for sl in _chunks(S, width):
        eta = pd_.eta(design, rows, sl)
        out[sl] = _pointwise(design, rows, y, eta, pd_, sl)
    return out.reshape(C, D, -1), "observation"


def _pointwise(design: ModelMatrices, rows: np.ndarray, y: np.ndarray, eta: np.ndarray, pd_: ParameterDraws,
               sl: slice) -> np.ndarray:
    trials = n_trials(design)
    return design.family.pointwise_logpdf(
        y, eta, sigma=_draws_of(pd_, pd_.sigma, sl), dispersion=_draws_of(pd_, pd_.dispersion, sl),
        weights=np.asarray(design.weights, dtype=float)[rows], prior_weights=prior_weights(design)[rows],
        trials=None if trials is None else trials[rows])


def _draws_of(pd_: ParameterDraws, x: np.ndarray | None, sl: slice) -> np.ndarray | None:
    """The draws ``sl`` of a scalar parameter as a column (S, 1), or None when the model has no such parameter."""
    return None if x is None else pd_.flat(x)[sl][:, None]


def draw_observations(family: Family, mu: np.ndarray, pd_: ParameterDraws, sl: slice, rng: np.random.Generator,
                      weights: np.ndarray | None = None, trials: np.ndarray | None = None) -> np.ndarray:
    """New observations given their means ``mu`` (S, n) under the draws ``sl`` of the parameters (see
    :meth:`~mixbayes.families.Family.simulate`; ``trials`` None: one trial)."""
    return family.simulate(mu, rng, sigma=_draws_of(pd_, pd_.sigma, sl), dispersion=_draws_of(pd_, pd_.dispersion, sl),
                           weights=weights, trials=trials)


def simulate_response(design: ModelMatrices, built: BuiltModel, eta: np.ndarray, pd_: ParameterDraws, sl: slice,
                      rng: np.random.Generator) -> np.ndarray:
    """Draws of the observed values (response, or binomial successes) given the linear predictor."""
    fam = design.family
    rows = built.rows
    trials = n_trials(design)
    return draw_observations(fam, fam.link.inverse_numpy(eta), pd_, sl, rng,
                             weights=np.asarray(design.weights, dtype=float)[rows],
                             trials=None if trials is None else trials[rows])


def predictive_draws(design: ModelMatrices, built: BuiltModel, pd_: ParameterDraws,
                     rng: np.random.Generator) -> np.ndarray:
    """(C, D, n) draws of new observations at the fitted data's rows (posterior or prior predictive)."""
    C, D = pd_.shape
    S = C * D
    rows = built.rows
    out = np.empty((S, int(rows.sum())))
    width = int(rows.sum()) * (3 + max((t.q for t in design.terms), default=0))
    for sl in _chunks(S, width):
        out[sl] = simulate_response(design, built, pd_.eta(design, rows, sl), pd_, sl, rng)
    return out.reshape(C, D, -1)
