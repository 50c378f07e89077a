"""LMM benchmark: mixbayes vs lme4 (Rscript) vs statsmodels, REML, in the same run.

Models: sleepstudy, Penicillin (crossed), InstEval y ~ service + (1|s) + (1|d) + (1|dept) and
y ~ service * dept + (1|s) + (1|d), and a maximal crossed design (48 subjects x 32 items, 2 x 2 within both,
(1 + A*B | subj) + (1 + A*B | item); tests/golden/data/max_2x2_48x32.csv, simulated by tools/golden/maximal.R).
Times are whole calls (design + fit); small models report the median of repeated calls after a warm-up, InstEval
and the maximal design one call each in a fresh process (peak memory measured there).

    python benchmarks/lmm.py [--skip-insteval] [--skip-statsmodels] [--skip-reference-blas]
                             [--repeats N] [--statsmodels-timeout SECONDS]

--skip-insteval leaves out the two InstEval models; --skip-statsmodels leaves out the statsmodels column;
--skip-reference-blas does not rerun lme4 with Debian's reference BLAS/LAPACK (LD_PRELOAD); --repeats sets the
number of timed calls per small model (median reported, default 7); --statsmodels-timeout is the time limit in
seconds of each statsmodels fit (default 300).
"""

from __future__ import annotations

import argparse
import sys

from common import fmt_ratio, have_r, median_time, reference_blas_available, run_python, run_r, table

SMALL = [
    ("sleepstudy", "sleepstudy", "Reaction ~ Days + (Days | Subject)"),
    ("Penicillin", "Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)"),
]
INSTEVAL = [
    ("InstEval 1", "InstEval", "y ~ service + (1 | s) + (1 | d) + (1 | dept)"),
    ("InstEval 2", "InstEval", "y ~ service * dept + (1 | s) + (1 | d)"),
]

MAXIMAL = [
    ("maximal 2x2 48x32", "max_2x2_48x32", "y ~ A * B + (1 + A * B | subj) + (1 + A * B | item)"),
]
CSV = {"max_2x2_48x32": "tests/golden/data/max_2x2_48x32.csv"}

STATSMODELS = {
    "sleepstudy": ("smf.mixedlm('Reaction ~ Days', d, groups='Subject', re_formula='~Days')", "sleepstudy"),
    "Penicillin": ("smf.mixedlm('diameter ~ 1', d.assign(one=1), groups='one', re_formula='0', "
                   "vc_formula={'plate': '0 + C(plate)', 'sample': '0 + C(sample)'})", "Penicillin"),
    "InstEval 1": ("smf.mixedlm('y ~ service', d.assign(one=1), groups='one', re_formula='0', "
                   "vc_formula={'s': '0 + C(s)', 'd': '0 + C(d)', 'dept': '0 + C(dept)'})", "InstEval"),
    "InstEval 2": ("smf.mixedlm('y ~ service * dept', d.assign(one=1), groups='one', re_formula='0', "
                   "vc_formula={'s': '0 + C(s)', 'd': '0 + C(d)'})", "InstEval"),
}


def lme4_times(models: list[tuple[str, str, str]], repeats: int, reference_blas: bool = False) -> dict[str, dict]:
    calls = "\n".join(
        (f"{data} <- read.csv('{CSV[data]}')\n" if data in CSV else "") + f"""
        f <- {formula}
        invisible(lmer(f, data = {data}, REML = TRUE))
        ts <- numeric(0)
        for (i in seq_len({repeats})) ts <- c(ts, system.time(m <- lmer(f, data = {data}, REML = TRUE))[["elapsed"]])
        cat("JSON:", toJSON(list(name = "{name}", seconds = median(ts), objective = REMLcrit(m),
            feval = m@optinfo$feval), digits = NA, auto_unbox = TRUE), "\\n", sep = "")
        """
        for name, data, formula in models
    )
    rows = run_r(f"suppressMessages({{library(lme4); library(jsonlite)}})\n{calls}", reference_blas=reference_blas)
    return {r["name"]: r for r in rows}


def mixbayes_small(data: str, formula: str, repeats: int) -> tuple[float, float, float]:
    import warnings

    import mixbayes as mb

    frame = mb.load_dataset(data)
    warnings.simplefilter("ignore")
    t_all, fit = median_time(lambda: mb.lmer(formula, frame), repeats)
    model = mb.Model(formula, frame)
    t_fit, _ = median_time(lambda: model.fit("reml", emit_warnings=False), repeats)
    return t_all, t_fit, fit.objective_value


