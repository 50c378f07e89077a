"""Convergence checks as lme4's ``checkConv``, with warnings that name the model part and the remedy.

Checks: predictors on very different scales (lme4's ``checkScaleX``), the scaled gradient at the optimum
(tol 0.002), the Hessian's eigenvalues (tol 1e-6) and singularity (``isSingular``: a diagonal element of a
relative covariance factor below 1e-4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..design.matrices import ModelMatrices
from ..design.terms import RandomTerm
from ..exceptions import ConvergenceWarning, SingularFitWarning
from ..warn import Notice, emit

__all__ = ["ConvergenceReport", "check_convergence", "scale_problems", "singular_components", "smallest_slope"]

GRAD_TOL = 2e-3
HESS_TOL = 1e-6
SINGULAR_TOL = 1e-4
SCALE_TOL = 1e3


@dataclass
class ConvergenceReport:
    """The outcome of every check; ``str()`` gives the report ``fit.diagnose()`` prints.

    problems : each failed check as (kind, message, remedy); kinds are ``scale``, ``gradient``, ``hessian``,
        ``singular``, ``optimizer``.
    """

    optimizer: str
    feval: int
    converged: bool
    message: str
    max_grad: float
    scaled_gradient: np.ndarray
    hessian_eigenvalues: np.ndarray
    singular: list[str]
    problems: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        import html

        return f"<pre class='mixbayes'>{html.escape(str(self))}</pre>"

    def notices(self) -> list[Notice]:
        """The problems as typed warning records (:class:`~mixbayes.warn.Notice`), for the public layer to issue."""
        return [Notice(f"{msg}. Remedy: {remedy}.", SingularFitWarning if kind == "singular" else ConvergenceWarning)
                for kind, msg, remedy in self.problems]

    def __str__(self) -> str:
        lines = [
            f"Optimizer: {self.optimizer} ({self.feval} evaluations) - {self.message}",
            f"max |scaled gradient|: {self.max_grad:.3g} (tol {GRAD_TOL})",
            "Hessian eigenvalues: " + (
                ", ".join(f"{v:.4g}" for v in self.hessian_eigenvalues) if len(self.hessian_eigenvalues) else "n/a"),
            "Singular components: " + ("; ".join(self.singular) if self.singular else "none"),
        ]
        if self.problems:
            lines.append("Problems:")
            lines += [f"  [{kind}] {msg}\n      remedy: {remedy}" for kind, msg, remedy in self.problems]
        else:
            lines.append("All convergence checks passed.")
        return "\n".join(lines)


def scale_problems(design: ModelMatrices, tol: float = SCALE_TOL) -> list[str]:
    """Continuous predictors whose SD is off by more than ``tol`` from 1 or from each other (``checkScaleX``)."""
    X = design.X
    names = design.fixef_names
    blocks = getattr(design, "blocks", None)
    if blocks is not None:  # out-of-core data: SDs from the summed moments
        n = blocks.n
        cont = [j for j in range(X.shape[1]) if not blocks.binary[j]]
        var = [(blocks.xtx[j, j] - blocks.xsum[j] ** 2 / n) / (n - 1) for j in cont]
        sds = np.sqrt(np.maximum(np.array(var, dtype=float), 0.0))
    else:
        cont = [j for j in range(X.shape[1]) if not np.all(np.isin(X[:, j], (0.0, 1.0)))]
        sds = np.array([np.std(X[:, j], ddof=1) for j in cont])
    if not cont:
        return []
    logs = np.log(np.where(sds > 0, sds, 1.0))
    bad = set()
    for k, j in enumerate(cont):
        if sds[k] > 0 and abs(logs[k]) > np.log(tol):
            bad.add(names[j])
    for a in range(len(cont)):
        for b in range(a):
            if sds[a] > 0 and sds[b] > 0 and abs(logs[a] - logs[b]) > np.log(tol):
                # name the one furthest from unit scale
                worst = cont[a] if abs(logs[a]) >= abs(logs[b]) else cont[b]
                bad.add(names[worst])
    return [n for n in names if n in bad]


def singular_components(design: ModelMatrices, theta: np.ndarray, tol: float = SINGULAR_TOL) -> list[str]:
    """Which variance components collapsed: a zero variance, or a correlation of +-1."""
    out = []
    for t in design.terms:
        T = t.factor(theta)
        for k in range(t.q):
            if abs(T[k, k]) < tol:
                col = t.columns[k]
                if k == 0 or np.all(np.abs(T[k, :k]) < tol):
                    out.append(f"the variance of {col!r} in {t.expr} is estimated as zero")
                else:
                    out.append(f"{col!r} in {t.expr} is perfectly correlated with the other columns of the term")
    return out


def smallest_slope(term: RandomTerm, theta: np.ndarray) -> int:
    """Index of the term's column with the smallest (relative) SD, slopes before the intercept."""
    T = term.factor(theta)
    sds = np.sqrt(np.sum(T**2, axis=1))
    slopes = [k for k, c in enumerate(term.columns) if c != "(Intercept)"]
    return min(slopes, key=lambda i: sds[i]) if slopes else int(np.argmin(sds))


