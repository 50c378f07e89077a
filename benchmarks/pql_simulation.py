"""Simulation study for docs/pql.md: PQL vs Laplace vs AGQ vs NUTS on binary data with small clusters.

Truth: logit P(y = 1) = -1 + 1 * x + b_j, b_j ~ N(0, sigma_b^2) with sigma_b = 1.5; x ~ N(0, 1) per observation;
J = 60 clusters of 4 observations (240 binary responses).  Each replication is fitted by PQL (``method="pql"``,
MASS::glmmPQL's algorithm), Laplace (``nAGQ=1``), AGQ (``nAGQ=10``) and, on the first ``--nuts`` replications,
NUTS (posterior means under the default priors; 4 chains x 500 draws after 500 warm-up steps).

    python benchmarks/pql_simulation.py [--reps 200] [--nuts 10] [--seed 20261129]

Prints a markdown table (mean estimate, bias, RMSE and Monte Carlo SE of the bias per method) and the runtime.
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


def main() -> None:
    import mixbayes as mb

    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--nuts", type=int, default=10)
    ap.add_argument("--seed", type=int, default=20261129)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = []
    times = {"PQL": 0.0, "Laplace": 0.0, "AGQ(10)": 0.0, "NUTS": 0.0}
    start = time.perf_counter()
    for rep in range(args.reps):
        data = simulate(rng)
        model = mb.Model("y ~ x + (1 | g)", data, family="binomial")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, kw in (("PQL", {"method": "pql"}), ("Laplace", {"nAGQ": 1}), ("AGQ(10)", {"nAGQ": 10})):
                t = time.perf_counter()
                try:
                    est = estimates(model.fit(**kw))
                except mb.exceptions.MixbayesError:
                    continue
                times[name] += time.perf_counter() - t
                rows.append({"rep": rep, "method": name, **est})
            if rep < args.nuts:
                t = time.perf_counter()
                fit = model.sample(draws=500, tune=500, chains=4, random_seed=rep, progressbar=False)
                times["NUTS"] += time.perf_counter() - t
                rows.append({"rep": rep, "method": "NUTS", **bayes_estimates(fit)})
    total = time.perf_counter() - start
    df = pd.DataFrame(rows)
    out = []
    for method, grp in df.groupby("method", sort=False):
        for par, truth in TRUTH.items():
            err = grp[par] - truth
            out.append({"method": method, "parameter": par, "truth": truth, "n": len(grp),
                        "mean": grp[par].mean(), "bias": err.mean(), "MCSE(bias)": err.std(ddof=1) / np.sqrt(len(grp)),
                        "RMSE": float(np.sqrt(np.mean(err**2)))})
    table = pd.DataFrame(out)
    cols = list(table.columns)
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for _, r in table.iterrows():
        print("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in r) + " |")
    per_fit = ", ".join(f"{k} {v / max(1, int((df.method == k).sum())):.2f}" for k, v in times.items())
    print(f"\nseconds per fit: {per_fit}")
    print(f"total runtime: {total:.0f} s ({args.reps} replications, NUTS on {min(args.nuts, args.reps)})")


if __name__ == "__main__":
    main()
