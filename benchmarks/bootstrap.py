"""Benchmark: a 1000-refit parametric bootstrap of sleepstudy, mixbayes against lme4's ``bootMer``.

Model ``Reaction ~ Days + (Days | Subject)`` (REML), statistic: the fixed effects.  mixbayes runs on 1 worker
(in-process) and on 2 loky workers (the pool is started before timing); lme4's ``bootMer`` runs through
Rscript on one core in the same run (skipped, with a note, when R or lme4 is absent).

    python benchmarks/bootstrap.py [--nsim 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np

import mixbayes as mb

HERE = Path(__file__).resolve().parent


def time_mixbayes(fit: mb.results.lmm.LmmFit, nsim: int, n_jobs: int) -> tuple[float, np.ndarray]:
    backend = None if n_jobs == 1 else "loky"
    fit.bootstrap(nsim=2 * n_jobs, statistic="fixef", seed=0, n_jobs=n_jobs, backend=backend, progress=False)
    t0 = time.perf_counter()
    boot = fit.bootstrap(nsim=nsim, statistic="fixef", seed=1, n_jobs=n_jobs, backend=backend, progress=False)
    elapsed = time.perf_counter() - t0
    if boot.n_failed:
        print(f"  ({boot.n_failed} failed refits)")
    return elapsed, boot.replicates.std(ddof=1).to_numpy()


def time_lme4(nsim: int) -> tuple[float, str, list[float]] | str:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "R is absent (no Rscript on PATH): lme4's bootMer not timed"
    out = subprocess.run([rscript, str(HERE / "r" / "bootmer.R"), str(nsim)], capture_output=True, text=True)
    if out.returncode != 0:
        return f"lme4's bootMer could not run (R or lme4 absent?): {out.stderr.strip()[-300:]}"
    fields = {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines() if line.strip()}
    return float(fields["seconds"][0]), fields["lme4"][0], [float(x) for x in fields["sd"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nsim", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore", mb.MixbayesWarning)
    fit = mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    print(f"parametric bootstrap of sleepstudy (Days | Subject), statistic = fixef, nsim = {args.nsim}")
    one, sd1 = time_mixbayes(fit, args.nsim, 1)
    print(f"mixbayes {mb.__version__}, 1 worker : {one:8.2f} s   ({1e3 * one / args.nsim:.2f} ms per refit)"
          f"   bootstrap SDs {np.round(sd1, 3).tolist()}")
    many, _ = time_mixbayes(fit, args.nsim, args.workers)
    print(f"mixbayes {mb.__version__}, {args.workers} workers: {many:8.2f} s   "
          f"(speed-up over 1 worker {one / many:.2f}x)")
    lme4 = time_lme4(args.nsim)
    if isinstance(lme4, str):
        print(lme4)
        return
    seconds, version, sd = lme4
    print(f"lme4 {version} bootMer, 1 core: {seconds:8.2f} s   ({1e3 * seconds / args.nsim:.2f} ms per refit)"
          f"   bootstrap SDs {np.round(sd, 3).tolist()}")
    print(f"ratio lme4 / mixbayes: {seconds / one:.2f}x on 1 worker, {seconds / many:.2f}x on {args.workers} workers")
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


if __name__ == "__main__":
    main()
