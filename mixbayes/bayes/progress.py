"""A light progress indicator: one line per phase on stderr, with its duration.

The default sampler runs warm-up and sampling of all chains as one compiled XLA program, which cannot report
from inside without slowing it down, so progress is reported per phase (building the model, compiling,
sampling, post-processing).  In a terminal the line is rewritten in place when the phase ends; in notebooks and
logs each phase gets its own line.  nutpie, PyMC and numpyro show their own progress bars as well.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["Progress"]


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
