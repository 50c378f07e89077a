"""GLMM benchmark: mixbayes vs lme4's glmer (Rscript), Laplace, in the same run; logLik agreement checked.

Models: cbpp (binomial, cbind response), grouseticks (Poisson, three terms, HEIGHT standardised) and a simulated
crossed binary model with lme4's VerbAgg shape (316 subjects x 24 items = 7,584 responses; seeded).

    python benchmarks/glmm.py [--repeats N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from common import fmt_ratio, have_r, median_time, run_r, table
from scipy import special


def verbagg_like(seed: int = 20261126) -> pd.DataFrame:
    """Binary responses of 316 subjects to 24 items (VerbAgg's shape): subject covariates Anger and Gender,
    item factors btype (3 levels) and situ (2 levels), crossed random intercepts (SD 1.3 subject, 0.6 item)."""
    rng = np.random.default_rng(seed)
    n_id, n_item = 316, 24
    anger = rng.integers(11, 40, n_id).astype(float)
    gender = rng.choice(["F", "M"], n_id, p=[0.77, 0.23])
    btype = np.tile(["curse", "scold", "shout"], 8)
    situ = np.repeat(["other", "self"], 12)
    u_id = rng.normal(0, 1.3, n_id)
    u_item = rng.normal(0, 0.6, n_item)
    i_id = np.repeat(np.arange(n_id), n_item)
    i_item = np.tile(np.arange(n_item), n_id)
    eta = (0.2 + 0.057 * anger[i_id] + 0.32 * (gender[i_id] == "M") - 1.06 * (btype[i_item] == "scold")
           - 2.1 * (btype[i_item] == "shout") - 1.05 * (situ[i_item] == "self") + u_id[i_id] + u_item[i_item] - 1.5)
    y = rng.binomial(1, special.expit(eta))
    return pd.DataFrame({
        "r2": y, "Anger": anger[i_id], "Gender": gender[i_id], "btype": btype[i_item], "situ": situ[i_item],
        "id": [f"S{i:03d}" for i in i_id], "item": [f"I{i:02d}" for i in i_item],
    })


MODELS = [
    ("cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "binomial"),
    ("grouseticks", "TICKS ~ YEAR + HEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)", "poisson"),
    ("VerbAgg-like", "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)", "binomial"),
]


def data_for(name: str) -> pd.DataFrame:
    import mixbayes as mb

    if name == "cbpp":
        return mb.load_dataset("cbpp")
    if name == "grouseticks":
        d = mb.load_dataset("grouseticks")
        d["HEIGHT"] = (d["HEIGHT"] - d["HEIGHT"].mean()) / d["HEIGHT"].std()
        return d
    return verbagg_like()


def glmer_times(csv: Path, repeats: int) -> dict[str, dict]:
    code = f"""
    suppressMessages({{library(lme4); library(jsonlite)}})
    g <- grouseticks; g$HEIGHT <- as.numeric(scale(g$HEIGHT))
    v <- read.csv("{csv}", stringsAsFactors = TRUE)
    specs <- list(
      list("cbpp", cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial),
      list("grouseticks", TICKS ~ YEAR + HEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION), g, poisson),
      list("VerbAgg-like", r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item), v, binomial))
    for (s in specs) {{
      invisible(suppressWarnings(glmer(s[[2]], data = s[[3]], family = s[[4]])))
      ts <- numeric(0)
      for (i in seq_len({repeats})) ts <- c(ts, system.time(m <- suppressWarnings(
        glmer(s[[2]], data = s[[3]], family = s[[4]])))[["elapsed"]])
      cat("JSON:", toJSON(list(name = s[[1]], seconds = median(ts), logLik = as.numeric(logLik(m))),
          digits = NA, auto_unbox = TRUE), "\\n", sep = "")
    }}
    """
    return {r["name"]: r for r in run_r(code)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    import warnings

    import mixbayes as mb

    warnings.simplefilter("ignore")
    r_ok = have_r()
    print(f"glmer through Rscript: {'yes' if r_ok else 'no (R/lme4 not installed)'}")
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "verbagg_like.csv"
        verbagg_like().to_csv(csv, index=False)
        peer = glmer_times(csv, args.repeats) if r_ok else {}
    rows = []
    for name, formula, family in MODELS:
        frame = data_for(name)
        reps = args.repeats if name != "VerbAgg-like" else max(1, args.repeats // 2)
        t, fit = median_time(lambda f=formula, fr=frame, fam=family: mb.glmer(f, fr, family=fam), reps)
        p = peer.get(name, {})
        agree = f"{abs(fit.loglik - p['logLik']) / abs(p['logLik']):.1e}" if p else "n/a"
        rows.append([name, f"{t:.3f}", f"{p['seconds']:.3f}" if p else "-", fmt_ratio(p.get("seconds"), t),
                     f"{fit.loglik:.6f}", agree, str(fit.optsummary.feval)])
        print(f"  done {name}", file=sys.stderr)
    print(table(rows, ["model", "mixbayes s", "glmer s", "glmer/mb", "logLik", "logLik rel diff", "evals"]))


if __name__ == "__main__":
    main()
