"""Benchmark: a 1000-refit parametric bootstrap of sleepstudy, mixbayes against lme4's ``bootMer``.

Model ``Reaction ~ Days + (Days | Subject)`` (REML), statistic: the fixed effects.  mixbayes runs on 1 worker
(in-process) and on 2 loky workers (the pool is started before timing); lme4's ``bootMer`` runs through
Rscript on one core in the same run (skipped, with a note, when R or lme4 is absent).

    python benchmarks/bootstrap.py [--nsim 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from common import have_r, run_r

import mixbayes as mb

HERE = Path(__file__).resolve().parent


def time_mixbayes(fit: mb.results.lmm.LmmFit, nsim: int, n_jobs: int) -> tuple[float, np.ndarray]:
    backend = None if n_jobs == 1 else "loky"
    fit.bootstrap(nsim=2 * n_jobs, statistic="fixef", random_seed=0, n_jobs=n_jobs, backend=backend, progressbar=False)
    t0 = time.perf_counter()
    boot = fit.bootstrap(nsim=nsim, statistic="fixef", random_seed=1, n_jobs=n_jobs, backend=backend, progressbar=False)
    elapsed = time.perf_counter() - t0
    if boot.n_failed:
        print(f"  ({boot.n_failed} failed refits)")
    return elapsed, boot.replicates.std(ddof=1).to_numpy()


def time_lme4(nsim: int) -> tuple[float, str, list[float]] | str:
    if not have_r():
        return "R or lme4 is absent (Rscript with lme4 not found): lme4's bootMer not timed"
    try:
        rows = run_r(f"nsim <- {int(nsim)}L\n" + (HERE / "r" / "bootmer.R").read_text())
    except RuntimeError as err:
        return f"lme4's bootMer could not run: {str(err).strip()[-300:]}"
    if not rows:
        return "lme4's bootMer printed no JSON: line: not timed"
    row = rows[-1]
    return float(row["seconds"]), str(row["lme4"]), [float(x) for x in row["sd"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nsim", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore", mb.MixbayesWarning)
    try:
        run(args.nsim, args.workers)
    finally:
        # Shut the loky pool down on every path (also when R is absent and run() returns early).
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)


def run(nsim: int, workers: int) -> None:
    fit = mb.lmer("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
    print(f"parametric bootstrap of sleepstudy (Days | Subject), statistic = fixef, nsim = {nsim}")
    one, sd1 = time_mixbayes(fit, nsim, 1)
    print(f"mixbayes {mb.__version__}, 1 worker : {one:8.2f} s   ({1e3 * one / nsim:.2f} ms per refit)"
          f"   bootstrap SDs {np.round(sd1, 3).tolist()}")
    many, _ = time_mixbayes(fit, nsim, workers)
    print(f"mixbayes {mb.__version__}, {workers} workers: {many:8.2f} s   "
          f"(speed-up over 1 worker {one / many:.2f}x)")
    lme4 = time_lme4(nsim)
    if isinstance(lme4, str):
        print(lme4)
        return
    seconds, version, sd = lme4
    print(f"lme4 {version} bootMer, 1 core: {seconds:8.2f} s   ({1e3 * seconds / nsim:.2f} ms per refit)"
          f"   bootstrap SDs {np.round(sd, 3).tolist()}")
    print(f"ratio lme4 / mixbayes: {seconds / one:.2f}x on 1 worker, {seconds / many:.2f}x on {workers} workers")


if __name__ == "__main__":
    main()
