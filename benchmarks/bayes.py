"""Benchmark of the Bayesian fit: sleepstudy ``Reaction ~ Days + (Days | Subject)``, 4 chains x 1000 draws after
1000 warm-up steps, from process start to printed summary.

    python benchmarks/bayes.py [--bambi-python PATH] [--skip-bambi] [--json OUT]

Measures, in one run:

* mixbayes cold, in a fresh process with EMPTY caches (PyTensor's ``base_compiledir`` and the JAX compilation
  cache pointed at new temporary directories), then again with those caches WARM;
* the in-process reuse: a second ``sample()`` on the same model (the compiled sampler is kept on the model);
* bambi's default sampler (PyMC's NUTS) on the same data and model in a fresh process, with empty and warm
  PyTensor caches, when bambi is importable by ``--bambi-python`` (default ``$MIXBAYES_BAMBI_PYTHON``, else this
  interpreter).

and prints the times and the ratios bambi / mixbayes.  The times are wall-clock seconds from the launch of the
process to the moment the summary has been printed (interpreter start-up and imports included).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, fmt_ratio

MIXBAYES = r"""
import os, time, json
import mixbayes as mb
m = mb.Model("Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy"))
fit = m.sample(draws=1000, tune=1000, chains=4, random_seed=1, progressbar=False)
print(fit.summary(), flush=True)
t_summary = time.time() - float(os.environ["BENCH_LAUNCH"])
t0 = time.perf_counter()
again = m.sample(draws=1000, tune=1000, chains=4, random_seed=2, progressbar=False)
print(again.fixef_summary(), flush=True)
t_reuse = time.perf_counter() - t0
rep = fit.diagnose()
print("JSON:" + json.dumps({"to_summary": t_summary, "reuse_to_summary": t_reuse,
                            "timings": fit.sampler_info.timings, "divergences": rep.divergences,
                            "min_ess_bulk": rep.min_ess_bulk, "max_rhat": rep.max_rhat}))
"""

BAMBI = r"""
import os, sys, time, json
import bambi as bmb, pandas as pd, arviz_stats as azs
d = pd.read_csv(sys.argv[1]).astype({"Subject": str})
m = bmb.Model("Reaction ~ Days + (Days | Subject)", d)
idata = m.fit(draws=1000, tune=1000, chains=4, random_seed=1, progressbar=False)
s = azs.summary(idata, var_names=["Intercept", "Days", "sigma"])
print(s, flush=True)
t_summary = time.time() - float(os.environ["BENCH_LAUNCH"])
div = int(idata["sample_stats"]["diverging"].sum())
print("JSON:" + json.dumps({"to_summary": t_summary, "divergences": div,
                            "min_ess_bulk": float(s["ess_bulk"].astype(float).min())}))
"""


def _run(python: str, code: str, cache: Path, args: list[str] | None = None) -> dict:
    env = dict(os.environ)
    env["PYTENSOR_FLAGS"] = f"base_compiledir={cache / 'pytensor'}"
    env["MIXBAYES_JAX_CACHE"] = str(cache / "jax")
    env["NUMBA_CACHE_DIR"] = str(cache / "numba")
    env.pop("XLA_FLAGS", None)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["BENCH_LAUNCH"] = repr(time.time())
    t0 = time.perf_counter()
    out = subprocess.run([python, "-c", code, *(args or [])], capture_output=True, text=True, env=env,
                         cwd=tempfile.gettempdir(), timeout=1800)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-4000:])
    line = next(x for x in out.stdout.splitlines() if x.startswith("JSON:"))
    result = json.loads(line[5:])
    result["process_wall"] = wall
    return result


def _has_bambi(python: str) -> bool:
    return subprocess.run([python, "-c", "import bambi"], capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bambi-python", default=os.environ.get("MIXBAYES_BAMBI_PYTHON", sys.executable))
    parser.add_argument("--skip-bambi", action="store_true")
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "bayes.json"))
    opts = parser.parse_args()

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="mixbayes-bench-") as tmp:
        tmp_path = Path(tmp)
        mb_cache = tmp_path / "mixbayes-cache"
        print("mixbayes, empty caches ...", flush=True)
        results["mixbayes_empty"] = _run(sys.executable, MIXBAYES, mb_cache)
        print("mixbayes, warm caches ...", flush=True)
        results["mixbayes_warm"] = _run(sys.executable, MIXBAYES, mb_cache)
        if not opts.skip_bambi and _has_bambi(opts.bambi_python):
            csv = tmp_path / "sleepstudy.csv"
            subprocess.run([sys.executable, "-c", f"import mixbayes as mb; mb.load_dataset('sleepstudy').to_csv("
                            f"{str(csv)!r}, index=False)"], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
            bb_cache = tmp_path / "bambi-cache"
            print(f"bambi ({opts.bambi_python}), empty caches ...", flush=True)
            results["bambi_empty"] = _run(opts.bambi_python, BAMBI, bb_cache, [str(csv)])
            print("bambi, warm caches ...", flush=True)
            results["bambi_warm"] = _run(opts.bambi_python, BAMBI, bb_cache, [str(csv)])
        elif not opts.skip_bambi:
            print(f"bambi is not importable by {opts.bambi_python}: skipped (pass --bambi-python)", flush=True)

    me, mw = results["mixbayes_empty"], results["mixbayes_warm"]
    print("\nsleepstudy (Days | Subject), 4 chains x 1000 draws after 1000 warm-up; seconds from process start to "
          "printed summary")
    print(f"  mixbayes cold, empty caches : {me['to_summary']:6.2f}  (divergences {me['divergences']}, "
          f"min bulk ESS {me['min_ess_bulk']:.0f}, max R-hat {me['max_rhat']:.4f})")
    print(f"  mixbayes cold, warm caches  : {mw['to_summary']:6.2f}")
    print(f"  mixbayes in-process reuse   : {mw['reuse_to_summary']:6.2f}  (second sample() on the same model)")
    print("  phases of the empty-cache run: " + ", ".join(f"{k} {v:.2f}" for k, v in me["timings"].items()))
    if "bambi_empty" in results:
        be, bw = results["bambi_empty"], results["bambi_warm"]
        print(f"  bambi (default sampler), empty caches: {be['to_summary']:6.2f}  (divergences {be['divergences']}, "
              f"min bulk ESS {be['min_ess_bulk']:.0f})")
        print(f"  bambi (default sampler), warm caches : {bw['to_summary']:6.2f}")
        print(f"  ratio bambi / mixbayes: empty caches {fmt_ratio(be['to_summary'], me['to_summary'])}, warm caches "
              f"{fmt_ratio(bw['to_summary'], mw['to_summary'])}, warm bambi / mixbayes reuse "
              f"{fmt_ratio(bw['to_summary'], mw['reuse_to_summary'])}")
    out = Path(opts.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nresults written to {out}")


if __name__ == "__main__":
    main()
