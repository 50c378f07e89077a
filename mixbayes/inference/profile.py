"""Likelihood profiles and profile confidence intervals, as lme4's ``profile.merMod`` and ``confint.thpr``.

The profile works on the ML fit (a REML fit is refitted by ML first, as lme4 does).  For a parameter psi the
profile is zeta(psi) = sign(psi - psi_hat) sqrt(d(psi) - d_hat), d(psi) the deviance minimised over the other
parameters with psi held fixed:

- variance parameters on lme4's scale (SDs, correlations, sigma; see :mod:`.parameters`): the deviance as a
  function of (SDs, correlations, sigma), profiled over beta, minimised over the others by BOBYQA;
- a fixed effect beta_j: the column is dropped from X and X_j beta_j moved into the offset; the ML deviance is
  minimised over theta.

Points are placed as lme4 places them: the first at 1.01 psi_hat (or 0.001 when psi_hat = 0; for a fixed
effect psi_hat + delta SE), then by linear extrapolation of the last two points to a zeta step of
delta = sqrt(qchisq(1 - alphamax, npar)) / 8 (at most ``maxmult`` times the last step in psi), until
|zeta| exceeds sqrt(qchisq(1 - alphamax, npar)) or psi reaches its bound.  The points are interpolated by a
natural cubic spline of zeta on psi, whose monotone inverse (R's ``backSpline``) gives the interval ends:
psi(zeta = qnorm((1 -+ level) / 2)).  An end beyond the profiled range is the parameter's bound (0 for an SD,
+-1 for a correlation) or NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import MixbayesError, ProfileError
from ..likelihood.factor import NotPositiveDefinite
from ..likelihood.lmm import LmmControl, LmmObjective, optimize_theta
from ..likelihood.optimizers import minimize
from ..warn import warn_user
from .parameters import percent_labels, sdcor_from_theta, theta_from_sdcor, varpar_bounds, varpar_names
from .refit import ml_fit
from .splines import PolySpline, back_spline, interp_spline

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..protocols import LmmFitLike as LmmFit

__all__ = ["LikelihoodProfile", "ParameterProfile", "ProfileError", "profile"]


@dataclass(kw_only=True)
class ParameterProfile:
    """The profile of one parameter.

    frame : one row per profiled point, sorted by the parameter: ``.zeta`` and every parameter's value there.
    forward : natural spline of zeta on the parameter (None if it could not be built).
    backward : its inverse, the parameter as a function of zeta (None for a non-monotone profile).
    lower, upper : the parameter's bounds.
    """

    name: str
    frame: pd.DataFrame
    forward: PolySpline | None
    backward: PolySpline | None
    lower: float
    upper: float
    problem: str | None = None


@dataclass
class LikelihoodProfile:
    """Profiles of the parameters of a fit (lme4's ``thpr``); ``confint()`` gives the intervals and ``plot()``
    the zeta traces."""

    profiles: dict[str, ParameterProfile]
    base_deviance: float
    ml_fit: Any = field(repr=False)

    def __getitem__(self, name: str) -> ParameterProfile:
        return self.profiles[name]

    def as_frame(self) -> pd.DataFrame:
        """All points in lme4's long form: ``.zeta``, every parameter and ``.par`` (which one was profiled)."""
        return pd.concat([p.frame.assign(**{".par": name}) for name, p in self.profiles.items()],
                         ignore_index=True)

    def confint(self, level: float = 0.95, parm: list[str] | None = None) -> pd.DataFrame:
        """Profile intervals (lme4's ``confint(profile(fit))``): rows named as lme4 with ``oldNames = FALSE``."""
        a = (1 - level) / 2
        zeta = stats.norm.ppf([a, 1 - a])
        names = list(self.profiles) if parm is None else list(parm)
        rows = []
        for name in names:
            prof = self.profiles[name]
            if prof.backward is not None:
                lo, hi = prof.backward(zeta)
            else:
                z = prof.frame[".zeta"].to_numpy()
                x = prof.frame[name].to_numpy()
                ok = np.isfinite(z)
                if ok.sum() >= 2 and np.all(np.diff(z[ok]) >= -0.01):
                    warn_user(f"bad spline fit for {name}: falling back to linear interpolation")
                    lo, hi = np.interp(zeta, z[ok], x[ok], left=np.nan, right=np.nan)
                else:
                    warn_user(f"non-monotonic profile for {name}")
                    rows.append((np.nan, np.nan))
                    continue
            if np.isnan(lo):
                lo = prof.lower
            if np.isnan(hi):
                hi = prof.upper
            rows.append((float(lo), float(hi)))
        return pd.DataFrame(rows, index=names, columns=percent_labels(level))

    def plot(self, parm: list[str] | None = None, absolute: bool = False, levels: tuple[float, ...] = (
            0.5, 0.8, 0.9, 0.95, 0.99), ncols: int | None = None) -> Figure:
        """Zeta traces (lme4's ``xyplot(profile)``): zeta against each parameter, the spline through the
        profiled points, and the profile intervals at ``levels`` (horizontal lines at +-sqrt(qchisq(level, 1))).

        ``absolute=True`` plots |zeta| (lme4's ``absVal``).  Returns the matplotlib Figure.
        """
        from ..figure import new_subplots

        names = list(self.profiles) if parm is None else list(parm)
        ncols = ncols or min(3, len(names))
        nrows = int(np.ceil(len(names) / ncols))
        fig, axes = new_subplots(nrows, ncols, 3.2 * ncols, 2.8 * nrows, squeeze=False)
        cuts = np.sqrt(stats.chi2.ppf(levels, 1))
        for ax, name in zip(axes.ravel(), names, strict=False):
            prof = self.profiles[name]
            x = prof.frame[name].to_numpy()
            z = prof.frame[".zeta"].to_numpy()
            if prof.forward is not None:
                grid = np.linspace(np.nanmin(x), np.nanmax(x), 201)
                zz = prof.forward(grid)
                ax.plot(grid, np.abs(zz) if absolute else zz, color="C0")
            ax.plot(x, np.abs(z) if absolute else z, "o", ms=3, color="C0")
            for c in cuts:
                for sign in ((1,) if absolute else (-1, 1)):
                    ax.axhline(sign * c, color="0.8", lw=0.8, ls="--", zorder=0)
                if prof.backward is not None:
                    ends = prof.backward(np.array([-c, c]))
                    for e in ends[np.isfinite(ends)]:
                        ax.plot([e, e], [0, c] if absolute else sorted([0, c * np.sign(e - x[np.argmin(np.abs(z))])]),
                                color="0.6", lw=0.8)
            ax.set_xlabel(name)
            ax.set_ylabel("|zeta|" if absolute else "zeta")
        for ax in axes.ravel()[len(names):]:
            ax.set_visible(False)
        return fig


# ---- the profiling -------------------------------------------------------------------------------------------

class _VarparDeviance:
    """ML deviance as a function of (SDs, correlations, sigma), profiled over beta (lme4's ``devfun2``)."""

    def __init__(self, objective: LmmObjective) -> None:
        self.obj = objective
        self.design = objective.design

    def __call__(self, pars: np.ndarray) -> float:
        sigma = pars[-1]
        if not sigma > 0:
            return np.inf
        theta = theta_from_sdcor(self.design, pars)
        try:
            return self.obj.deviance_varpar(np.append(theta, sigma))
        except NotPositiveDefinite:
            return np.inf


@dataclass
class _Settings:
    cutoff: float
    delta: float
    maxpts: int
    maxmult: float
    devtol: float
    base: float


def _nextpar(mat: np.ndarray, cc: int, r: int, s: _Settings, lower: float, upper: float,
             minstep: float = 1e-6) -> float:
    pvals = mat[r - 1 : r + 1, cc]
    zeta = mat[r - 1 : r + 1, 0]
    num = pvals[1] - pvals[0]
    denom = zeta[1] - zeta[0]
    if np.isnan(denom) or denom == 0:
        step = minstep
    else:
        step = s.delta * num / denom
        if step < 0:
            step = minstep
        elif abs(step) > abs(s.maxmult * num):
            step = np.sign(step) * abs(s.maxmult * num)
    return float(min(upper, max(lower, pvals[1] + np.sign(num) * step)))


def _fillmat(mat: np.ndarray, lowcut: float, upcut: float, zetafun: Any, cc: int, s: _Settings,
             nextstart: Any) -> np.ndarray:
    i = 1
    nr = mat.shape[0]
    while i < nr - 1 and lowcut < mat[i, cc] < upcut and (np.isnan(mat[i, 0]) or abs(mat[i, 0]) <= s.cutoff):
        npar = _nextpar(mat, cc, i, s, lowcut, upcut)
        mat[i + 1] = zetafun(npar, nextstart(mat, i))
        i += 1
    return mat


def _splines(frame: pd.DataFrame, name: str) -> tuple[PolySpline | None, PolySpline | None, str | None]:
    ok = frame[[name, ".zeta"]].dropna()
    try:
        fwd = interp_spline(ok[name].to_numpy(), ok[".zeta"].to_numpy())
    except ValueError as exc:
        return None, None, str(exc)
    try:
        return fwd, back_spline(fwd), None
    except (ValueError, np.linalg.LinAlgError) as exc:
        return fwd, None, f"non-monotonic profile for {name}: {exc}"


def _frame(upper: np.ndarray, lower: np.ndarray, columns: list[str], cc: int) -> pd.DataFrame:
    both = np.vstack([upper, lower])
    frame = pd.DataFrame(both, columns=columns).drop_duplicates()
    return frame.sort_values(columns[cc], kind="stable").reset_index(drop=True)


def profile(fit: LmmFit, which: list[str] | None = None, alphamax: float = 0.01, maxpts: int = 100,
            delta_cutoff: float = 1 / 8, maxmult: float = 10.0, devtol: float = 1e-9) -> LikelihoodProfile:
    """Profile the deviance of a linear mixed model (lme4's ``profile.merMod``, ``prof.scale = "sdcor"``).

    Parameters
    ----------
    which : parameter names to profile (lme4's names, e.g. ``"sd_(Intercept)|Subject"``, ``"sigma"``,
        ``"Days"``); ``"theta_"`` selects every variance parameter and ``"beta_"`` every fixed effect.  Default:
        all.
    alphamax : the profile extends to |zeta| = sqrt(qchisq(1 - alphamax, npar)).
    maxpts : at most this many points per direction.
    delta_cutoff : the zeta step, as a fraction of that cutoff.
    devtol : a deviance below the fit's by more than this stops with :class:`ProfileError`.
    """
    ml = ml_fit(fit)
    design = ml.design
    vnames = varpar_names(design)
    fnames = list(design.fixef_names)
    all_names = vnames + fnames
    nvp, p = len(vnames), len(fnames)
    opt = np.concatenate([sdcor_from_theta(design, ml.theta, ml.sigma), ml.beta])
    base = float(ml.objective_value)
    objective = LmmObjective(design, reml=False, y=ml.y)
    dev = _VarparDeviance(objective)
    if abs(dev(opt[:nvp]) - base) > 1e-5 * max(abs(base), 1.0):
        raise ProfileError("profiling over both the residual SD and the fixed effects is not numerically "
                           "consistent with the fit's deviance")
    selected = _select(which, vnames, fnames)
    cutoff = float(np.sqrt(stats.chi2.ppf(1 - alphamax, nvp + p)))
    s = _Settings(cutoff, cutoff * delta_cutoff, maxpts, maxmult, devtol, base)
    lower_vp, upper_vp = varpar_bounds(design)
    columns = [".zeta", *all_names]
    start_row = np.concatenate([[0.0], opt])
    profiles: dict[str, ParameterProfile] = {}

    for w in [k for k in range(nvp) if all_names[k] in selected]:
        others = [k for k in range(nvp) if k != w]
        pw = opt[w]

        def zeta(xx: float, start: np.ndarray, w: int = w, others: list[int] = others, pw: float = pw) -> np.ndarray:
            def fn(x: np.ndarray) -> float:
                pars = np.empty(nvp)
                pars[w] = xx
                pars[others] = x
                return dev(pars)

            res = minimize(fn, start, lower_vp[others], upper_vp[others]) if others else None
            pars = np.empty(nvp)
            pars[w] = xx
            if res is not None:
                pars[others] = res.final
            fval = dev(pars)
            devdiff = fval - base
            if devdiff < -devtol:
                raise ProfileError(f"profiling {all_names[w]} found a deviance {-devdiff:.3g} below the fit's: "
                                   "the fit is not at the optimum; refit (e.g. from the profile's parameters)")
            beta, _ = objective.factor.solve()
            z = np.sign(xx - pw) * np.sqrt(max(0.0, devdiff))
            return np.concatenate([[z], pars, beta])

        profiles[all_names[w]] = _profile_one(w, pw, zeta, others, s, start_row, columns, lower_vp[w],
                                              upper_vp[w], shift=0.001 if pw == 0 else pw * 1.01, maxpts=maxpts,
                                              nextstart=lambda mat, r, others=others: mat[r, 1 + np.asarray(others)])

    X = np.asarray(design.X, dtype=float)
    se = ml.se.to_numpy()
    thopt = ml.theta
    for j in [k for k in range(p) if fnames[k] in selected]:
        keep = [c for c in range(p) if c != j]
        dj = replace(design, X=np.ascontiguousarray(X[:, keep]),
                     fixef_names=tuple(fnames[c] for c in keep))
        obj_j = LmmObjective(dj, reml=False, y=ml.y)
        est = ml.beta[j]
        control = replace(LmmControl.from_any(ml.control), calc_derivs=False)

        def fe_zeta(fw: float, start: Any = None, j: int = j, dj: Any = dj, obj_j: LmmObjective = obj_j,
                    est: float = est, keep: list[int] = keep, control: Any = control) -> np.ndarray:
            obj_j.set_response(ml.y - X[:, j] * fw)
            summary = optimize_theta(obj_j, dj, control, thopt)
            fv = obj_j(summary.final)
            devdiff = fv - base
            if devdiff < -devtol:
                raise ProfileError(f"profiling {fnames[j]} found a deviance {-devdiff:.3g} below the fit's: "
                                   "the fit is not at the optimum")
            sig = np.sqrt(obj_j.factor.pwrss / obj_j.n)
            beta_k, _ = obj_j.factor.solve()
            beta = np.empty(p)
            beta[keep] = beta_k
            beta[j] = fw
            z = np.sign(fw - est) * np.sqrt(max(0.0, devdiff))
            return np.concatenate([[z], sdcor_from_theta(design, summary.final, sig), beta])

        profiles[fnames[j]] = _profile_one(nvp + j, est, fe_zeta, [], s, start_row, columns, -np.inf, np.inf,
                                           shift=est + s.delta * se[j], maxpts=maxpts,
                                           nextstart=lambda mat, r: None, bounds_nan=True)
    objective(ml.theta)
    return LikelihoodProfile(profiles, base, ml)


def _profile_one(w: int, pw: float, zetafun: Any, others: list[int], s: _Settings, start_row: np.ndarray,
                 columns: list[str], lowcut: float, upcut: float, shift: float, maxpts: int, nextstart: Any,
                 bounds_nan: bool = False) -> ParameterProfile:
    cc = w + 1
    res = np.tile(start_row, (maxpts, 1))
    pres, nres = res.copy(), res.copy()
    first = zetafun(shift, start_row[1 + np.asarray(others, dtype=int)] if others else None)
    nres[0] = pres[1] = first
    upper = _fillmat(pres, lowcut, upcut, zetafun, cc, s, nextstart)
    lower = _fillmat(nres, lowcut, upcut, zetafun, cc, s, nextstart) if pw > lowcut else nres
    name = columns[cc]
    frame = _frame(upper, lower, columns, cc)
    fwd, bak, problem = _splines(frame, name)
    if problem:
        warn_user(problem)
    lo, hi = (np.nan, np.nan) if bounds_nan else (lowcut, upcut)
    return ParameterProfile(name=name, frame=frame, forward=fwd, backward=bak, lower=lo, upper=hi, problem=problem)


def _select(which: Any, vnames: list[str], fnames: list[str]) -> set[str]:
    if which is None:
        return set(vnames) | set(fnames)
    items = [which] if isinstance(which, str) else list(which)
    out: set[str] = set()
    for item in items:
        if item == "theta_":
            out |= set(vnames)
        elif item == "beta_":
            out |= set(fnames)
        elif item in vnames or item in fnames:
            out.add(item)
        else:
            raise MixbayesError(f"unknown parameter {item!r} to profile; parameters: {', '.join(vnames + fnames)}")
    return out
