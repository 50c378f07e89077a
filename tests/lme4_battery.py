"""The lme4 battery (tests/golden/lme4_battery.json, written by tools/golden/lme4_battery.R): its data, its cases
and mixbayes's fit of each case, judged by lme4's deviance function.

Used by tests/test_lme4_battery.py and by ``python tests/lme4_battery.py`` (prints the per-case table).
"""

from __future__ import annotations

import json
import re
import sys
import time
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import mixbayes as mb
from mixbayes.families import Family, get_family
from mixbayes.likelihood.glmm import deviance_function
from mixbayes.likelihood.lmm import LmmObjective

GOLDEN = Path(__file__).parent / "golden"

# Formula features another branch (i10-eval) adds: bare `y ~ 1|g`, logical responses, ns(), raw poly naming.
# Set to True once that work is merged; the cases marked "needs": "formula-gaps" then join the battery.
FORMULA_GAPS = True
FEATURES = {"formula-gaps": FORMULA_GAPS}

OBJECTIVE_RTOL = 1e-6  # the objective may be worse than lme4's by at most this (relative)
DEVFUN_RTOL = 1e-7  # mixbayes's deviance function must reproduce lme4's value at lme4's estimates
SE_TOL = 1e-3  # SEs where the optima agree: |difference| <= SE_TOL * max(1, lme4's SE)
# cases whose mixbayes fit takes more than a few seconds: run by `pytest -m slow`
SLOW_IDS = {"grouse_elston", "grouse_scaled", "grouse_nb_fixed", "resp_agq5", "resp_agq8", "resp_agq16",
            "prlogistic", "contraception_slope", "cbpp_agq9", "cbpp_agq25", "cbpp_probit", "paired_agq21"}


@cache
def battery() -> dict[str, Any]:
    return json.loads((GOLDEN / "lme4_battery.json").read_text())


def cases(include_slow: bool = True) -> list[dict[str, Any]]:
    """The cases lme4 fitted, less those whose formula feature is not available yet."""
    out = []
    for case in battery()["cases"]:
        if case["conditions"]["error"] is not None:
            continue
        if case.get("needs") and not FEATURES.get(case["needs"], False):
            continue
        if case.get("slow") and not include_slow:
            continue
        out.append(case)
    return out


@cache
def _data(name: str) -> pd.DataFrame:
    meta = battery()["datasets"][name]
    if meta["bundled"]:
        return mb.load_dataset(name)
    frame = pd.read_csv(GOLDEN / "data" / meta["file"])
    ordered = set(meta.get("ordered") or [])
    for col, levels in (meta.get("factors") or {}).items():
        frame[col] = pd.Categorical(frame[col].astype(str), categories=[str(v) for v in levels],
                                    ordered=col in ordered)
    return frame


def data(name: str) -> pd.DataFrame:
    return _data(name).copy()


def family(case: dict[str, Any]) -> Family | None:
    if case["fun"] == "lmer":
        return None
    if case["family"] == "negative_binomial":
        return get_family("negative_binomial", case["link"]).with_theta(float(case["nb_theta"]))
    return get_family(case["family"], case["link"])


def _offset(case: dict[str, Any], frame: pd.DataFrame) -> np.ndarray | None:
    if case.get("offset") is None:
        return None
    m = re.fullmatch(r"log\((\w+)\)", case["offset"])
    if not m:
        raise ValueError(f"unsupported offset {case['offset']!r}")
    return np.log(frame[m.group(1)].to_numpy(float))


def fit_case(case: dict[str, Any], control: Any = None) -> dict[str, Any]:
    """mixbayes's fit of one case, with lme4's deviance function evaluated at both sets of estimates."""
    frame = data(case["data"])
    fam = family(case)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = mb.Model(case["formula"], frame, family=fam or "gaussian", weights=case.get("weights"),
                         offset=_offset(case, frame))
        glmm = case["fun"] == "glmer"
        if glmm:
            fit = model.fit(method="laplace", nAGQ=case["nAGQ"], control=control)
        else:
            fit = model.fit(method="reml" if case["REML"] else "ml", control=control)
    seconds = time.perf_counter() - t0
    theta_r = np.asarray(case["theta"], float)
    beta_r = np.asarray(case["fixef"], float)
    if glmm:
        dev = deviance_function(model.design, case["nAGQ"], theta=theta_r)  # getME(fit, "devfun")
        if case["nAGQ"] == 0:
            par_mb, par_r = np.asarray(fit.theta), theta_r
        else:
            par_mb = np.concatenate([fit.theta, fit.beta])
            par_r = np.concatenate([theta_r, beta_r])
    else:
        obj = LmmObjective(model.design, case["REML"])
        dev = obj  # lme4's devfun of an LMM is a function of theta
        par_mb, par_r = np.asarray(fit.theta), theta_r
    objective = float(fit.objective_value)
    at_r, at_mb = float(dev(par_r)), float(dev(par_mb))
    sigma = fit.scale_sigma
    return {
        "id": case["id"], "objective": objective, "objective_r": case["objective"], "devfun_at_r": at_r,
        "devfun_r": case["devfun_at_estimates"], "devfun_at_mb": at_mb, "se": np.asarray(fit.se, float),
        "se_r": np.asarray(case["se"], float), "vcov_warnings": list(case.get("vcov_warnings") or []),
        "sigma": 1.0 if sigma is None else float(sigma),
        "sigma_r": case["sigma"], "seconds": seconds, "feval": getattr(fit.optsummary, "feval", None),
        "degenerate": list(getattr(fit, "degenerate_groups", [])),
        "separated": list(getattr(fit, "separation", [])),
        "theta": np.asarray(fit.theta), "beta": np.asarray(fit.beta), "fixef_names": list(fit.fixef.index),
    }


