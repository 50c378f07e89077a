"""Running independent replicates (bootstrap refits) through joblib, reproducibly.

Each replicate gets its own random stream, ``SeedSequence(seed).spawn(nsim)[i]``, and starts from the same
estimates, so the results do not depend on the number of workers, on how replicates are grouped into tasks, or on
the joblib backend.  Replicates are sent in chunks (one task refits several responses, reusing its workspace);
``joblib.parallel_config(backend="dask")`` (or the ``backend`` argument) sends the chunks to a Dask cluster, and
any other joblib backend (loky, threading, ray) works the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

import numpy as np

from .progress import Progress

__all__ = ["ChunkResult", "replicate_seeds", "run_replicates"]

#: (index, values or None, error message or None) for each replicate of a chunk
ChunkResult = list[tuple[int, np.ndarray | None, str | None]]


def replicate_seeds(seed: Any, n: int) -> tuple[list[np.random.SeedSequence], int | Sequence[int]]:
    """One independent SeedSequence per replicate, and the entropy that reproduces them.

    ``seed`` may be None (fresh entropy), an int, a sequence of ints or a SeedSequence.
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return ss.spawn(n), ss.entropy


def _chunks(n: int, n_workers: int, chunk_size: int | None) -> list[np.ndarray]:
    if chunk_size is None:
        chunk_size = max(1, min(50, math.ceil(n / (8 * max(n_workers, 1)))))
    return [np.arange(i, min(i + chunk_size, n)) for i in range(0, n, chunk_size)]


def run_replicates(func: Callable[..., ChunkResult], payload: Any, seeds: list[np.random.SeedSequence],
                   n_jobs: int | None = None, backend: str | None = None, progress: bool | None = None,
                   chunk_size: int | None = None, label: str = "refits") -> ChunkResult:
    """Run ``func(payload, indices, seeds)`` over chunks of replicates with joblib; results in replicate order.

    Parameters
    ----------
    func : module-level function (so that workers can import it) returning a :data:`ChunkResult`.
    payload : what every chunk needs (pickled once per task for process-based backends).
    n_jobs : joblib's ``n_jobs`` (None: joblib's default, 1 unless a ``parallel_config`` sets it).
    backend : a joblib backend name (``"loky"``, ``"threading"``, ``"dask"``...); None keeps the active
        ``joblib.parallel_config``.
    progress : show a progress bar on stderr (None: only when stderr is a terminal).
    chunk_size : replicates per task (default: about 8 tasks per worker, at most 50 replicates each).
    """
    import joblib

    n = len(seeds)
    config = joblib.parallel_config(backend=backend) if backend is not None else nullcontext()
    out: ChunkResult = []
    with config, Progress(n, label, enabled=progress) as bar:
        workers = joblib.effective_n_jobs(n_jobs)
        chunks = _chunks(n, workers, chunk_size)
        parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator")
        results = parallel(joblib.delayed(func)(payload, idx, [seeds[i] for i in idx]) for idx in chunks)
        for chunk in results:
            out.extend(chunk)
            bar.update(len(chunk))
    out.sort(key=lambda r: r[0])
    return out
