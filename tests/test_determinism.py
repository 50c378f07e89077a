"""The same random_seed gives identical draws whatever was imported first and however many host devices JAX sees.

Two fresh processes sample the same tiny model with the same seed: one imports mixbayes first (mixbayes then
starts JAX with several host devices, capped at the CPU cores), the other starts JAX itself first (one host
device).  Their draws and sampler statistics must be equal bit for bit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

SCRIPT = r"""
import sys
if sys.argv[1] == "jax-first":
    import jax
    jax.numpy.zeros(1)  # JAX's backend starts now, with one host device
import json
import warnings

import numpy as np

import mixbayes as mb

warnings.simplefilter("ignore")
model = mb.Model("Reaction ~ Days + (1 | Subject)", mb.load_dataset("sleepstudy"))
fit = model.sample(draws=15, tune=15, chains=3, random_seed=11, progressbar=False, emit_warnings=False)
import jax

post = fit.idata["posterior"]
out = {"devices": jax.local_device_count(),
       "draws": {str(name): np.asarray(post[name].values).ravel().tolist() for name in post.data_vars},
       "lp": np.asarray(fit.idata["sample_stats"]["lp"].values).ravel().tolist()}
print("RESULT" + json.dumps(out))
"""


def _start(mode: str) -> subprocess.Popen[str]:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    env.pop("XLA_FLAGS", None)
    return subprocess.Popen([sys.executable, "-c", SCRIPT, mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=root)


def _result(proc: subprocess.Popen[str]) -> dict:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    line = next(line for line in out.splitlines() if line.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


def test_same_seed_same_draws_whatever_was_imported_first() -> None:
    procs = [_start("mixbayes-first"), _start("jax-first")]  # in parallel: each compiles its own program
    first, jax_first = (_result(p) for p in procs)
    assert jax_first["devices"] == 1
    assert first["devices"] >= 4  # mixbayes asked for max(chains, 4) host devices before JAX started
    assert set(first["draws"]) == set(jax_first["draws"]) >= {"sigma"}
    for name in first["draws"]:
        a, b = np.asarray(first["draws"][name]), np.asarray(jax_first["draws"][name])
        assert a.shape == b.shape and a.size >= 45
        assert np.array_equal(a, b), f"{name}: largest difference {np.max(np.abs(a - b))}"
    assert np.array_equal(first["lp"], jax_first["lp"])
    assert len(set(first["draws"]["sigma"])) > 5  # the chains moved: the comparison is not of constants