def judge(res: dict[str, Any]) -> dict[str, Any]:
    """Objective difference (mixbayes - lme4), and, where they differ, the verdict of the deviance function."""
    diff = res["objective"] - res["objective_r"]
    rel = diff / max(abs(res["objective_r"]), 1.0)
    dev_diff = res["devfun_at_mb"] - res["devfun_at_r"]
    dev_rel = dev_diff / max(abs(res["devfun_at_r"]), 1.0)
    if rel <= OBJECTIVE_RTOL:
        verdict = "better" if rel < -OBJECTIVE_RTOL else "same"
        ok = True
    else:  # mixbayes's objective is higher: lme4's deviance function at both estimates decides
        ok = dev_rel <= OBJECTIVE_RTOL
        verdict = ("better" if dev_rel < -OBJECTIVE_RTOL else "same") if ok else "WORSE"
    agree = abs(rel) <= OBJECTIVE_RTOL or abs(dev_rel) <= OBJECTIVE_RTOL
    # lme4 falls back to the covariance given theta (RX) when its finite-difference Hessian is not positive
    # definite; mixbayes's Hessian may be (the two differ by rounding there): those SEs are not compared
    fell_back = any("falling back" in w for w in res.get("vcov_warnings", []))
    # nor where the response is determined by a grouping factor (DegenerateResponseWarning): the variance runs
    # along a flat ridge and the SEs depend on where each optimiser stopped on it
    fell_back = fell_back or bool(res.get("degenerate"))
    se_ref = res["se_r"]
    # a (quasi-)separated coefficient's SE only says how far out the optimiser stopped: not compared either
    keep = np.array([n not in res.get("separated", []) for n in res["fixef_names"]], dtype=bool)
    d = np.abs(res["se"] - se_ref)[keep]
    se_err = float(np.max(d / np.maximum(np.abs(se_ref[keep]), 1.0))) if keep.any() else 0.0
    se_rel = float(np.max(d / np.abs(se_ref[keep]))) if keep.any() else 0.0
    return {"objective_diff": diff, "objective_rel": rel, "devfun_diff": dev_diff, "devfun_rel": dev_rel,
            "verdict": verdict, "ok": ok, "optima_agree": agree, "se_err": se_err, "se_maxrel": se_rel,
            "se_compared": not fell_back, "se_mask": keep,
            "devfun_repro": abs(res["devfun_at_r"] - res["devfun_r"]) / max(abs(res["devfun_r"]), 1.0)}


def table(rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> str:
    head = (f"{'case':22s} {'obj(mixbayes)':>16s} {'obj(lme4)':>16s} {'diff':>11s} {'devfun diff':>11s} "
            f"{'verdict':>7s} {'SE err':>9s} {'SE rel':>9s} {'devfun repro':>12s} {'s':>6s}")
    lines = [head]
    for res, j in rows:
        lines.append(f"{res['id']:22s} {res['objective']:16.8f} {res['objective_r']:16.8f} "
                     f"{j['objective_diff']:11.3e} {j['devfun_diff']:11.3e} {j['verdict']:>7s} "
                     f"{j['se_err']:9.2e} {j['se_maxrel']:9.2e}{' ' if j['se_compared'] else '*'}"
                     f"{j['devfun_repro']:12.2e} {res['seconds']:6.2f}")
    return "\n".join(lines)


if __name__ == "__main__":  # python tests/lme4_battery.py [--stage2 NAME] [--glmm] [case ids...]: the table
    args = sys.argv[1:]
    control = None
    if "--stage2" in args:
        i = args.index("--stage2")
        control = {"optimizer": args[i + 1]}
        del args[i : i + 2]
    only_glmm = "--glmm" in args
    only_lmm = "--lmm" in args
    wanted = set(a for a in args if not a.startswith("--"))
    out = []
    for c in cases():
        if (wanted and c["id"] not in wanted) or (only_glmm and c["fun"] != "glmer") or (
                only_lmm and c["fun"] != "lmer"):
            continue
        r = fit_case(c, control if c["fun"] == "glmer" else None)
        out.append((r, judge(r)))
        print(table(out[-1:]).splitlines()[-1], flush=True)
    print(table(out))
