"""Benchmark of the Bayesian fit against bambi, rstanarm (``stan_lmer``) and brms, in the same run.

    python benchmarks/bayes.py [--models sleepstudy,crossed]
                               [--tools mixbayes,noncentred,schur,partial,bambi,rstanarm,brms]
                               [--cores 2] [--json OUT]

Models (4 chains x 1000 draws after 1000 warm-up steps everywhere, same data files for every tool):

* ``sleepstudy``: ``Reaction ~ Days + (Days | Subject)``;
* ``crossed``: a maximal crossed design, 48 subjects x 32 items, 2 x 2 within both (A, B coded -0.5/0.5),
  ``y ~ A * B + (1 + A * B | subj) + (1 + A * B | item)`` (4 x 4 covariance per factor, 320 random effects),
  simulated with :func:`crossed_design`.

Tools, each in a fresh process from its launch to its printed summary (start-up, compilation and
post-processing included; mixbayes and bambi with empty compilation caches):

* ``mixbayes``: the automatic form (non-centred for ``crossed``, block for ``sleepstudy``: docs/bayes.md);
* ``noncentred``: mixbayes with ``marginalize=False`` (random effects sampled);
* ``schur``: mixbayes with ``marginalize="schur"`` (the blocked-Schur form forced; ``crossed`` only);
* ``partial``: mixbayes with ``marginalize="partial"`` (subjects integrated out, items sampled; ``crossed`` only);
* ``bambi`` (optional: only when ``import bambi`` works; it is not a dependency of mixbayes); its default
  sampler, PyMC's NUTS.  Note bambi samples the SDs without correlations (its ``(1 + A | g)`` terms are
  uncorrelated), so its model is smaller than the others';
* ``rstanarm``: ``stan_lmer`` (precompiled Stan model); ``brms``: ``brm`` (compiles its Stan model: included).

Each row gives the wall time, divergences, min bulk ESS over the fixed effects, SDs, correlations and sigma (not
the random effects), and min bulk ESS per second of wall time; ratios are tool / mixbayes.  The machine is shared:
times vary between runs, ratios within a run are what to compare.
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

from common import ROOT, table

sys.path.insert(0, str(ROOT / "tests"))
from conftest import crossed_design

FORMULAS = {
    "sleepstudy": "Reaction ~ Days + (Days | Subject)",
    "crossed": "y ~ A * B + (1 + A * B | subj) + (1 + A * B | item)",
}
FACTORS = {"sleepstudy": ["Subject"], "crossed": ["subj", "item"]}


MIXBAYES = r"""
import os, sys, time, json
import pandas as pd
import mixbayes as mb
d = pd.read_csv(sys.argv[1])
for f in sys.argv[4].split(","):
    d[f] = d[f].astype(str)
m = mb.Model(sys.argv[2], d)
marg = {"auto": None, "noncentred": False}.get(sys.argv[3], sys.argv[3])
fit = m.sample(draws=1000, tune=1000, chains=4, random_seed=1, progressbar=False, marginalize=marg,
               emit_warnings=False)
print(fit.summary(), flush=True)
wall = time.time() - float(os.environ["BENCH_LAUNCH"])
rep = fit.diagnose()
print("JSON:" + json.dumps({"wall": wall, "divergences": rep.divergences, "min_ess_bulk": rep.min_ess_bulk,
                            "max_rhat": rep.max_rhat, "form": fit.sampler_info.parameterisation,
                            "timings": fit.sampler_info.timings,
                            "means": {k: float(v) for k, v in fit.diagnose().table["mean"].items()}}))
"""

BAMBI = r"""
import os, sys, time, json
import bambi as bmb, pandas as pd, arviz_stats as azs
d = pd.read_csv(sys.argv[1])
for f in sys.argv[3].split(","):
    d[f] = d[f].astype(str)
m = bmb.Model(sys.argv[2], d)
idata = m.fit(draws=1000, tune=1000, chains=4, cores=int(sys.argv[4]), random_seed=1, progressbar=False)
names = [v for v in idata["posterior"].data_vars if "|" not in v or v.endswith("_sigma")]
s = azs.summary(idata, var_names=names)
print(s, flush=True)
wall = time.time() - float(os.environ["BENCH_LAUNCH"])
div = int(idata["sample_stats"]["diverging"].sum())
print("JSON:" + json.dumps({"wall": wall, "divergences": div, "min_ess_bulk": float(s["ess_bulk"].astype(float).min()),
                            "max_rhat": float(s["r_hat"].astype(float).max())}))
"""

R_CODE = r"""
args <- commandArgs(TRUE)
launch <- as.numeric(Sys.getenv("BENCH_LAUNCH"))
suppressMessages({library(posterior); library(jsonlite)})
d <- read.csv(args[1])
for (f in strsplit(args[4], ",")[[1]]) d[[f]] <- factor(d[[f]])
form <- as.formula(args[2])
cores <- as.integer(args[5])
if (args[3] == "rstanarm") {
  suppressMessages(library(rstanarm))
  fit <- stan_lmer(form, data = d, chains = 4, iter = 2000, warmup = 1000, cores = cores, seed = 1, refresh = 0)
  dr <- as_draws_df(as.array(fit))
  keep <- grep("^b\\[", variables(dr), invert = TRUE, value = TRUE)
  sp <- rstan::get_sampler_params(fit$stanfit, inc_warmup = FALSE)
  div <- sum(sapply(sp, function(x) sum(x[, "divergent__"])))
} else {
  suppressMessages(library(brms))
  fit <- brm(form, data = d, chains = 4, iter = 2000, warmup = 1000, cores = cores, seed = 1, refresh = 0,
             silent = 2)
  dr <- as_draws_df(fit)
  keep <- grep("^(b_|sd_|cor_|sigma$)", variables(dr), value = TRUE)
  np <- nuts_params(fit)
  div <- sum(np$Value[np$Parameter == "divergent__"])
}
s <- summarise_draws(subset_draws(dr, variable = keep), "mean", "rhat", "ess_bulk")
print(s, n = 100)
wall <- as.numeric(Sys.time()) - launch
cat("JSON:", toJSON(list(wall = wall, divergences = div, min_ess_bulk = min(s$ess_bulk), max_rhat = max(s$rhat)),
                    auto_unbox = TRUE), "\n", sep = "")
