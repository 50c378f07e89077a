"""glmmTMB-family benchmark: mixbayes.glmmTMB vs R's glmmTMB (Rscript) on the issue-13 examples, in the same run;
logLik agreement checked.

Models: zero-inflated Poisson / NB2 and hurdle Poisson / NB2 on Salamanders, NB1 / NB2 (zi = ~1, offset) on Owls,
beta-binomial on cbpp.  Each time is the median wall time of a whole fit (design, optimisation, standard errors).

    python benchmarks/glmmtmb.py [--repeats N]
    python benchmarks/glmmtmb.py --accuracy     # errors against tests/golden/glmmtmb_families.json (no R)
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from common import ROOT, fmt_ratio, have_r, median_time, run_r, table

SAL = "count ~ spp + mined + (1 | site)"
OWLS = "SiblingNegotiation ~ FoodTreatment * SexParent + offset(log(BroodSize)) + (1 | Nest)"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
MODELS = [  # name, formula, data, family, zi
    ("Salamanders ZIP", SAL, "Salamanders", "poisson", "~spp + mined"),
    ("Salamanders ZINB2", SAL, "Salamanders", "nbinom2", "~spp + mined"),
    ("Salamanders hurdle NB2", SAL, "Salamanders", "truncated_nbinom2", "~spp + mined"),
    ("Salamanders hurdle Poisson", SAL, "Salamanders", "truncated_poisson", "~spp + mined"),
    ("Owls NB1 (zi ~1)", OWLS, "Owls", "nbinom1", "~1"),
    ("Owls NB2 (zi ~1)", OWLS, "Owls", "nbinom2", "~1"),
    ("cbpp beta-binomial", CBPP, "cbpp", "betabinomial", None),
]


def glmmtmb_times(repeats: int) -> dict[str, dict]:
    specs = ",\n".join(
        f'list("{name}", {formula}, {data}, {family}, {zi or "~0"})' for name, formula, data, family, zi in MODELS)
    code = f"""
    suppressMessages({{library(glmmTMB); library(jsonlite)}})
    cbpp <- lme4::cbpp
    specs <- list({specs})
    for (s in specs) {{
      fit1 <- function() glmmTMB(s[[2]], data = s[[3]], family = s[[4]], ziformula = s[[5]])
      invisible(suppressWarnings(fit1()))
      ts <- numeric(0)
      for (i in seq_len({repeats})) ts <- c(ts, system.time(m <- suppressWarnings(fit1()))[["elapsed"]])
      cat("JSON:", toJSON(list(name = s[[1]], seconds = median(ts), logLik = as.numeric(logLik(m))),
          digits = NA, auto_unbox = TRUE), "\\n", sep = "")
    }}
    """
    return {r["name"]: r for r in run_r(code)}


GOLDEN_KEYS = ["sal_zip", "sal_zinb2", "sal_hnb2", "sal_hpois", "owls_nb1", "owls_nb2", "cbpp_betabin"]


def accuracy() -> None:
    """Max errors of each fit against glmmTMB's golden values: fixef (both parts) abs, rel, and in units of the
    reference SE; logLik rel; SEs rel (both parts); sigma rel."""
    import mixbayes as mb

    cases = json.loads((ROOT / "tests/golden/glmmtmb_families.json").read_text())["cases"]
    rows = []
    for key, (name, formula, data, family, zi) in zip(GOLDEN_KEYS, MODELS, strict=True):
        c = cases[key]
        fit = mb.glmmTMB(formula, mb.load_dataset(data), family=family, zi=zi)
        est = np.r_[fit.fixef.to_numpy(), [] if fit.fixef_zi is None else fit.fixef_zi.to_numpy()]
        se = np.r_[fit.se.to_numpy(), [] if fit.se_zi is None else fit.se_zi.to_numpy()]
        ref = np.r_[list(c["fixef_cond"].values()), list((c["fixef_zi"] or {}).values())]
        ref_se = np.r_[list(c["se_cond"].values()), list((c["se_zi"] or {}).values())]
        err = np.abs(est - ref)
        rows.append([name, f"{err.max():.1e}", f"{(err / np.abs(ref)).max():.1e}", f"{(err / ref_se).max():.1e}",
                     f"{abs(fit.loglik - c['logLik']) / abs(c['logLik']):.1e}",
                     f"{np.abs(se / ref_se - 1).max():.1e}", f"{abs(fit.sigma / c['sigma'] - 1):.1e}"])
    print(table(rows, ["model", "fixef max abs", "fixef max rel", "fixef max err/SE", "logLik rel",
                       "SE max rel", "sigma rel"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--accuracy", action="store_true", help="errors against the golden values only (no timing)")
    args = ap.parse_args()
    import warnings

    import mixbayes as mb

    warnings.simplefilter("ignore")
    if args.accuracy:
        accuracy()
        return
    r_ok = have_r()
    print(f"glmmTMB through Rscript: {'yes' if r_ok else 'no (R/glmmTMB not installed)'}")
    peer = glmmtmb_times(args.repeats) if r_ok else {}
    rows = []
    for name, formula, data, family, zi in MODELS:
        frame = mb.load_dataset(data)
        t, fit = median_time(lambda f=formula, fr=frame, fam=family, z=zi: mb.glmmTMB(f, fr, family=fam, zi=z),
                             args.repeats)
        p = peer.get(name, {})
        agree = f"{abs(fit.loglik - p['logLik']) / abs(p['logLik']):.1e}" if p else "n/a"
        rows.append([name, f"{t:.3f}", f"{p['seconds']:.3f}" if p else "-", fmt_ratio(p.get("seconds"), t),
                     f"{fit.loglik:.6f}", agree, str(fit.estimate.n_eval)])
        print(f"  done {name}", file=sys.stderr)
    print(table(rows, ["model", "mixbayes s", "glmmTMB s", "glmmTMB/mb", "logLik", "logLik rel diff", "evals"]))


if __name__ == "__main__":
    main()
