"""Progress: one line per phase on stderr with its duration, and a bar while the default sampler runs.

The default sampler advances all chains by the same compiled XLA program in chunks of iterations, so the bar
moves between chunks (no callback inside the compiled loop, which would slow it and defeat the compilation
cache).  In a terminal the bar is rewritten in place with a carriage return; in logs, only the phase lines are
written.  In Jupyter, the phases and the bar share ONE output line (an IPython display updated in place), so a
saved notebook keeps one line per sampling call, e.g. ``mixbayes: building the PyMC model: 0.41 s; sampling ...:
3.20 s; post-processing and diagnostics: 0.35 s``, and nothing on stderr.  nutpie, PyMC and numpyro show their own
progress bars.
"""

from __future__ import annotations

import contextvars
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["NotebookLine", "Progress", "ProgressBar", "in_notebook", "quiet_tqdm"]

_CURRENT: contextvars.ContextVar[Progress | None] = contextvars.ContextVar("mixbayes_progress", default=None)


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (an IPython shell with a kernel, i.e. outputs go to a notebook)."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class NotebookLine:
    """One plain-text output line in a notebook, rewritten in place (an IPython display with a display id)."""

    def __init__(self) -> None:
        self._handle: Any = None
        self.text = ""

    def show(self, text: str) -> None:
        if text == self.text:
            return
        self.text = text
        from IPython.display import display

        data = {"text/plain": text}
        if self._handle is None:
            self._handle = display(data, raw=True, display_id=True)
        else:
            self._handle.update(data, raw=True)


def quiet_tqdm() -> None:
    """In a notebook without ipywidgets, import ``tqdm.auto`` once with its "IProgress not found" warning
    silenced: numpyro imports it (through PyTensor's JAX backend) and the warning would land in the notebook,
    although mixbayes draws its own progress line and never uses tqdm's widget."""
    if "tqdm.auto" in sys.modules or not in_notebook():
        return
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        try:
            import tqdm.auto  # noqa: F401
        except ImportError:
            pass


def _interactive(stream: TextIO) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


class Progress:
    """Phase timer; prints when ``enabled``.  ``timings`` holds each phase's seconds."""

    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.timings: dict[str, float] = {}
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        # in Jupyter (and writing to the default stream) everything goes to one line updated in place
        self.line = NotebookLine() if enabled and stream is None and in_notebook() else None
        self._done: list[str] = []

    def live(self, text: str) -> None:
        """Show ``text`` after the finished phases on the notebook line (no-op outside notebooks)."""
        if self.line is not None:
            self.line.show("mixbayes: " + "; ".join([*self._done, text]))

    @contextmanager
    def phase(self, key: str, message: str) -> Iterator[None]:
        """Time a phase; prints ``message ...`` on entry and ``message: 1.23 s`` on exit."""
        if self.line is not None:
            self.live(f"{message} ...")
        elif self.enabled and self._tty:
            self.stream.write(f"mixbayes: {message} ...")
            self.stream.flush()
        token = _CURRENT.set(self)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            _CURRENT.reset(token)
            dt = time.perf_counter() - t0
            self.timings[key] = self.timings.get(key, 0.0) + dt
            if self.line is not None:
                self._done.append(f"{message}: {dt:.2f} s")
                self.line.show("mixbayes: " + "; ".join(self._done))
            elif self.enabled:
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
        # inside a notebook phase, the bar is drawn on that phase's notebook line
        owner = _CURRENT.get() if stream is None else None
        self.owner = owner if owner is not None and owner.line is not None else None
        self.enabled = self.owner is not None or _interactive(self.stream)
        self.t0 = time.perf_counter()
        self.updates = 0

    def __call__(self, done: int, total: int) -> None:
        self.updates += 1
        if not self.enabled:
            return
        frac = done / total if total else 1.0
        filled = round(frac * self.width)
        phase = "warm-up" if done <= self.tune else "sampling"
        text = (f"[{'#' * filled}{'.' * (self.width - filled)}] {frac:4.0%} {phase} {done}/{total} "
                f"({self.chains} chains, {time.perf_counter() - self.t0:.1f} s)")
        if self.owner is not None:
            self.owner.live(text)
            return
        self.stream.write("\r  " + text)
        self.stream.flush()

    def close(self) -> None:
        if self.owner is None and self.enabled and self.updates:
            self.stream.write("\r" + " " * (self.width + 60) + "\r")
            self.stream.flush()
