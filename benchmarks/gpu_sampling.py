"""Standalone device probe: the JAX sampling path (blackjax NUTS) on the CPU and on a GPU, both timed in the same run.

This is not a peer comparison (no other library is timed) and ``run.py`` (``./dev bench``) does not call it: it
times the same sampler, on the same models and seeds, on two devices and prints the ratio CPU / GPU.  Each
platform runs in a fresh child process of this script (``JAX_PLATFORMS=cpu``, then ``JAX_PLATFORMS=cuda`` when a
CUDA-enabled JAX is installed and sees a GPU; otherwise the GPU columns say why they are empty).

Models: sleepstudy (correlated, random effects integrated out: a tiny problem, where a GPU cannot help) and a
simulated random intercept-and-slope logistic GLMM with 2,000 groups x 10 observations (non-centred: 4,000+
latent dimensions, the kind of model a GPU could speed up).  Times: first sample() (compile + run) and a second
sample() reusing the compiled program.

    python benchmarks/gpu_sampling.py                    # CPU, then the GPU when JAX can use one
    python benchmarks/gpu_sampling.py --platform cpu     # one platform only (what each child process runs)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
from common import ROOT, fmt_ratio, table
from scipy import special


def simulated_logistic(groups: int = 2000, per: int = 10, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), per)
    x = rng.standard_normal(groups * per)
    b0 = rng.normal(0, 0.8, groups)
    b1 = rng.normal(0, 0.4, groups)
    eta = -0.3 + 0.7 * x + b0[g] + b1[g] * x
    return pd.DataFrame({"y": rng.binomial(1, special.expit(eta)), "x": x, "g": g})


def probe() -> None:
    """Time both models on the platform JAX was started with (``JAX_PLATFORMS``); print one ``JSON:`` line."""
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
                         "divergences": report.divergences, "problems": len(report.problems)}
        print(name, results[name], file=sys.stderr, flush=True)
    import jax

    print("JSON:" + json.dumps({"devices": [str(d) for d in jax.devices()], "results": results,
                                "platform_env": os.environ.get("JAX_PLATFORMS", "")}), flush=True)


def _child(platform: str) -> dict:
    """Run :func:`probe` in a fresh process restricted to ``platform``; ``{"error": ...}`` when it cannot run."""
    env = {**os.environ, "JAX_PLATFORMS": platform}
    if platform == "cuda":
        check = subprocess.run([sys.executable, "-c", "import jax; print(jax.devices('gpu'))"], capture_output=True,
                               text=True, env=env)
        if check.returncode != 0:
            last = check.stderr.strip().splitlines()[-1] if check.stderr.strip() else f"exit {check.returncode}"
            return {"error": f"no GPU usable by JAX (JAX_PLATFORMS=cuda gives {last[:200]}; a CUDA-enabled JAX, "
                             "e.g. pip install 'jax[cuda12]', and a GPU are needed)"}
    print(f"sampling on {platform} ...", file=sys.stderr, flush=True)
    out = subprocess.run([sys.executable, __file__, "--platform", platform], capture_output=True, text=True,
                         env=env, cwd=ROOT)
    rows = [json.loads(line[5:]) for line in out.stdout.splitlines() if line.startswith("JSON:")]
    if out.returncode != 0 or not rows:
        last = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"
        return {"error": last[:300]}
    return rows[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform", choices=["cpu", "cuda"],
                        help="time on this platform only, in this process (default: both, in child processes)")
    opts = parser.parse_args()
    if opts.platform:
        os.environ["JAX_PLATFORMS"] = opts.platform
        probe()
        return
    cpu, gpu = _child("cpu"), _child("cuda")
    for label, res in (("CPU", cpu), ("GPU", gpu)):
        print(f"{label}: " + (", ".join(res["devices"]) if "devices" in res else res["error"]))
    rows = []
    for name in ("sleepstudy", "logistic 2000 groups"):
        c = cpu.get("results", {}).get(name, {})
        g = gpu.get("results", {}).get(name, {})
        rows.append([
            name,
            f"{c['first_s']:.2f}" if c else "-", f"{c['reuse_s']:.2f}" if c else "-",
            f"{g['first_s']:.2f}" if g else "-", f"{g['reuse_s']:.2f}" if g else "-",
            fmt_ratio(c.get("first_s"), g.get("first_s")), fmt_ratio(c.get("reuse_s"), g.get("reuse_s")),
            f"{c.get('divergences', '-')} / {g.get('divergences', '-')}",
        ])
    print(table(rows, ["model", "CPU first s", "CPU reuse s", "GPU first s", "GPU reuse s", "CPU/GPU first",
                       "CPU/GPU reuse", "divergences CPU / GPU"]))


if __name__ == "__main__":
    main()
