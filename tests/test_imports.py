"""``import mixbayes`` (and a likelihood or MAP fit) must not import PyMC, PyTensor, ArviZ, JAX, the samplers or
matplotlib."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pymc", "pytensor", "arviz", "arviz_base", "arviz_stats", "nutpie", "jax", "jaxlib", "blackjax", "numpyro",
         "xarray", "matplotlib", "dask", "distributed")


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


def test_reml_map_and_priors_are_light() -> None:
    code = (
        "import mixbayes as mb\n"
        "d = mb.load_dataset('sleepstudy')\n"
        "m = mb.Model('Reaction ~ Days + (Days | Subject)', d)\n"
        "m.fit(); m.fit(method='map'); str(m.priors)\n"
        "mb.glmer('cbind(incidence, size - incidence) ~ period + (1 | herd)', mb.load_dataset('cbpp'))\n"
    )
    mods = _imported_modules(code)
    assert "mixbayes" in mods
    assert not mods & set(HEAVY), mods & set(HEAVY)
