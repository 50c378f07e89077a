"""Out-of-core benchmark (issue 16): ``y ~ x + (1 + x | g) + (1 | h)`` on 50 million rows generated partition by
partition in Dask workers (10,000 groups g, a crossed factor h), never held in one frame.

    python benchmarks/dask_lmm.py [--rows 50000000] [--rows-per-partition 1000000] [--workers 2]
                                  [--inmemory 1000000,4000000,10000000] [--memory-budget-gib 6]
                                  [--chains 2 --tune 250 --draws 250] [--bayes-inmemory 1000000] [--json OUT]

In one run it measures

* the Dask fit on a ``LocalCluster`` of ``--workers`` worker processes (one thread each): the wall time of the
  two passes (levels, blocks) and of the REML fit on the reduced blocks, and the peak resident memory of every
  process (client and each worker, ``VmHWM``) after each stage;
* the Bayesian fit (NUTS, blackjax) of the same model from the same summed blocks (``model.sample()``: the
  blocked-Schur marginal likelihood, random effects drawn from their exact conditional afterwards): build,
  compile and sampling time, and the client's peak memory after it (the workers take no part);
* the in-memory (pandas) fit of the same model, each size in a fresh process, for the ``--inmemory`` sizes in
  increasing order until one exceeds ``--memory-budget-gib``: time and peak memory.  The largest size within
  the budget is "the largest size that fits"; the ratio line compares time per million rows;
* the in-memory Bayesian fit (same form, same sampler settings) at ``--bayes-inmemory`` rows in a fresh
  process (0: skipped): the posterior from rows against the posterior from the blocks, with the same number
  of random effects.

The partitions are generated from their own seeds, so both fits see the same rows.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
FORMULA = "y ~ x + (1 + x | g) + (1 | h)"
GROUPS, CROSSED = 10_000, 50  # --crossed sets h's levels: the Bayesian fit's cost per gradient grows as CROSSED^2


def make_partition(i: int, rows: int, crossed: int = CROSSED) -> pd.DataFrame:
    """Partition ``i``: its own seed; the group effects come from one fixed seed, so they are shared."""
    eff = np.random.default_rng(2026)
    b = eff.normal(size=(GROUPS, 2)) * [1.0, 0.3]
    c = eff.normal(size=crossed) * 0.5
    rng = np.random.default_rng(10_000 + i)
    g = rng.integers(0, GROUPS, rows).astype(np.int32)
    h = rng.integers(0, crossed, rows).astype(np.int16)
    x = rng.normal(size=rows)
    y = 1.0 + 0.5 * x + b[g, 0] + b[g, 1] * x + c[h] + rng.normal(size=rows)
    return pd.DataFrame({"y": y, "x": x, "g": g, "h": h}, index=pd.RangeIndex(i * rows, (i + 1) * rows))


def peak_mib() -> float:
    """This process's peak resident memory (VmHWM: reset by exec, unlike getrusage's ru_maxrss, which a child
    started by subprocess inherits from its parent)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_memory(rows: int, per_part: int, crossed: int = CROSSED) -> dict:
    """The pandas fit at ``rows`` (run in a fresh process by the driver)."""
    import mixbayes as mb

    t0 = time.perf_counter()
    parts = [make_partition(i, per_part, crossed) for i in range(rows // per_part)]
    df = pd.concat(parts, ignore_index=True)
    del parts
    t1 = time.perf_counter()
    fit = mb.lmer(FORMULA, df)
    t2 = time.perf_counter()
    return {"rows": rows, "generate_s": t1 - t0, "fit_s": t2 - t1, "peak_mib": peak_mib(),
            "objective": fit.objective_value, "theta": fit.theta.tolist(), "beta": fit.beta.tolist()}


def sample_args(args: argparse.Namespace) -> dict:
    return {"chains": args.chains, "tune": args.tune, "draws": args.draws, "random_seed": 1, "progressbar": False,
            "marginalize": "schur", "emit_warnings": False}


def bayes_figures(bfit: object, seconds: float) -> dict:
    t = bfit.sampler_info.timings
    fx = bfit.fixef_summary()
    return {"bayes_s": seconds, "bayes_timings": {k: float(v) for k, v in t.items()},
            "bayes_form": bfit.sampler_info.parameterisation, "bayes_fixef": fx["mean"].tolist(),
            "bayes_fixef_sd": fx["sd"].tolist(), "bayes_sds": bfit.varcorr.as_frame()["mean"].tolist(),
            "bayes_divergences": int(np.sum(bfit.idata["sample_stats"]["diverging"].values)),
            "bayes_min_ess": float(fx["ess_bulk"].min())}


def in_memory_bayes(rows: int, per_part: int, sampling: dict, crossed: int = CROSSED) -> dict:
    """The in-memory Bayesian fit at ``rows`` (fresh process): the posterior from the rows."""
    import mixbayes as mb

    df = pd.concat([make_partition(i, per_part, crossed) for i in range(rows // per_part)], ignore_index=True)
    t0 = time.perf_counter()
    bfit = mb.Model(FORMULA, df).sample(**sampling)
    return {"rows": rows, "peak_mib": peak_mib(), **bayes_figures(bfit, time.perf_counter() - t0)}


def dask_fit(rows: int, per_part: int, workers: int, sampling: dict | None = None, crossed: int = CROSSED) -> dict:
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    import mixbayes as mb

    nparts = rows // per_part
    meta = make_partition(0, 0)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      memory_limit="4GiB") as cluster, Client(cluster) as client:
        ddf = dd.from_map(make_partition, range(nparts), rows=per_part, crossed=crossed, meta=meta, divisions=None)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = mb.Model(FORMULA, ddf)
        t1 = time.perf_counter()
        client_after_passes = peak_mib()
        fit = model.fit()
        t2 = time.perf_counter()
        client_after_fit = peak_mib()
        worker_peaks = client.run(peak_mib)
        out = {"rows": model.design.nobs, "partitions": nparts, "passes_s": t1 - t0, "fit_s": t2 - t1,
               "client_peak_mib_passes": client_after_passes, "client_peak_mib": client_after_fit,
               "worker_peak_mib": sorted(worker_peaks.values()), "objective": fit.objective_value,
               "theta": fit.theta.tolist(), "beta": fit.beta.tolist(), "se": fit.se.tolist(),
               "summary": str(fit.summary())}
        print(f"Dask passes {out['passes_s']:.1f} s, REML fit {out['fit_s']:.1f} s; peak MiB: client "
              f"{client_after_passes:.0f} / {client_after_fit:.0f}, workers {out['worker_peak_mib']}", flush=True)
        if sampling:  # NUTS from the same blocks: the workers are idle, the client samples
            t3 = time.perf_counter()
            bfit = model.sample(**sampling)
            out.update(bayes_figures(bfit, time.perf_counter() - t3))
            out["client_peak_mib_bayes"] = peak_mib()
            out["worker_peak_mib_after_bayes"] = sorted(client.run(peak_mib).values())
            out["bayes_summary"] = str(bfit.summary())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=50_000_000)
    ap.add_argument("--rows-per-partition", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--inmemory", default="1000000,4000000,10000000")
    ap.add_argument("--memory-budget-gib", type=float, default=6.0)
    ap.add_argument("--crossed", type=int, default=CROSSED, help="levels of the crossed factor h")
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--tune", type=int, default=250)
    ap.add_argument("--draws", type=int, default=250)
    ap.add_argument("--no-bayes", action="store_true", help="skip the Bayesian fits")
    ap.add_argument("--bayes-inmemory", type=int, default=1_000_000)
    ap.add_argument("--json", default=None)
    ap.add_argument("--child-inmemory", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-bayes", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    per = args.rows_per_partition
    if args.child_inmemory is not None:
        print(json.dumps(in_memory(args.child_inmemory, min(per, args.child_inmemory), args.crossed)))
        return
    if args.child_bayes is not None:
        n = args.child_bayes
        print(json.dumps(in_memory_bayes(n, min(per, n), sample_args(args), args.crossed)))
        return
    print(f"load average at start: {open('/proc/loadavg').read().split()[:3]}", flush=True)
    out = {"dask": dask_fit(args.rows, per, args.workers, None if args.no_bayes else sample_args(args), args.crossed)}
    d = out["dask"]
    print(d["summary"])
    print(f"\nDask: {d['rows']:,} rows in {d['partitions']} partitions, {args.workers} worker processes x 1 thread")
    print(f"  two passes (levels, blocks): {d['passes_s']:.1f} s; REML fit on the blocks: {d['fit_s']:.1f} s")
    print(f"  peak memory: client {d['client_peak_mib_passes']:.0f} MiB after the passes, {d['client_peak_mib']:.0f} "
          "MiB after the REML fit; workers " + ", ".join(f"{w:.0f}" for w in d["worker_peak_mib"]) + " MiB",
          flush=True)
    if "bayes_s" in d:
        print(d["bayes_summary"])
        t = d["bayes_timings"]
        print(f"Bayesian fit from the same blocks ({d['bayes_form']}, {args.chains} chains x ({args.tune} + "
              f"{args.draws})): {d['bayes_s']:.1f} s (build {t['build']:.1f}, compile {t['compile']:.1f}, sample "
              f"{t['sample']:.1f}, post-process {t['postprocess']:.1f}); client peak {d['client_peak_mib_bayes']:.0f}"
              " MiB; workers " + ", ".join(f"{w:.0f}" for w in d["worker_peak_mib_after_bayes"]) + " MiB", flush=True)
        print(f"  REML beta {np.round(d['beta'], 4).tolist()}, posterior means {np.round(d['bayes_fixef'], 4).tolist()}"
              f"; {d['bayes_divergences']} divergences, min bulk ESS {d['bayes_min_ess']:.0f}", flush=True)
    print(f"load average after the Dask fits: {open('/proc/loadavg').read().split()[:3]}", flush=True)
    out["inmemory"] = []
    budget = args.memory_budget_gib * 1024
    for n in sorted(int(v) for v in args.inmemory.split(",")):
        res = subprocess.run([sys.executable, __file__, "--child-inmemory", str(n), "--rows-per-partition", str(per),
                              "--crossed", str(args.crossed)],
                             capture_output=True, text=True, cwd=ROOT)
        if res.returncode != 0:
            print(f"in-memory {n:,} rows failed: {res.stderr.strip().splitlines()[-1:]}")
            break
        r = json.loads(res.stdout.strip().splitlines()[-1])
        out["inmemory"].append(r)
        print(f"in-memory (pandas) {n:,} rows: fit {r['fit_s']:.1f} s (+ {r['generate_s']:.1f} s to build the frame), "
              f"peak {r['peak_mib']:.0f} MiB", flush=True)
        if r["peak_mib"] > budget:
            print(f"  over the {args.memory_budget_gib:g} GiB budget: larger sizes are not tried")
            break
    fits = [r for r in out["inmemory"] if r["peak_mib"] <= budget]
    if fits:
        r = fits[-1]
        per_m_dask = (d["passes_s"] + d["fit_s"]) / (d["rows"] / 1e6)
        per_m_mem = r["fit_s"] / (r["rows"] / 1e6)
        print(f"largest in-memory size within {args.memory_budget_gib:g} GiB: {r['rows']:,} rows, {r['fit_s']:.1f} s, "
              f"{r['peak_mib']:.0f} MiB; seconds per million rows: Dask {per_m_dask:.2f}, in-memory {per_m_mem:.2f} "
              f"(ratio Dask/in-memory {per_m_dask / per_m_mem:.2f}); peak memory in-memory / largest Dask worker "
              f"{r['peak_mib'] / max(d['worker_peak_mib']):.1f}x")
    if args.bayes_inmemory and not args.no_bayes:
        n = args.bayes_inmemory
        res = subprocess.run([sys.executable, __file__, "--child-bayes", str(n), "--rows-per-partition", str(per),
                              "--chains", str(args.chains), "--tune", str(args.tune), "--draws", str(args.draws),
                              "--crossed", str(args.crossed)],
                             capture_output=True, text=True, cwd=ROOT)
        if res.returncode != 0:
            print(f"in-memory Bayesian fit at {n:,} rows failed: {res.stderr.strip().splitlines()[-1:]}")
        else:
            r = json.loads(res.stdout.strip().splitlines()[-1])
            out["bayes_inmemory"] = r
            t = r["bayes_timings"]
            print(f"in-memory Bayesian fit ({r['bayes_form']}) at {n:,} rows: {r['bayes_s']:.1f} s (compile "
                  f"{t['compile']:.1f}, sample {t['sample']:.1f}), peak {r['peak_mib']:.0f} MiB; posterior means "
                  f"{np.round(r['bayes_fixef'], 4).tolist()}")
            if "bayes_s" in d:
                print(f"  sampling time from the {d['rows']:,}-row blocks / from {n:,} rows in memory: "
                      f"{d['bayes_timings']['sample'] / t['sample']:.2f}")
    print(f"load average at the end: {open('/proc/loadavg').read().split()[:3]}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
