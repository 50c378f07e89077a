"""Checks of the arguments of public calls: integers where integers are meant, numbers in their range, option
dictionaries whose keys exist, and output paths that can be written.  Each failure is an
:class:`~mixbayes.exceptions.ArgumentError` that names the argument and the value.
"""

from __future__ import annotations

import difflib
import functools
import numbers
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from .exceptions import ArgumentError

__all__ = ["OLD_NAMES", "check_int", "check_number", "check_output_path", "closest", "control_from", "reject_unknown",
           "renamed_arguments", "renamed_kwargs"]


def closest(name: str, choices: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest of ``choices`` (empty when none is close)."""
    close = difflib.get_close_matches(str(name), list(choices), n=2, cutoff=0.5)
    return f" Did you mean {' or '.join(map(repr, close))}?" if close else ""


def check_int(value: Any, name: str, minimum: int | None = None) -> int:
    """``value`` as an ``int``: an integer (not a bool, not a float such as 2.5) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentError(f"{name} must be an integer, not {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ArgumentError(f"{name} must be an integer >= {minimum}, not {value!r}")
    return int(value)


def check_number(value: Any, name: str, low: float | None = None, high: float | None = None,
                 open_interval: bool = True) -> float:
    """``value`` as a finite ``float`` in (low, high) (or [low, high] with ``open_interval=False``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentError(f"{name} must be a number, not {value!r} ({type(value).__name__})")
    x = float(value)
    lo_bad = low is not None and (x <= low if open_interval else x < low)
    hi_bad = high is not None and (x >= high if open_interval else x > high)
    if x != x or lo_bad or hi_bad:
        bounds = ("(" if open_interval else "[") + f"{low}, {high}" + (")" if open_interval else "]")
        raise ArgumentError(f"{name} must be in {bounds}, not {value!r}")
    return x


def control_from[T](cls: type[T], control: Any, what: str = "control") -> T:
    """An options dataclass ``cls`` from ``None``, an instance or a mapping whose keys are its fields; an unknown
    key is an :class:`ArgumentError` that names it and the closest field."""
    if control is None:
        return cls()
    if isinstance(control, cls):
        return control
    if not isinstance(control, Mapping):
        raise ArgumentError(f"{what} must be a dict of options or {cls.__name__}, not {type(control).__name__}")
    known = [f.name for f in fields(cls)] if is_dataclass(cls) else []
    for key in control:
        if key not in known:
            raise ArgumentError(f"unknown {what} option {key!r}.{closest(str(key), known)} "
                                f"The options are: {', '.join(known)}")
    try:
        return cls(**dict(control))
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"bad {what} options: {exc}") from None


def reject_unknown(kwargs: Mapping[str, Any], known: Iterable[str], what: str) -> None:
    """Raise an :class:`ArgumentError` for the first key of ``kwargs`` that is not in ``known``, naming the closest
    known name (``what`` says whose argument it is, e.g. ``"Model.sample"``)."""
    names = list(known)
    for key in kwargs:
        if key not in names:
            raise ArgumentError(f"unexpected argument {key!r} for {what}.{closest(str(key), names)}")


def renamed_arguments(kwargs: dict[str, Any], renames: Mapping[str, str], what: str) -> dict[str, Any]:
    """``kwargs`` with deprecated argument names (``renames``: old -> new) replaced by the new ones.

    Each old name still works for one release, with a :class:`FutureWarning` that names the new one (attributed to
    the caller's line); giving both spellings is an :class:`ArgumentError`.
    """
    from .warn import warn_user

    out = dict(kwargs)
    for old, new in renames.items():
        if old not in out:
            continue
        value = out.pop(old)
        if new in out:
            raise ArgumentError(f"{what} got both {old!r} and {new!r}; {old!r} is the deprecated spelling of {new!r}")
        warn_user(f"{what}: the argument {old!r} is deprecated; use {new!r} (the old name will be removed in the "
                  "next release)", FutureWarning)
        out[new] = value
    return out


#: the old spellings of the public vocabulary (docs/api.md), accepted for one release with a FutureWarning
OLD_NAMES = {"seed": "random_seed", "cores": "n_jobs", "progress": "progressbar"}


def renamed_kwargs[**P, R](**renames: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: the function also takes the old keyword names ``renames`` (old -> new) for one release, each with
    a FutureWarning naming the new one (see :func:`renamed_arguments`)."""

    def wrap(func: Callable[P, R]) -> Callable[P, R]:
        what = func.__qualname__

        @functools.wraps(func)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            if any(old in kwargs for old in renames):
                kwargs = renamed_arguments(kwargs, renames, what)  # type: ignore[assignment]
            return func(*args, **kwargs)

        return inner

    return wrap


def check_output_path(path: Any, suffixes: tuple[str, ...], what: str = "output") -> Path:
    """``path`` as a Path whose suffix is one of ``suffixes`` and whose directory is writable or can be created
    (its nearest existing ancestor is a writable directory); checked before any work is done."""
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentError(f"the {what} path must be a str or a Path, not {type(path).__name__}")
    p = Path(path).expanduser()
    if p.suffix.lower() not in suffixes:
        raise ArgumentError(f"the {what} path {str(path)!r} must end in {' or '.join(suffixes)} "
                            f"(not {p.suffix or 'no suffix'!r})")
    if p.is_dir():
        raise ArgumentError(f"the {what} path {str(path)!r} is a directory; give a file name")
    # missing directories are created when the file is written: the nearest existing one must be a writable directory
    existing = p.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ArgumentError(f"the {what} path {str(path)!r} cannot be created: {str(existing)!r} is a file, not a "
                            "directory")
    if not os.access(existing, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ArgumentError(f"the {what} path {str(path)!r} is not writable (no write permission in "
                            f"{str(existing)!r})")
    return p
