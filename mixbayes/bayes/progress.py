"""Progress: one line per phase on stderr with its duration, and a bar while the default sampler runs.

The default sampler advances all chains by the same compiled XLA program in chunks of iterations, so the bar
moves between chunks (no callback inside the compiled loop, which would slow it and defeat the compilation
cache).  The bar is drawn in terminals and in notebooks (rewritten in place with a carriage return, which both
render); in logs, where neither applies, only the phase lines are written.  nutpie, PyMC and numpyro show their
own progress bars.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["Progress", "ProgressBar"]


def _interactive(stream: TextIO) -> bool:
    if bool(getattr(stream, "isatty", lambda: False)()):
        return True
    return "ipykernel" in sys.modules  # Jupyter renders carriage returns in stream output


class Progress:
    """Phase timer; prints when ``enabled``.  ``timings`` holds each phase's seconds."""

    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.timings: dict[str, float] = {}
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    @contextmanager
    def phase(self, key: str, message: str) -> Iterator[None]:
        """Time a phase; prints ``message ...`` on entry and ``message: 1.23 s`` on exit."""
        if self.enabled and self._tty:
            self.stream.write(f"mixbayes: {message} ...")
            self.stream.flush()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            dt = time.perf_counter() - t0
            self.timings[key] = self.timings.get(key, 0.0) + dt
            if self.enabled:
                prefix = "\r" if self._tty else ""
                self.stream.write(f"{prefix}mixbayes: {message}: {dt:.2f} s\n")
                self.stream.flush()

    def note(self, message: str) -> None:
        if self.enabled:
            self.stream.write(f"mixbayes: {message}\n")
            self.stream.flush()


class ProgressBar:
    """``[#####.....] 45% warm-up 900/2000 (4 chains)``, rewritten in place; silent when not interactive."""

    def __init__(self, tune: int, chains: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tune, self.chains, self.width = tune, chains, width
        self.enabled = _interactive(self.stream)
        self.t0 = time.perf_counter()
        self.updates = 0

    def __call__(self, done: int, total: int) -> None:
        self.updates += 1
        if not self.enabled:
            return
        frac = done / total if total else 1.0
        filled = round(frac * self.width)
        phase = "warm-up" if done <= self.tune else "sampling"
        self.stream.write(f"\r  [{'#' * filled}{'.' * (self.width - filled)}] {frac:4.0%} {phase} {done}/{total} "
                          f"({self.chains} chains, {time.perf_counter() - self.t0:.1f} s)")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.updates:
            self.stream.write("\r" + " " * (self.width + 60) + "\r")
            self.stream.flush()
