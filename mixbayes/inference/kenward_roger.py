"""Kenward-Roger: the adjusted covariance of the fixed effects and the df of t and F tests, as pbkrtest computes them.

pbkrtest works on the variance-parameter scale: the marginal covariance of y is

    Sigma = sum_r gamma_r G_r,

with gamma the variances and covariances of every random-effects term (lower triangle of each term's covariance
matrix, in the response's squared units) followed by the residual variance, G_r = Z_t (I (x) E_ij) Z_t' for a
term's entry (i, j) (E_ij symmetric, ones at (i, j) and (j, i)) and G_residual = I.  With Phi the usual covariance of
beta and

    P_r = -X' Sigma^-1 G_r Sigma^-1 X,        Q_rs = X' Sigma^-1 G_r Sigma^-1 G_s Sigma^-1 X,
    I_rs = tr(Sigma^-1 G_r Sigma^-1 G_s) - 2 tr(Phi Q_rs) + tr(Phi P_r Phi P_s),    W = 2 I^-1,

the adjusted covariance is Phi_A = Phi + 2 Phi U Phi with U = sum_rs W_rs (Q_rs - P_r Phi P_s) (Kenward & Roger
1997, pbkrtest's ``vcovAdj``).  For a hypothesis L beta = 0 of rank q, Theta = L'(L Phi L')^-1 L and

    A1 = sum_rs W_rs tr(Theta Phi P_r Phi) tr(Theta Phi P_s Phi),
    A2 = sum_rs W_rs tr(Theta Phi P_r Phi Theta Phi P_s Phi)

give the denominator df and the F scaling (pbkrtest's ``.KR_adjust``/``Lb_ddf``).

Like pbkrtest, the residual block is G = I even for a fit with prior weights (pbkrtest ignores the weights there,
while Phi is the weighted fit's covariance); this reproduces pbkrtest's numbers for weighted fits.

The algebra never forms an n x n matrix: Sigma = sigma^2 (I + Z Lambda Lambda' Z') is inverted by Woodbury's
identity, so memory is O(n q) for q random effects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import linalg, stats

from ..exceptions import NotSupportedError
from .contrasts import as_contrast_matrix, contrast_labels, t_table

if TYPE_CHECKING:
    from ..protocols import LmmFitLike as LmmFit

__all__ = ["KRAdjustment", "KRTest", "kenward_roger_adjustment", "kenward_roger_table", "kr_test",
           "vcov_adjusted"]

#: Largest n * q (observations times random effects) handled: the dense n x q work arrays take 8 n q bytes.
MAX_NQ = 50_000_000


@dataclass(kw_only=True, frozen=True)
class KRAdjustment:
    """The pieces of pbkrtest's ``vcovAdj`` for one fit.

    Attributes
    ----------
    vcov : Phi, the unadjusted covariance of the fixed effects.
    vcov_adjusted : Phi_A, the Kenward-Roger adjusted covariance.
    P : (k, p, p) the P_r matrices, one per variance parameter.
    W : (k, k) twice the inverse of the expected information of the variance parameters.
    condition : the smallest absolute eigenvalue of the information (pbkrtest's ``condi``; a generalised
        inverse is used below 1e-10).
    parameters : names of the variance parameters gamma (term variances/covariances, then the residual).
    """

    vcov: np.ndarray
    vcov_adjusted: np.ndarray
    P: np.ndarray
    W: np.ndarray
    condition: float
    parameters: tuple[str, ...]


@dataclass(kw_only=True, frozen=True)
class KRTest:
    """A Kenward-Roger F test of L beta = beta_H (pbkrtest's ``KRmodcomp`` statistics).

    Attributes
    ----------
    ndf, ddf : numerator (rank of L) and denominator degrees of freedom.
    F_unscaled : the Wald statistic with the adjusted covariance, divided by ndf (``FstatU``).
    F_scaling : the scaling factor (1 when no scaling is needed).
    F : ``F_scaling * F_unscaled``, the statistic referred to F(ndf, ddf).
    p_value, p_value_unscaled : upper-tail F probabilities of ``F`` and ``F_unscaled``.
    aux : A1, A2, V0, V1, V2, rho (pbkrtest's ``aux``).
    """

    ndf: int
    ddf: float
    F: float
    F_unscaled: float
    F_scaling: float
    p_value: float
    p_value_unscaled: float
    aux: dict[str, float]


def _require_reml(fit: LmmFit) -> None:
    if not fit.reml:
        raise NotSupportedError("Kenward-Roger's method is only available for REML fits; refit with REML=True "
                                "(or use ddf='satterthwaite')")


def _parameters(fit: LmmFit) -> tuple[list[list[tuple[np.ndarray, np.ndarray]]], list[str]]:
    """Per variance parameter, the (B, C) column-index pairs with G_r = sum Z[:, B] Z[:, C]'."""
    d = fit.design
    gp = d.Gp
    params: list[list[tuple[np.ndarray, np.ndarray]]] = []
    names: list[str] = []
    for k, t in enumerate(d.terms):
        levels = np.arange(t.n_levels) * t.q + gp[k]
        rows, cols = t.tril_index
        for i, j in zip(rows, cols, strict=True):
            bi, bj = levels + i, levels + j
            if i == j:
                params.append([(bi, bi)])
                names.append(f"var({t.columns[i]}|{t.group})")
            else:
                params.append([(bi, bj), (bj, bi)])
                names.append(f"cov({t.columns[i]},{t.columns[j]}|{t.group})")
    names.append("residual")
    return params, names


def _kr_adjust(fit: LmmFit) -> KRAdjustment:
    _require_reml(fit)
    d = fit.design
    n, q, p = d.n_obs, d.n_random, d.n_fixef
    if n * q > MAX_NQ:
        raise NotSupportedError(f"Kenward-Roger needs dense n x q work arrays ({n} observations x {q} random "
                                f"effects = {n * q:.3g} entries > {MAX_NQ:.3g}); use ddf='satterthwaite'")
    s2 = fit.sigma**2
    X = np.asarray(d.X, dtype=float)
    Z = d.Z.tocsc()
    Zt = (Z @ d.Lambda(fit.theta)).tocsc()  # Z Lambda
    ZtZt = (Zt.T @ Zt).toarray()
    M = ZtZt + np.eye(q)
    cM = linalg.cho_factor(M, lower=True)

    def apply_S(V: np.ndarray) -> np.ndarray:
        """Sigma^-1 V = sigma^-2 (V - Z~ M^-1 Z~'V)."""
        return (V - Zt @ linalg.cho_solve(cM, np.asarray(Zt.T @ V))) / s2

    SX = apply_S(X)
    SZ = apply_S(Z.toarray())
    A = np.asarray(Z.T @ SZ)  # Z' S Z
    F = np.asarray(Z.T @ SX).T  # X' S Z  (p x q)
    K = SZ.T @ SZ  # Z' S^2 Z
    H = SX.T @ SZ  # X' S^2 Z
    XS2X = SX.T @ SX
    XS3X = SX.T @ apply_S(SX)
    MZ = linalg.cho_solve(cM, ZtZt)
    trS2 = (n - 2.0 * np.trace(MZ) + np.sum(MZ * MZ.T)) / s2**2

    params, names = _parameters(fit)
    k = len(params) + 1
    res = k - 1
    Phi = fit.estimate.vcov
    P = np.empty((k, p, p))
    for r, pairs in enumerate(params):
        P[r] = -sum(F[:, b] @ F[:, c].T for b, c in pairs)
    P[res] = -XS2X
    P = 0.5 * (P + np.swapaxes(P, 1, 2))  # pbkrtest's forceSymmetric (exact in theory)

    def Q(r: int, s: int) -> np.ndarray:
        if r == res and s == res:
            return XS3X
        if r == res:
            return sum(H[:, b2] @ F[:, c2].T for b2, c2 in params[s])
        if s == res:
            return sum(F[:, b] @ H[:, c].T for b, c in params[r])
        return sum(F[:, b] @ A[np.ix_(c, b2)] @ F[:, c2].T for b, c in params[r] for b2, c2 in params[s])

    def Ktrace(r: int, s: int) -> float:
        if r == res and s == res:
            return float(trS2)
        if r == res or s == res:
            other = params[s] if r == res else params[r]
            return float(sum(np.trace(K[np.ix_(c, b)]) for b, c in other))
        return float(sum(np.sum(A[np.ix_(c, b2)] * A[np.ix_(c2, b)].T) for b, c in params[r]
                         for b2, c2 in params[s]))

    Qs: dict[tuple[int, int], np.ndarray] = {}
    IE2 = np.empty((k, k))
    for r in range(k):
        PhiPr = Phi @ P[r]
        for s in range(r, k):
            Qs[r, s] = Q(r, s)
            IE2[r, s] = IE2[s, r] = (Ktrace(r, s) - 2.0 * np.sum(Phi * Qs[r, s])
                                     + np.sum(PhiPr * (P[s] @ Phi)))
    condition = float(np.min(np.abs(np.linalg.eigvalsh(IE2))))
    W = 2.0 * (np.linalg.inv(IE2) if condition > 1e-10 else np.linalg.pinv(IE2))
    W = 0.5 * (W + W.T)
    U = np.zeros((p, p))
    for r in range(k):
        for s in range(r + 1, k):
            U += W[r, s] * (Qs[r, s] - P[r] @ Phi @ P[s])
    U = U + U.T
    for r in range(k):
        U += W[r, r] * (Qs[r, r] - P[r] @ Phi @ P[r])
    PhiA = Phi + 2.0 * Phi @ U @ Phi
    return KRAdjustment(vcov=Phi, vcov_adjusted=PhiA, P=P, W=W, condition=condition, parameters=(*names,))


def kenward_roger_adjustment(fit: LmmFit) -> KRAdjustment:
    """pbkrtest's ``vcovAdj`` for a REML fit (computed once per fit and cached)."""
    cached = fit.estimate.kr_adjustment
    if cached is None:
        cached = _kr_adjust(fit)
        fit.estimate.kr_adjustment = cached
    return cached


def vcov_adjusted(fit: LmmFit) -> pd.DataFrame:
    """The Kenward-Roger adjusted covariance matrix of the fixed effects (pbkrtest's ``vcovAdj``)."""
    names = list(fit.design.fixef_names)
    return pd.DataFrame(kenward_roger_adjustment(fit).vcov_adjusted, index=names, columns=names)


def _div_zero(x: float, y: float, tol: float = 1e-14) -> float:
    return 1.0 if abs(x) < tol and abs(y) < tol else x / y


def _a1_a2(adj: KRAdjustment, L: np.ndarray) -> tuple[float, float]:
    Phi = adj.vcov
    Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
    u = [Theta @ Phi @ Pr @ Phi for Pr in adj.P]
    tr = np.array([np.trace(ui) for ui in u])
    k = len(u)
    A1 = A2 = 0.0
    for i in range(k):
        for j in range(i, k):
            e = 1.0 if i == j else 2.0
            A1 += e * adj.W[i, j] * tr[i] * tr[j]
            A2 += e * adj.W[i, j] * float(np.sum(u[i] * u[j].T))
    return A1, A2


def _full_row_rank(L: np.ndarray) -> np.ndarray:
    """pbkrtest's ``force_full_rank``: an orthonormal basis of the row space when L is rank deficient."""
    rank = np.linalg.matrix_rank(L)
    if rank < L.shape[0]:
        q, _ = np.linalg.qr(L.T)
        return q[:, :rank].T
    return L


def kr_test(fit: LmmFit, L: Any, rhs: Any = 0.0) -> KRTest:
    """Kenward-Roger F test of ``L beta = rhs`` (pbkrtest's ``KRmodcomp(fit, L)``; lmerTest's
    ``contest(ddf="Kenward-Roger")``).

    Parameters
    ----------
    fit : a REML fit.
    L : (q, p) hypothesis matrix (or a length-p vector).
    rhs : right-hand side; nonzero values are handled as lmerTest does (``betaH = ginv(L) rhs``).
    """
    adj = kenward_roger_adjustment(fit)
    L = as_contrast_matrix(fit, L)
    rhs_v = np.broadcast_to(np.asarray(rhs, dtype=float), (L.shape[0],))
    beta_h = np.linalg.pinv(L) @ rhs_v if np.any(rhs_v != 0) else np.zeros(L.shape[1])
    L = _full_row_rank(L)
    q = int(np.linalg.matrix_rank(L))
    A1, A2 = _a1_a2(adj, L)
    B = (A1 + 6.0 * A2) / (2.0 * q)
    g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
    denom = 3 * q + 2 * (1 - g)
    c1, c2, c3 = g / denom, (q - g) / denom, (q + 2 - g) / denom
    V0 = 1.0 + c1 * B
    V1 = 1.0 - c2 * B
    V2 = 1.0 - c3 * B
    if abs(V0) < 1e-10:
        V0 = 0.0
    rho = _div_zero(1.0 - A2 / q, V1) ** 2 * V0 / V2 / q
    ddf = 4.0 + (q + 2) / (q * rho - 1.0)
    scaling = 1.0 if abs(ddf - 2.0) < 0.01 else ddf * (1.0 - A2 / q) / (ddf - 2.0)
    diff = fit.beta - beta_h
    Lb = L @ diff
    wald = float(Lb @ np.linalg.solve(L @ adj.vcov_adjusted @ L.T, Lb))
    FU = wald / q
    Fs = scaling * FU
    return KRTest(ndf=q, ddf=float(ddf), F=float(Fs), F_unscaled=float(FU), F_scaling=float(scaling),
                  p_value=float(stats.f.sf(Fs, q, ddf)), p_value_unscaled=float(stats.f.sf(FU, q, ddf)),
                  aux={"A1": A1, "A2": A2, "V0": V0, "V1": V1, "V2": V2, "rho": rho, "F.scaling": scaling})


def kr_t_df(fit: LmmFit, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(adjusted variance l' Phi_A l, Kenward-Roger df) for each row l of L (pbkrtest's ``Lb_ddf``)."""
    adj = kenward_roger_adjustment(fit)
    L = np.atleast_2d(np.asarray(L, dtype=float))
    var = np.einsum("ij,jk,ik->i", L, adj.vcov_adjusted, L)
    df = np.empty(len(L))
    for i, row in enumerate(L):
        A1, A2 = _a1_a2(adj, row[None, :])
        B = (A1 + 6.0 * A2) / 2.0
        g = (2.0 * A1 - 5.0 * A2) / (3.0 * A2)
        denom = 3.0 + 2.0 * (1.0 - g)
        c1, c2, c3 = g / denom, (1.0 - g) / denom, (3.0 - g) / denom
        V0 = 1.0 + c1 * B
        V1 = 1.0 - c2 * B
        V2 = 1.0 - c3 * B
        if abs(V0) < 1e-10:
            V0 = 0.0
        rho = _div_zero(1.0 - A2, V1) ** 2 * V0 / V2
        df[i] = 4.0 + 3.0 / (rho - 1.0)
    return var, df


def kenward_roger_table(fit: LmmFit, L: Any = None) -> pd.DataFrame:
    """t tests with Kenward-Roger's adjusted standard errors and df (lmerTest's ``ddf="Kenward-Roger"``).

    Columns Estimate, Std. Error (the square root of the adjusted variance), df, t value and Pr(>|t|); one row per
    fixed effect, or per row of the contrast matrix ``L``.
    """
    _require_reml(fit)
    names = list(fit.design.fixef_names)
    if L is None:
        Lm = np.eye(len(names))
        index = names
    else:
        Lm = as_contrast_matrix(fit, L)
        index = contrast_labels(L, len(Lm))
    var, df = kr_t_df(fit, Lm)
    return t_table(Lm @ fit.beta, var, df, index)
