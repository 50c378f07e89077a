"""log|S| and c'S^-1 c of a symmetric positive-definite matrix through one Cholesky factor, with the analytic
gradient: a PyTensor Op (:func:`logdet_quad`) for the dense Schur complement of :mod:`mixbayes.bayes.schur`.

With S = L L' and w = L^-1 c,

    log|S| = 2 sum log diag(L),   c'S^-1 c = w'w,
    d log|S| / dS = S^-1,   d (c'S^-1 c) / dS = -v v',   d (c'S^-1 c) / dc = 2 v,   v = S^-1 c = L^-T w.

The reverse pass therefore needs S^-1 = L^-T L^-1 (two triangular solves against the identity) and nothing else;
differentiating through the Cholesky factorisation instead (what JAX and PyTensor do for ``cholesky``) costs about
twice as much at the sizes sampled here and many more kernels (benchmarks/form_gradients.py).  The JAX translation
(used by blackjax, numpyro and nutpie's JAX backend) carries the same rule as a ``jax.custom_vjp``; the other
backends use :meth:`LogdetQuad.L_op`.  A matrix that is not numerically positive definite gives NaN (a rejected
proposal), as PyTensor's ``cholesky(on_error="nan")``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.jax.dispatch import jax_funcify
from scipy import linalg as sla

__all__ = ["LogdetQuad", "logdet_quad"]


class LogdetQuad(Op):
    """(S, c) -> (log|S|, c'S^-1 c) for a symmetric positive-definite S (n x n) and a vector c (n,)."""

    __props__ = ()

    def make_node(self, S: Any, c: Any) -> Apply:
        S = pt.as_tensor_variable(S)
        c = pt.as_tensor_variable(c)
        if S.type.ndim != 2 or c.type.ndim != 1:
            raise TypeError("LogdetQuad takes a matrix and a vector")
        return Apply(self, [S, c], [pt.dscalar(), pt.dscalar()])

    def perform(self, node: Apply, inputs: list[np.ndarray], outputs: list[list[Any]]) -> None:
        S, c = inputs
        try:
            L = sla.cholesky(S, lower=True)
        except np.linalg.LinAlgError:
            outputs[0][0], outputs[1][0] = np.array(np.nan), np.array(np.nan)
            return
        w = sla.solve_triangular(L, c, lower=True)
        outputs[0][0] = np.array(2.0 * np.sum(np.log(np.diag(L))))
        outputs[1][0] = np.array(w @ w)

    def L_op(self, inputs: list[Any], outputs: list[Any], output_grads: list[Any]) -> list[Any]:
        from pytensor.gradient import DisconnectedType
        from pytensor.tensor import linalg

        S, c = inputs
        g_ld, g_q = output_grads
        g_ld = pt.zeros(()) if isinstance(g_ld.type, DisconnectedType) else g_ld
        g_q = pt.zeros(()) if isinstance(g_q.type, DisconnectedType) else g_q
        L = linalg.cholesky(S, lower=True, on_error="nan")
        Linv = linalg.solve_triangular(L, pt.eye(S.shape[0]), lower=True)
        Sinv = pt.dot(Linv.T, Linv)
        v = pt.dot(Sinv, c)
        return [g_ld * Sinv - g_q * pt.outer(v, v), 2.0 * g_q * v]


_logdet_quad = LogdetQuad()


def logdet_quad(S: Any, c: Any) -> tuple[Any, Any]:
    """(log|S|, c'S^-1 c) as PyTensor scalars (see the module docstring)."""
    ld, q = _logdet_quad(S, c)
    return ld, q


@jax_funcify.register(LogdetQuad)
def _jax_logdet_quad(op: LogdetQuad, **kwargs: Any) -> Any:
    import jax
    import jax.numpy as jnp
    from jax.scipy.linalg import solve_triangular

    def forward(S: Any, c: Any) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        L = jax.lax.linalg.cholesky(S, symmetrize_input=False)  # S is symmetric by construction
        w = solve_triangular(L, c, lower=True)
        return (2.0 * jnp.sum(jnp.log(jnp.diagonal(L))), jnp.dot(w, w)), (L, w)

    @jax.custom_vjp
    def logdet_quad_jax(S: Any, c: Any) -> tuple[Any, Any]:
        return forward(S, c)[0]

    def backward(res: tuple[Any, Any], g: tuple[Any, Any]) -> tuple[Any, Any]:
        L, w = res
        g_ld, g_q = g
        v = solve_triangular(L, w, lower=True, trans=1)
        # S^-1 = L^-T (L^-1 I) by two triangular solves (XLA's CPU product of a transposed operand, Linv' Linv,
        # took 10-40 times longer than a solve here)
        Linv = solve_triangular(L, jnp.eye(L.shape[0], dtype=L.dtype), lower=True)
        Sinv = solve_triangular(L, Linv, lower=True, trans=1)
        return g_ld * Sinv - g_q * jnp.outer(v, v), 2.0 * g_q * v

    logdet_quad_jax.defvjp(forward, backward)
    return logdet_quad_jax