"""


def _run(cmd: list[str], cache: Path, timeout: float) -> dict:
    env = dict(os.environ)
    env["PYTENSOR_FLAGS"] = f"base_compiledir={cache / 'pytensor'}"
    env["MIXBAYES_JAX_CACHE"] = str(cache / "jax")
    env["NUMBA_CACHE_DIR"] = str(cache / "numba")
    env.pop("XLA_FLAGS", None)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["BENCH_LAUNCH"] = repr(time.time())
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tempfile.gettempdir(),
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    lines = [x for x in out.stdout.splitlines() if x.startswith("JSON:")]
    if out.returncode != 0 or not lines:
        return {"error": (out.stderr.strip().splitlines() or [f"exit {out.returncode}"])[-1][:300]}
    return json.loads(lines[-1][5:])


def _available(tool: str, python: str) -> str | None:
    if tool == "bambi":
        ok = subprocess.run([python, "-c", "import bambi"], capture_output=True).returncode == 0
        return None if ok else "bambi is not importable (pip install bambi; it is optional)"
    if tool in ("rstanarm", "brms"):
        ok = subprocess.run(["Rscript", "-e", f"suppressMessages(library({tool})); library(posterior)"],
                            capture_output=True).returncode == 0
        return None if ok else f"R package {tool} (or posterior) is not installed"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="sleepstudy,crossed")
    parser.add_argument("--tools", default="mixbayes,noncentred,schur,partial,bambi,rstanarm,brms")
    parser.add_argument("--bambi-python", default=os.environ.get("MIXBAYES_BAMBI_PYTHON", sys.executable))
    parser.add_argument("--cores", type=int, default=2, help="parallel chains for bambi, rstanarm and brms")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "bayes.json"))
    opts = parser.parse_args()
    tools = opts.tools.split(",")
    results: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="mixbayes-bench-") as tmp:
        tmp_path = Path(tmp)
        rfile = tmp_path / "bench.R"
        rfile.write_text(R_CODE)
        for model in opts.models.split(","):
            csv = tmp_path / f"{model}.csv"
            if model == "sleepstudy":
                sys.path.insert(0, str(ROOT))
                import mixbayes as mb

                mb.load_dataset("sleepstudy").to_csv(csv, index=False)
            else:
                crossed_design().to_csv(csv, index=False)
            formula, factors = FORMULAS[model], ",".join(FACTORS[model])
            results[model] = {}
            for tool in tools:
                why = _available(tool, opts.bambi_python)
                if why:
                    results[model][tool] = {"error": why}
                    continue
                if tool in ("mixbayes", "noncentred", "schur", "partial"):
                    if tool in ("schur", "partial") and model == "sleepstudy":
                        continue  # one grouping factor: no blocked-Schur or partial form
                    cmd = [sys.executable, "-c", MIXBAYES, str(csv), formula,
                           "auto" if tool == "mixbayes" else tool, factors]
                elif tool == "bambi":
                    cmd = [opts.bambi_python, "-c", BAMBI, str(csv), formula, factors, str(opts.cores)]
                else:
                    cmd = ["Rscript", str(rfile), str(csv), formula, tool, factors, str(opts.cores)]
                print(f"{model}: {tool} ...", flush=True)
                res = _run(cmd, tmp_path / f"cache-{model}-{tool}", opts.timeout)
                if "wall" in res:
                    res["ess_per_s"] = res["min_ess_bulk"] / res["wall"]
                results[model][tool] = res
                print(f"  {json.dumps({k: v for k, v in res.items() if k not in ('means', 'timings')})}", flush=True)

    for model, rows in results.items():
        base = rows.get("mixbayes", {})
        print(f"\n{model}: {FORMULAS[model]}; 4 chains x 1000 draws after 1000 warm-up")
        body = []
        for tool, r in rows.items():
            if "error" in r:
                body.append([tool, "-", "-", "-", "-", "-", r["error"]])
                continue
            ratio = (f"{r['wall'] / base['wall']:.1f}x / {r['ess_per_s'] / base['ess_per_s']:.2f}x"
                     if "wall" in base and tool != "mixbayes" else "")
            body.append([tool + (f" ({r['form']})" if "form" in r else ""), f"{r['wall']:.1f}",
                         str(int(r["divergences"])), f"{r['min_ess_bulk']:.0f}", f"{r['ess_per_s']:.1f}",
                         f"{r['max_rhat']:.3f}", ratio])
        print(table(body, ["tool", "wall s", "div", "min bulk ESS", "ESS/s", "max R-hat",
                           "wall ratio / ESS/s ratio vs mixbayes"]))
    out = Path(opts.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nresults written to {out}")


if __name__ == "__main__":
    main()
