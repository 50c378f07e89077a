"""Gamma GLMM and PQL benchmark: mixbayes vs glmer, glmmTMB and MASS::glmmPQL (Rscript), in the same run.

Models (the golden cases of tests/golden/gamma_pql.json, data in tests/golden/data):
  Gamma(log) and Gamma(inverse) on synth_gamma.csv (240 rows, 30 groups) against glmer; Gamma(log) with
  dispersion="ml" against glmmTMB; glmmPQL on MASS's bacteria (binomial) and on synth_pois.csv (Poisson).

    python benchmarks/gamma_pql.py [--repeats N]

The ratio column is peer seconds / mixbayes seconds (> 1: mixbayes is faster); estimates are checked to agree.
"""

from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np
import pandas as pd
from common import ROOT, fmt_ratio, have_r, median_time, run_r, table

DATA = ROOT / "tests" / "golden" / "data"

# name, R call, mixbayes call (keyword arguments of mb.glmer), data
CASES = [
    ("Gamma(log) glmer", "glmer(y ~ x + (1 | g), data = gam, family = Gamma(link = 'log'))",
     {"formula": "y ~ x + (1 | g)", "family": "Gamma", "link": "log"}, "gam"),
    ("Gamma(inverse) glmer", "glmer(y ~ x + (1 | g), data = gam, family = Gamma)",
     {"formula": "y ~ x + (1 | g)", "family": "Gamma"}, "gam"),
    ("Gamma(log) glmmTMB", "glmmTMB(y ~ x + (1 | g), data = gam, family = Gamma(link = 'log'))",
     {"formula": "y ~ x + (1 | g)", "family": "Gamma", "link": "log", "dispersion": "ml"}, "gam"),
    ("glmmPQL bacteria", "glmmPQL(y ~ trt + I(week > 2), random = ~ 1 | ID, family = binomial, data = bacteria, "
     "verbose = FALSE)", {"formula": "y ~ trt + I(week > 2) + (1 | ID)", "family": "binomial", "method": "pql"},
     "bacteria"),
    ("glmmPQL Poisson", "glmmPQL(y ~ x + offset(log(t)), random = ~ 1 | g, family = poisson, data = pois, "
     "verbose = FALSE)", {"formula": "y ~ x + offset(log(t)) + (1 | g)", "family": "poisson", "method": "pql"},
     "pois"),
]


def r_times(repeats: int) -> dict[str, dict]:
    calls = "\n".join(f'  list("{n}", quote({c})),' for n, c, _, _ in CASES).rstrip(",")
    code = f"""
    suppressMessages({{library(lme4); library(glmmTMB); library(MASS); library(nlme); library(jsonlite)}})
    gam <- read.csv("{DATA / 'synth_gamma.csv'}"); gam$g <- factor(gam$g, levels = sprintf("g%02d", 1:30))
    pois <- read.csv("{DATA / 'synth_pois.csv'}"); pois$g <- factor(pois$g, levels = sprintf("g%02d", 1:30))
    specs <- list(
{calls})
    for (s in specs) {{
      invisible(suppressWarnings(eval(s[[2]])))
      ts <- numeric(0)
      for (i in seq_len({repeats})) ts <- c(ts, system.time(m <- suppressWarnings(eval(s[[2]])))[["elapsed"]])
      fe <- if (inherits(m, "glmmTMB")) fixef(m)$cond else if (inherits(m, "lme")) nlme::fixef(m) else lme4::fixef(m)
      cat("JSON:", toJSON(list(name = s[[1]], seconds = median(ts), fixef = unname(fe)),
          digits = NA, auto_unbox = TRUE), "\\n", sep = "")
    }}
    """
    return {r["name"]: r for r in run_r(code)}


def data_sets() -> dict[str, pd.DataFrame]:
    import mixbayes as mb

    gam = pd.read_csv(DATA / "synth_gamma.csv")
    gam["g"] = pd.Categorical(gam["g"], categories=[f"g{k:02d}" for k in range(1, 31)])
    pois = pd.read_csv(DATA / "synth_pois.csv")
    pois["g"] = pd.Categorical(pois["g"], categories=[f"g{k:02d}" for k in range(1, 31)])
    return {"gam": gam, "pois": pois, "bacteria": mb.load_dataset("bacteria")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    import mixbayes as mb

    warnings.simplefilter("ignore")
    r_ok = have_r()
    print(f"R peers through Rscript: {'yes' if r_ok else 'no (R not installed)'}")
    peer = r_times(args.repeats) if r_ok else {}
    frames = data_sets()
    rows = []
    for name, _, kw, data in CASES:
        kw = dict(kw)
        formula = kw.pop("formula")
        t, fit = median_time(lambda f=formula, d=frames[data], k=kw: mb.glmer(f, d, **k), args.repeats)
        p = peer.get(name, {})
        agree = (f"{np.max(np.abs(fit.fixef.to_numpy() - np.asarray(p['fixef']))):.1e}" if p else "n/a")
        rows.append([name, f"{t:.3f}", f"{p['seconds']:.3f}" if p else "-", fmt_ratio(p.get("seconds"), t), agree])
        print(f"  done {name}", file=sys.stderr)
    print(table(rows, ["model", "mixbayes s", "R s", "R/mb", "max |fixef diff|"]))


if __name__ == "__main__":
    main()
