"""JAX sampling path on whatever devices JAX sees (CPU here; a GPU where one is lent): time to posterior.

Models: sleepstudy (correlated, random effects integrated out: a tiny problem, where a GPU cannot help) and a
simulated random intercept-and-slope logistic GLMM with 2,000 groups x 10 observations (non-centred: 4,000+
latent dimensions, the kind of model a GPU could speed up).  Times: first sample() (compile + run) and a second
sample() reusing the compiled program.

    JAX_PLATFORMS=cuda python benchmarks/gpu_sampling.py      # on a GPU machine
    python benchmarks/gpu_sampling.py                          # CPU
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pandas as pd
from scipy import special


def simulated_logistic(groups: int = 2000, per: int = 10, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), per)
    x = rng.standard_normal(groups * per)
    b0 = rng.normal(0, 0.8, groups)
    b1 = rng.normal(0, 0.4, groups)
    eta = -0.3 + 0.7 * x + b0[g] + b1[g] * x
    return pd.DataFrame({"y": rng.binomial(1, special.expit(eta)), "x": x, "g": g})


def main() -> None:
    import warnings

    import mixbayes as mb

    warnings.simplefilter("ignore")
    results = {}
    cases = [
        ("sleepstudy", mb.Model("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy")), {}),
        ("logistic 2000 groups", mb.Model("y ~ x + (x | g)", simulated_logistic(), family="binomial"),
         {"draws": 500, "tune": 500}),
    ]
    for name, model, kw in cases:
        t0 = time.perf_counter()
        fit = model.sample(random_seed=1, progressbar=False, **kw)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        fit = model.sample(random_seed=2, progressbar=False, **kw)
        second = time.perf_counter() - t0
        report = fit.diagnose()
        results[name] = {"first_s": round(first, 2), "reuse_s": round(second, 2),
                         "divergences": int(np.sum(fit.idata.sample_stats["diverging"].values)),
                         "problems": len(report.problems)}
        print(name, results[name], flush=True)
    import jax

    print("JSON:" + json.dumps({"devices": [str(d) for d in jax.devices()], "results": results,
                                "platform_env": os.environ.get("JAX_PLATFORMS", "")}))


if __name__ == "__main__":
    main()
