"""Penalised iteratively reweighted least squares (PIRLS) and the GLMM objectives built on it.

For fixed theta (and beta, or with beta estimated alongside), PIRLS finds the conditional mode u of the
spherical random effects by minimising the penalised deviance  sum dev_i(y, mu(u)) + |u|^2.  Each step is the
weighted penalised least-squares problem of the LMM engine, with working weights w and working response z.

Objectives (lme4's conventions; Laplace values are -2 log-likelihood):
  Laplace (nAGQ = 0 and 1):  -2 sum loglik_i(y, mu) + |u|^2 + log|L|^2
  AGQ (nAGQ > 1, one scalar term): sum_j devc0_j + log|L|^2 - 2 sum_j log( sum_k w_k exp(-(devc_j(u_j + z_k s_j)
      - devc0_j)/2 + z_k^2/2) ), devc_j = u_j^2 + sum of the deviance residuals of group j (lme4's glmerAGQ,
      which leaves out the family's normalising constants).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..design.matrices import ModelMatrices
from ..design.terms import relative_effects
from ..exceptions import FitError
from ..families import BoundFamily, Family
from .crossprod import CrossProductPlan
from .factor import BlockedFactor, NotPositiveDefinite

__all__ = ["GlmmWorkspace", "PirlsFailure", "gauss_hermite"]


class PirlsFailure(FitError):
    """PIRLS did not converge (step halving failed or the iteration limit was reached).  A :class:`FitError`, so
    that one escaping a public call is typed; :func:`~mixbayes.likelihood.glmm.fit_glmm` names its cause."""


def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for integrals against the standard normal density (weights sum to 1)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)
    return nodes, weights / np.sqrt(2.0 * np.pi)


@dataclass
class PirlsState:
    u: np.ndarray
    beta: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    pdev: float


class GlmmWorkspace:
    """Holds the design, the factorisations and the current conditional mode (warm starts between calls)."""

    def __init__(self, design: ModelMatrices, family: Family | None = None, observed_info: bool | None = None) -> None:
        self.design = design
        self.family = design.family if family is None else family
        self.y = design.y
        self.wt = design.weights
        self.trials = design.trials
        self.offset = design.offset
        self.X = design.X
        self.n, self.p = design.X.shape
        self.terms = design.terms
        self.q = design.n_random
        self.plan_u = CrossProductPlan(design.terms, 0)
        self.plan_ub = CrossProductPlan(design.terms, self.p)
        self._factor_u: BlockedFactor | None = None
        self._factor_ub: BlockedFactor | None = None
        self.u = np.zeros(self.q)
        self.beta = np.zeros(self.p)
        self.started = False
        # observed information in the log-determinant: glmmTMB's choice; lme4 uses the Fisher weights
        self.observed_info = self.family.observed_information if observed_info is None else observed_info
        self.factor: BlockedFactor | None = None
        self._empty_X = np.zeros((self.n, 0))
        self._scalar_single = len(self.terms) == 1 and self.terms[0].q == 1
        self._diag_logdet = 0.0
        self._bound = self.family.bind(self.y, self.wt, self.trials)

    @property
    def response(self) -> BoundFamily:
        """The family bound to the response (rebound when the family changes: the NB fit switches it)."""
        if self._bound.family is not self.family:
            self._bound = self.family.bind(self.y, self.wt, self.trials)
        return self._bound

    def loglik(self, mu: np.ndarray) -> float:
        """The family's log-likelihood at mu (R's aic convention: -aic/2)."""
        return self.response.loglik(mu)

    def scale(self, theta: np.ndarray, u: np.ndarray) -> float:
        """lme4's sigma of a GLMM: 1, or for families with a scale (Gaussian with a non-identity link, Gamma,
        inverse Gaussian) sqrt(pwrss / n), with pwrss the penalised weighted residual sum of squares at the mode
        u (the Pearson chi-square plus |u|^2)."""
        if not self.family.has_scale:
            return 1.0
        eta = self.X @ self.beta + self.offset + self.random_part(theta, u)
        mu = self.family.link.inverse(eta)
        return float(np.sqrt((self.response.pearson(mu) + float(u @ u)) / self.n))

    # ---- pieces ---------------------------------------------------------------------------------------
    def random_part(self, theta: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Z Lambda(theta) u."""
        out = np.zeros(self.n)
        for t, b in zip(self.terms, relative_effects(self.terms, theta, u), strict=True):
            out += t.z_times(b)
        return out

    def evaluate(self, theta: np.ndarray, u: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """(eta, mu, penalised deviance) at spherical random effects u and fixed effects b."""
        eta = self.X @ b + self.offset + self.random_part(theta, u)
        mu = self.family.valid_mu(self.family.link.inverse(eta))
        return eta, mu, self.penalised_deviance(mu, u)

    def working(self, eta: np.ndarray, mu: np.ndarray, off: np.ndarray,
                observed: bool) -> tuple[np.ndarray, np.ndarray]:
        """Working weights and response for the penalised least-squares step (``off`` is taken out of the
        response: the offset, plus X beta when beta is held fixed)."""
        fam = self.family
        if observed:
            w = fam.observed_weights(self.y, mu, eta, self.wt)
            return w, eta - off + fam.score(self.y, mu, eta, self.wt) / w
        w = fam.working_weights(mu, eta, self.wt)
        return w, eta - off + (self.y - mu) / fam.link.mu_eta(eta)

    def penalised_deviance(self, mu: np.ndarray, u: np.ndarray) -> float:
        return self.response.deviance(mu) + float(u @ u)

    def _factor(self, estimate_beta: bool) -> BlockedFactor:
        if estimate_beta:
            if self._factor_ub is None:
                cp = self.plan_ub.compute(self.X, np.zeros(self.n), np.ones(self.n))
                self._factor_ub = BlockedFactor(self.plan_ub, cp)
            return self._factor_ub
        if self._factor_u is None:
            cp = self.plan_u.compute(self._empty_X, np.zeros(self.n), np.ones(self.n))
            self._factor_u = BlockedFactor(self.plan_u, cp)
        return self._factor_u

    def _solve(self, theta: np.ndarray, w: np.ndarray, z: np.ndarray,
               estimate_beta: bool) -> tuple[np.ndarray, np.ndarray]:
        if not estimate_beta and self._scalar_single:
            # one scalar term, beta fixed: the system is diagonal, u_j = t c_j / (1 + t^2 a_j)
            term = self.terms[0]
            t = float(theta[0])
            zw = term.z[:, 0] * w
            a = np.bincount(term.codes, weights=zw * term.z[:, 0], minlength=term.n_levels)
            c = np.bincount(term.codes, weights=zw * z, minlength=term.n_levels)
            diag = 1.0 + t * t * a
            self._diag_logdet = float(np.sum(np.log(diag)))
            self.factor = None
            return np.zeros(0), t * c / diag
        factor = self._factor(estimate_beta)
        plan = self.plan_ub if estimate_beta else self.plan_u
        X = self.X if estimate_beta else self._empty_X
        factor.set_crossproducts(plan.compute(X, z, w))
        factor.update(theta)
        self.factor = factor
        beta, u = factor.solve()
        return beta, u

    # ---- PIRLS ---------------------------------------------------------------------------------------------
    def pirls(self, theta: np.ndarray, beta: np.ndarray | None = None, tol: float = 1e-12,
              maxit: int = 60) -> PirlsState:
        """Conditional mode at theta; beta fixed (given) or estimated alongside u (``beta=None``)."""
        fam = self.family
        estimate_beta = beta is None
        u = self.u.copy()
        b = self.beta.copy() if estimate_beta else np.asarray(beta, dtype=float)
        if not self.started:
            mu = fam.mustart(self.y, self.wt)
            eta = fam.link.link(mu)
            u[:] = 0.0
        else:
            eta = self.X @ b + self.offset + self.random_part(theta, u)
            mu = fam.valid_mu(fam.link.inverse(eta))
        pdev = self.penalised_deviance(mu, u) if self.started else np.inf
        converged = False
        for _ in range(maxit):
            # Newton steps (observed information) for non-canonical links (NB2); Fisher scoring otherwise
            w, z = self.working(eta, mu, self.offset if estimate_beta else self.offset + self.X @ b,
                                self.observed_info)
            try:
                b_new, u_new = self._solve(theta, w, z, estimate_beta)
            except NotPositiveDefinite as exc:
                raise PirlsFailure(str(exc)) from None
            if not estimate_beta:
                b_new = b
            # step halving on the penalised deviance
            step = 1.0
            while True:
                u_try = u + step * (u_new - u)
                b_try = b + step * (b_new - b) if estimate_beta else b
                eta_try, mu_try, pdev_try = self.evaluate(theta, u_try, b_try)
                if np.isfinite(pdev_try) and pdev_try <= pdev * (1 + 1e-14) + 1e-14:
                    break
                step *= 0.5
                if step < 1e-4:
                    break
            if step < 1e-4:
                # no decrease possible: at the mode up to rounding, or a failure
                if np.isfinite(pdev) and abs(pdev_try - pdev) <= 1e-9 * (1 + abs(pdev)):
                    converged = True
                    break
                raise PirlsFailure("PIRLS step halving failed to reduce the penalised deviance")
            change = abs(pdev - pdev_try)
            moved = float(np.max(np.abs(u_try - u))) if len(u) else 0.0
            u, b, eta, mu, pdev = u_try, b_try, eta_try, mu_try, pdev_try
            self.started = True
            if change <= tol * (abs(pdev) + 0.1) and moved < 1e-9 * (1 + float(np.max(np.abs(u), initial=0.0))):
                converged = True
                break
        if not converged:
            raise PirlsFailure(f"PIRLS did not converge in {maxit} iterations")
        self.u, self.beta, self.started = u, b, True
        return PirlsState(u, b, eta, mu, pdev)

    def _final_factor(self, theta: np.ndarray, state: PirlsState) -> BlockedFactor:
        """Factor of the random-effects part with the weights at the mode (Fisher, or observed information).

        Only log|L_theta|^2 is needed, so X is left out and the response block is a placeholder.
        """
        fam = self.family
        if self.observed_info:
            w = fam.observed_weights(self.y, state.mu, state.eta, self.wt)
        else:
            w = fam.working_weights(state.mu, state.eta, self.wt)
        factor = self._factor(False)
        cp = self.plan_u.compute(self._empty_X, np.zeros(self.n), w)
        cp.Arr[-1, -1] = 1.0
        factor.set_crossproducts(cp)
        factor.update(theta)
        self.factor = factor
        return factor

    def fisher_vcov(self, theta: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """(R_X'R_X)^{-1} of the (u, beta) system at the current mode: the covariance of beta given theta."""
        eta = self.X @ beta + self.offset + self.random_part(theta, self.u)
        mu = self.family.valid_mu(self.family.link.inverse(eta))
        w = self.family.working_weights(mu, eta, self.wt)
        factor = self._factor(True)
        cp = self.plan_ub.compute(self.X, np.zeros(self.n), w)
        cp.Arr[-1, -1] = 1.0
        factor.set_crossproducts(cp)
        factor.update(theta)
        return factor.unscaled_vcov_beta()

    def condvar_blocks(self, theta: np.ndarray, u: np.ndarray) -> list[np.ndarray]:
        """Var(u | y) blocks at the mode u (Fisher weights, as lme4's condVar for GLMMs)."""
        eta = self.X @ self.beta + self.offset + self.random_part(theta, u)
        mu = self.family.valid_mu(self.family.link.inverse(eta))
        state = PirlsState(u, self.beta, eta, mu, 0.0)
        observed = self.observed_info
        self.observed_info = False
        try:
            factor = self._final_factor(theta, state)
        finally:
            self.observed_info = observed
        return factor.conditional_u_blocks()

    # ---- lme4's objective -------------------------------------------------------------------------------------
    def sweep(self, theta: np.ndarray, beta: np.ndarray | None, eta0: np.ndarray, tol: float = 1e-7,
              maxit: int = 30) -> tuple[float, PirlsState]:
        """lme4's deviance function (``glmerLaplace``): PIRLS restarted from the linear predictor ``eta0`` at every
        call, stopped when the penalised deviance changes by less than ``tol`` (relative; lme4's ``tolPwrss``),
        with log|L|^2 from the last factorisation (weights before the final update).  Deterministic in the
        parameters, and equal to lme4's value to ~1e-10; the converged Laplace value is :meth:`laplace`.
        """
        fam = self.family
        estimate_beta = beta is None
        eta = np.asarray(eta0, dtype=float).copy()
        mu = fam.valid_mu(fam.link.inverse(eta))
        oldpdev = np.finfo(float).max
        off = self.offset if estimate_beta else self.offset + self.X @ beta
        u = np.zeros(self.q)
        b = self.beta if estimate_beta else np.asarray(beta, dtype=float)
        pdev = oldpdev
        for _ in range(maxit):
            w, z = self.working(eta, mu, off, observed=False)
            try:
                b_new, u_new = self._solve(theta, w, z, estimate_beta)
            except NotPositiveDefinite as exc:
                raise PirlsFailure(str(exc)) from None
            if not estimate_beta:
                b_new = b
            eta_new, mu_new, pdev = self.evaluate(theta, u_new, b_new)
            # lme4's pwrssUpdate: the convergence test comes first, then step halving towards the previous
            # iterate, which fails only when the deviance still rose by more than tol
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # pdev can be 0 (a perfect fit)
                done = bool(abs((oldpdev - pdev) / pdev) < tol) or oldpdev == pdev
            if not done and (np.isnan(pdev) or pdev > oldpdev):
                for _ in range(10):
                    if not (np.isnan(pdev) or pdev > oldpdev):
                        break
                    u_new, b_new = (u + u_new) / 2, (b + b_new) / 2
                    eta_new, mu_new, pdev = self.evaluate(theta, u_new, b_new)
                if np.isnan(pdev) or pdev - oldpdev > tol:
                    raise PirlsFailure("PIRLS step-halvings failed to reduce the deviance")
            u, b, eta, mu = u_new, b_new, eta_new, mu_new
            if done:
                break
            oldpdev = pdev
        else:
            raise PirlsFailure(f"pwrssUpdate did not converge in {maxit} iterations")
        ldL2 = self._diag_logdet if self.factor is None else self.factor.logdet_theta
        aic = -2.0 * self.loglik(mu)
        self.u, self.beta, self.started = u, b, True
        return aic + float(u @ u) + ldL2, PirlsState(u, b, eta, mu, pdev)

    # ---- objectives ------------------------------------------------------------------------------------------
    def laplace(self, theta: np.ndarray, beta: np.ndarray | None = None) -> float:
        """-2 log-likelihood by the Laplace approximation (beta profiled out when None: lme4's nAGQ = 0)."""
        state = self.pirls(theta, beta)
        factor = self._final_factor(theta, state)
        aic = -2.0 * self.loglik(state.mu)
        return aic + float(state.u @ state.u) + factor.logdet_theta

    def agq(self, theta: np.ndarray, beta: np.ndarray, nodes: np.ndarray, weights: np.ndarray) -> float:
        """lme4's adaptive Gauss-Hermite deviance for one scalar random-effects term."""
        term = self.terms[0]
        state = self.pirls(theta, beta)
        factor = self._final_factor(theta, state)
        L = factor.L11.ravel()
        sd = 1.0 / L
        fam = self.family
        codes = term.codes
        nl = term.n_levels

        def devc(u: np.ndarray) -> np.ndarray:
            eta = self.X @ beta + self.offset + self.random_part(theta, u)
            mu = fam.valid_mu(fam.link.inverse(eta))
            return u * u + np.bincount(codes, weights=fam.dev_resids(self.y, mu, self.wt), minlength=nl)

        devc0 = devc(state.u)
        mult = np.zeros(nl)
        for z, w in zip(nodes, weights, strict=True):
            if z == 0:
                mult += w
            else:
                mult += w * np.exp(-0.5 * (devc(state.u + z * sd) - devc0) + 0.5 * z * z)
        return float(devc0.sum() + factor.logdet_theta - 2.0 * np.sum(np.log(mult)))
