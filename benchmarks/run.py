"""Run every benchmark (``./dev bench``): LMM and GLMM against lme4, the parametric bootstrap against bootMer,
and the Bayesian fit against bambi.  Each prints its own table with ratios from the same run.

    python benchmarks/run.py [lmm glmm bootstrap bayes]    # default: all, in that order
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ALL = ["lmm", "glmm", "bootstrap", "bayes"]


def main() -> int:
    chosen = sys.argv[1:] or ALL
    unknown = [c for c in chosen if c not in ALL]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(ALL)}", file=sys.stderr)
        return 2
    status = 0
    for name in chosen:
        print(f"\n=== {name} ===", flush=True)
        status |= subprocess.call([sys.executable, str(HERE / f"{name}.py")], cwd=HERE)
    return status


if __name__ == "__main__":
    sys.exit(main())
