"""Simulation study for docs/pql.md: PQL vs Laplace vs AGQ vs NUTS on binary data with small clusters.

Truth: logit P(y = 1) = -1 + 1 * x + b_j, b_j ~ N(0, sigma_b^2) with sigma_b = 1.5 (``--sd``); x ~ N(0, 1) per
observation; J = 60 clusters of 4 observations (240 binary responses).  Each replication is fitted by PQL
(``method="pql"``, MASS::glmmPQL's algorithm), Laplace (``nAGQ=1``), AGQ (``nAGQ=10``) and, on every
``--nuts-every``-th replication, NUTS (posterior means under the default priors; 4 chains x 500 draws after 500
warm-up steps).

    python benchmarks/pql_simulation.py [--reps 100] [--nuts-every 20] [--seed 20261129] [--out rows.csv]
    python benchmarks/pql_simulation.py --summarize rows.csv [--sd S]  # the table from the rows written so far

Each replication's estimates are appended to ``--out`` as they come; at the end (or with ``--summarize``) a
markdown table gives the mean estimate, bias, Monte Carlo SE of the bias and RMSE per method and parameter.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from scipy import special

TRUTH = {"(Intercept)": -1.0, "x": 1.0, "sd_b": 1.5}
J, M = 60, 4


def simulate(rng: np.random.Generator) -> pd.DataFrame:
    g = np.repeat(np.arange(J), M)
    x = rng.normal(size=J * M)
    b = rng.normal(0.0, TRUTH["sd_b"], J)
    eta = TRUTH["(Intercept)"] + TRUTH["x"] * x + b[g]
    y = rng.binomial(1, special.expit(eta))
    return pd.DataFrame({"y": y, "x": x, "g": [f"c{k:02d}" for k in g]})


def estimates(fit: object) -> dict[str, float]:
    fe = fit.fixef
    sd = float(fit.varcorr.as_frame()["sdcor"].iloc[0])
    return {"(Intercept)": float(fe["(Intercept)"]), "x": float(fe["x"]), "sd_b": sd}


def bayes_estimates(fit: object) -> dict[str, float]:
    """Posterior means."""
    fe = fit.fixef
    sd = float(fit.varcorr.as_frame()["mean"].iloc[0])
    return {"(Intercept)": float(fe["(Intercept)"]), "x": float(fe["x"]), "sd_b": sd}


def summarize(df: pd.DataFrame) -> str:
    out = []
    for method, grp in df.groupby("method", sort=False):
        for par, truth in TRUTH.items():
            err = grp[par] - truth
            out.append([method, par, f"{truth:.2f}", str(len(grp)), f"{grp[par].mean():.3f}", f"{err.mean():+.3f}",
                        f"{err.std(ddof=1) / np.sqrt(len(grp)):.3f}", f"{float(np.sqrt(np.mean(err**2))):.3f}"])
    head = ["method", "parameter", "truth", "replications", "mean", "bias", "MCSE(bias)", "RMSE"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in out])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--nuts-every", type=int, default=20)
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--out", default="pql_simulation_rows.csv")
    ap.add_argument("--summarize", default=None)
    ap.add_argument("--sd", type=float, default=1.5, help="true random-intercept SD")
    args = ap.parse_args()
    TRUTH["sd_b"] = args.sd
    if args.summarize:
        print(summarize(pd.read_csv(args.summarize)))
        return
    import mixbayes as mb

    rng = np.random.default_rng(args.seed)
    times = {"PQL": [], "Laplace": [], "AGQ(10)": [], "NUTS": []}
    rows: list[dict] = []
    start = time.perf_counter()
    for rep in range(args.reps):
        data = simulate(rng)
        model = mb.Model("y ~ x + (1 | g)", data, family="binomial")
        new = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, kw in (("PQL", {"method": "pql"}), ("Laplace", {"nAGQ": 1}), ("AGQ(10)", {"nAGQ": 10})):
                t = time.perf_counter()
                try:
                    est = estimates(model.fit(**kw))
                except mb.exceptions.MixbayesError:
                    continue
                times[name].append(time.perf_counter() - t)
                new.append({"rep": rep, "method": name, **est})
            if args.nuts_every and rep % args.nuts_every == 0:
                t = time.perf_counter()
                fit = model.sample(draws=500, tune=500, chains=4, random_seed=rep, progressbar=False)
                times["NUTS"].append(time.perf_counter() - t)
                new.append({"rep": rep, "method": "NUTS", **bayes_estimates(fit)})
        pd.DataFrame(new).to_csv(args.out, mode="a", header=not rows, index=False)
        rows += new
    total = time.perf_counter() - start
    print(summarize(pd.DataFrame(rows)))
    per_fit = ", ".join(f"{k} {np.median(v):.2f}" for k, v in times.items() if v)
    print(f"\nmedian seconds per fit: {per_fit}")
    print(f"total runtime: {total:.0f} s ({args.reps} replications, NUTS on {len(times['NUTS'])})")


if __name__ == "__main__":
    main()
