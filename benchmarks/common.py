"""Shared helpers for the benchmarks: timing, Rscript, subprocess memory and time limits.

Benchmarks time mixbayes and its peer in the same run (the machines are shared and noisy) and print ratios.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def have_r() -> bool:
    """Whether Rscript with lme4 is available."""
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(["Rscript", "-e", "suppressMessages(library(lme4)); cat('ok')"],
                           capture_output=True, text=True)
    return probe.returncode == 0 and "ok" in probe.stdout


def median_time(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> tuple[float, Any]:
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` calls; returns (seconds, last result)."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2], result


REFERENCE_BLAS = ("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3", "/usr/lib/x86_64-linux-gnu/lapack/liblapack.so.3")


def reference_blas_available() -> bool:
    """Debian's reference BLAS/LAPACK, which R uses unless OpenBLAS is installed (then R picks OpenBLAS)."""
    return all(os.path.exists(p) for p in REFERENCE_BLAS)


def run_r(code: str, timeout: float | None = None, reference_blas: bool = False) -> list[dict[str, Any]]:
    """Run R code that prints one JSON object per line (prefixed 'JSON:'); return the parsed objects.

    ``reference_blas`` preloads Debian's reference BLAS/LAPACK, the configuration R has without OpenBLAS.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(textwrap.dedent(code))
        path = fh.name
    env = dict(os.environ)
    if reference_blas:
        env["LD_PRELOAD"] = " ".join(REFERENCE_BLAS)
    try:
        out = subprocess.run(["Rscript", path], capture_output=True, text=True, timeout=timeout, env=env)
    finally:
        os.unlink(path)
    if out.returncode != 0:
        raise RuntimeError(f"Rscript failed:\n{out.stderr[-2000:]}")
    return [json.loads(line[5:]) for line in out.stdout.splitlines() if line.startswith("JSON:")]


def run_python(code: str, timeout: float | None = None) -> dict[str, Any]:
    """Run Python code in a fresh interpreter (this venv); it prints 'JSON:{...}' (include 'peak_mib' from
    ``resource.getrusage(RUSAGE_SELF)`` for the child's own peak memory).  On timeout returns {'error': ...}."""
    try:
        out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                             timeout=timeout, cwd=ROOT, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    rows = [json.loads(line[5:]) for line in out.stdout.splitlines() if line.startswith("JSON:")]
    return rows[-1] if rows else {"error": "no output"}


def fmt_ratio(peer: float | None, ours: float | None) -> str:
    if not peer or not ours:
        return "n/a"
    return f"{peer / ours:.1f}x"


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])
