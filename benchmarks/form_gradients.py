"""Measured time per log-density gradient of each applicable form (the data behind the constants of
mixbayes/bayes/forms.py): ``python benchmarks/form_gradients.py``.  Compiled JAX value-and-gradient of the PyMC
model's log density at the initial point, BLAS on one thread (as during sampling); prints the estimated costs too."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from mixbayes.bayes.samplers import configure_jax, single_blas_thread

jax = configure_jax(4)

import mixbayes as mb  # noqa: E402
from mixbayes.bayes.forms import FORMS, form_costs  # noqa: E402
from mixbayes.bayes.sampling import built_model, model_priors  # noqa: E402


def gradient_ms(model: mb.Model, form: str, reps: int = 300) -> float:
    from pymc.sampling.jax import get_jaxified_graph

    built = built_model(model, model_priors(model, None), form)
    pm_model = built.pm_model
    vv = pm_model.value_vars
    fn = get_jaxified_graph(inputs=vv, outputs=[pm_model.logp()])
    ip = pm_model.initial_point(random_seed=0)
    x0 = [jax.numpy.asarray(ip[v.name]) for v in vv]
    g = jax.jit(jax.value_and_grad(lambda xs: fn(*xs)[0]))
    jax.block_until_ready(g(x0))
    best = np.inf
    for _ in range(3):  # best of 3 batches: the machine is shared
        t0 = time.perf_counter()
        for _ in range(reps):
            out = g(x0)
        jax.block_until_ready(out)
        best = min(best, (time.perf_counter() - t0) / reps * 1e3)
    return best


def main() -> None:
    from conftest import crossed_design

    cases = [("sleepstudy", "Reaction ~ Days + (Days | Subject)", mb.load_dataset("sleepstudy")),
             ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", mb.load_dataset("Penicillin")),
             ("crossed 48x32 maximal", "y ~ A * B + (1 + A * B | subj) + (1 + A * B | item)", crossed_design())]
    with single_blas_thread():
        for name, formula, data in cases:
            model = mb.Model(formula, data)
            costs, _ = form_costs(model.design)
            for form in FORMS:
                if np.isfinite(costs[form]) or form == "noncentred":
                    ms = gradient_ms(model, form)
                    print(f"{name:24s} {form:11s} {ms:8.3f} ms per gradient   estimated cost {costs[form]:.3g}",
                          flush=True)


if __name__ == "__main__":
    main()
