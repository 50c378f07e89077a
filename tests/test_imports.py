"""``import mixbayes`` (and a likelihood fit) must not import PyMC, PyTensor or ArviZ."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pymc", "pytensor", "arviz", "nutpie", "jax")


def _imported_modules(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    mods = set()
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            mods.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return mods


def test_import_mixbayes_is_light() -> None:
    mods = _imported_modules("import mixbayes")
    assert "mixbayes" in mods
    assert not mods & set(HEAVY), mods & set(HEAVY)