def mixbayes_fresh(data: str, formula: str) -> dict:
    return run_python(f"""
        import json, time, warnings
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        import mixbayes as mb
        import pandas as pd
        frame = pd.read_csv({CSV.get(data)!r}) if {data in CSV} else mb.load_dataset({data!r})
        t1 = time.perf_counter()
        fit = mb.lmer({formula!r}, frame)
        t2 = time.perf_counter()
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print("JSON:" + json.dumps({{"seconds": t2 - t1, "with_import_and_load": t2 - t0,
              "objective": fit.objective_value, "feval": fit.optsummary.feval, "peak_mib": peak}}))
    """)


def statsmodels_time(name: str, timeout: float) -> dict:
    expr, data = STATSMODELS[name]
    return run_python(f"""
        import json, time, warnings
        warnings.simplefilter("ignore")
        import statsmodels.formula.api as smf
        import mixbayes as mb
        d = mb.load_dataset({data!r})
        t0 = time.perf_counter()
        r = {expr}.fit(reml=True)
        print("JSON:" + json.dumps({{"seconds": time.perf_counter() - t0, "objective": -2 * float(r.llf)}}))
    """, timeout=timeout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--skip-insteval", action="store_true")
    ap.add_argument("--skip-statsmodels", action="store_true")
    ap.add_argument("--skip-reference-blas", action="store_true")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--statsmodels-timeout", type=float, default=300)
    args = ap.parse_args()
    r_ok = have_r()
    ref_ok = r_ok and reference_blas_available() and not args.skip_reference_blas
    models = SMALL + ([] if args.skip_insteval else INSTEVAL) + MAXIMAL
    print(f"lme4 through Rscript: {'yes' if r_ok else 'no (R/lme4 not installed: lme4 columns empty)'}; "
          f"R's BLAS as installed, and {'also' if ref_ok else 'not'} with reference BLAS (LD_PRELOAD)")
    lme4 = lme4_times(SMALL, args.repeats) if r_ok else {}
    lme4_ref = lme4_times(SMALL, args.repeats, reference_blas=True) if ref_ok else {}
    if r_ok:
        lme4.update(lme4_times(MAXIMAL, 1))
    if r_ok and not args.skip_insteval:
        lme4.update(lme4_times(INSTEVAL, 1))
        if ref_ok:
            lme4_ref.update(lme4_times(INSTEVAL, 1, reference_blas=True))
    rows = []
    for name, data, formula in models:
        if name.startswith(("InstEval", "maximal")):
            ours = mixbayes_fresh(data, formula)
            t_ours, obj = ours.get("seconds"), ours.get("objective")
            extra = (f"peak {ours.get('peak_mib', 0):.0f} MiB, {ours.get('feval')} evals (lme4 {peer.get('feval')})"
                     if (peer := lme4.get(name, {})) is not None else "")
        else:
            t_ours, t_fit, obj = mixbayes_small(data, formula, args.repeats)
            extra = f"fit only {t_fit * 1000:.1f} ms"
        peer = lme4.get(name, {})
        ref = lme4_ref.get(name, {})
        skip_sm = args.skip_statsmodels or name not in STATSMODELS
        sm = {} if skip_sm else statsmodels_time(name, args.statsmodels_timeout)
        agree = (f"{abs(obj - peer['objective']) / peer['objective']:.1e}" if peer and obj else "n/a")
        rows.append([
            name,
            f"{t_ours:.4f}" if t_ours else "error",
            f"{peer['seconds']:.4f}" if peer else "-",
            fmt_ratio(peer.get("seconds"), t_ours),
            f"{ref['seconds']:.4f}" if ref else "-",
            fmt_ratio(ref.get("seconds"), t_ours),
            f"{sm['seconds']:.3f}" if "seconds" in sm else sm.get("error", "-"),
            fmt_ratio(sm.get("seconds"), t_ours),
            agree,
            extra,
        ])
        print(f"  done {name}", file=sys.stderr)
    print(table(rows, ["model", "mixbayes s", "lme4 s", "lme4/mb", "lme4 refBLAS s", "ref/mb", "statsmodels s",
                       "sm/mb", "REML rel diff", "notes"]))


if __name__ == "__main__":
    main()