def _remedy_for_singular(design: ModelMatrices, theta: np.ndarray) -> str:
    for t in design.terms:
        diag = np.abs(np.diag(t.factor(theta)))
        if np.any(diag < SINGULAR_TOL):
            if t.q == 1:
                return (f"remove {t.expr} (its variance is zero), or fit method='map'/'bayes' whose prior keeps "
                        "the SD off zero")
            col = t.columns[smallest_slope(t, theta)]
            rest = [c for c in t.columns if c != col]
            simpler = " + ".join(["1" if c == "(Intercept)" else c for c in rest]) or "1"
            if "(Intercept)" not in rest and rest:
                simpler = "0 + " + simpler
            return (f"drop the slope with the smallest variance ({col!r}): ({simpler} | {t.group}), or make the "
                    f"term uncorrelated: ({' + '.join('1' if c == '(Intercept)' else c for c in t.columns)} || "
                    f"{t.group})")
    return "simplify the random-effects structure"


def check_convergence(
    design: ModelMatrices,
    theta: np.ndarray,
    lower: np.ndarray,
    gradient: np.ndarray,
    hessian: np.ndarray,
    optimizer: str,
    feval: int,
    converged: bool,
    message: str,
    maxeval: int,
    emit: bool = True,
    extra_names: list[str] | None = None,
) -> ConvergenceReport:
    """Run lme4's checks at the optimum; emit typed warnings (unless ``emit`` is False) and return the report."""
    names = _parameter_names(design) + list(extra_names or [])
    problems: list[tuple[str, str, str]] = []
    scale = scale_problems(design)
    for col in scale:
        problems.append((
            "scale",
            f"predictor {col!r} is on a very different scale from the others (some predictor variables are "
            "on very different scales)",
            f"rescale predictor {col!r}, e.g. scale({col}) or divide it by a power of 10",
        ))
    on_bound = np.isfinite(lower) & (np.abs(theta - lower[: len(theta)]) < 1e-12) if len(lower) else np.zeros(0, bool)
    on_bound = np.concatenate([on_bound, np.zeros(len(gradient) - len(on_bound), bool)])
    free = ~(on_bound & (gradient >= 0))
    g = gradient[free]
    H = hessian[np.ix_(free, free)]
    scgrad = np.full_like(g, np.nan)
    max_grad = float(np.max(np.abs(g))) if len(g) else 0.0
    usable = bool(np.all(np.isfinite(H)) and np.all(np.isfinite(g)))
    if usable:
        try:
            R = np.linalg.cholesky(H)
            scgrad = np.linalg.solve(R, g)
            mingrad = np.minimum(np.abs(scgrad), np.abs(g))
            max_grad = float(np.max(mingrad)) if len(mingrad) else 0.0
        except np.linalg.LinAlgError:
            pass
    else:
        problems.append((
            "hessian",
            "the gradient and Hessian could not be evaluated around the optimum (the objective failed at a "
            "neighbouring point), so the standard errors are conditional on theta",
            "switch optimizer (optimizer='bobyqa' or 'nelder_mead'; compare with mb.allfit(model))",
        ))
        max_grad = float(np.max(np.abs(g[np.isfinite(g)]))) if np.any(np.isfinite(g)) else np.inf
    singular = singular_components(design, theta[: design.n_theta])
    free_names = [n for n, f in zip(names, free, strict=False) if f]
    if len(g) and max_grad > GRAD_TOL:
        comp = int(np.argmax(np.minimum(np.abs(np.nan_to_num(scgrad, nan=np.inf)), np.abs(g))))
        remedy = _gradient_remedy(design, scale, singular, theta, converged, feval, maxeval)
        problems.append((
            "gradient",
            f"Model failed to converge with max|grad| = {max_grad:.4g} (tol = {GRAD_TOL}, component "
            f"{comp + 1}: {free_names[comp] if comp < len(free_names) else comp})",
            remedy,
        ))
    ev = np.linalg.eigvalsh(H) if len(H) > 1 and usable else np.zeros(0)
    if len(ev):
        if np.sum(ev < -HESS_TOL):
            problems.append((
                "hessian",
                f"Model failed to converge: degenerate Hessian with {int(np.sum(ev < -HESS_TOL))} negative "
                "eigenvalues",
                _gradient_remedy(design, scale, singular, theta, converged, feval, maxeval),
            ))
        elif np.sum(np.abs(ev) < HESS_TOL):
            problems.append(("hessian", "Hessian is numerically singular: parameters are not uniquely determined",
                             _remedy_for_singular(design, theta) if singular else
                             "simplify the random-effects structure"))
        elif ev.max() / ev.min() > 1 / HESS_TOL and scale:
            problems.append(("hessian", "Model is nearly unidentifiable: large eigenvalue ratio",
                             f"rescale predictor {scale[0]!r}"))
    if not converged:
        problems.append((
            "optimizer",
            f"the optimizer stopped without converging ({message})",
            f"raise the evaluation limit (control={{'maxeval': {2 * maxeval}}}) or switch optimizer "
            "(optimizer='nelder_mead', or compare all with mb.allfit(model))"
            if feval >= maxeval else "switch optimizer (optimizer='nelder_mead', or mb.allfit(model))",
        ))
    if singular:
        problems.append(("singular", "boundary (singular) fit: " + "; ".join(singular),
                         _remedy_for_singular(design, theta[: design.n_theta])))
    report = ConvergenceReport(optimizer, feval, converged, message, max_grad, scgrad, ev, singular, problems)
    if emit:
        emit_warnings(report)
    return report


def emit_warnings(report: ConvergenceReport) -> None:
    """Issue one typed warning per problem of ``report`` (attributed to the caller's line: :mod:`mixbayes.warn`)."""
    emit(report.notices())


def _gradient_remedy(design: ModelMatrices, scale: list[str], singular: list[str], theta: np.ndarray,
                     converged: bool, feval: int, maxeval: int) -> str:
    if scale:
        return f"rescale predictor {scale[0]!r}"
    if feval >= maxeval:
        return f"raise the evaluation limit (control={{'maxeval': {2 * maxeval}}})"
    if singular:
        return _remedy_for_singular(design, theta[: design.n_theta])
    for t in design.terms:
        if t.q > 1:
            return _remedy_for_singular_like(t, theta)
    return "switch optimizer (optimizer='nelder_mead'), or refit from these estimates; mb.allfit(model) compares all"


def _remedy_for_singular_like(term: RandomTerm, theta: np.ndarray) -> str:
    k = smallest_slope(term, theta)
    return (f"drop the slope with the smallest variance ({term.columns[k]!r}) or make {term.expr} uncorrelated "
            "(||); else switch optimizer (optimizer='nelder_mead', mb.allfit(model))")


def _parameter_names(design: ModelMatrices) -> list[str]:
    names = []
    for t in design.terms:
        rows, cols = t.tril_index
        for i, j in zip(rows, cols, strict=True):
            names.append(f"{t.group}.{t.columns[i]}" if i == j else f"{t.group}.{t.columns[i]}.{t.columns[j]}")
    return names
