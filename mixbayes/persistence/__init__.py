"""Saving and loading models and fits: ``fit.save(path)`` and ``mb.load(path)``, without pickle.

A mixbayes file is a ZIP archive (format ``mixbayes``, version :data:`FORMAT_VERSION`) holding

* ``manifest.json``: the format name and version, the mixbayes version that wrote it, the kind of object, the
  model (formula text, family, link, weights and offset), the data's schema, and per kind the fitting options,
  the priors and the estimates;
* ``data.csv``: the data (see :mod:`mixbayes.persistence.table`);
* for a Bayesian fit, ``posterior.nc`` (the ArviZ DataTree as netCDF-4, written by xarray's h5netcdf engine) and
  ``params.npz`` (the draws of the model's quantities, a NumPy archive read with ``allow_pickle=False``).

Likelihood and MAP fits are refitted on load from the formula, data and options (the fits are deterministic) and
the refit is checked against the saved estimates (:class:`~mixbayes.exceptions.LoadMismatchWarning` if they
differ).  A Bayesian fit keeps its draws: nothing is resampled.  Loading reads JSON, CSV, netCDF and a
pickle-free NumPy archive, so a file from someone else cannot run code.  docs/saving.md documents the format.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import FileFormatError
from .encode import FORMAT, FORMAT_VERSION, KINDS, MANIFEST, save
from .objects import decode_object

if TYPE_CHECKING:
    from ..bayes.results import BayesFit
    from ..model import Model
    from ..results.glmm import GlmmFit
    from ..results.lmm import LmmFit
    from ..results.map import MapFit

__all__ = ["FORMAT", "FORMAT_VERSION", "load", "save"]

class Archive:
    """Read access to the members of a mixbayes file (by name only: nothing is extracted to disk)."""

    def __init__(self, zf: zipfile.ZipFile, path: Path) -> None:
        self.zf = zf
        self.path = path

    def read(self, name: str) -> bytes:
        try:
            return self.zf.read(name)
        except KeyError:
            raise FileFormatError(f"{self.path} is damaged: it has no {name}") from None

    def text(self, name: str) -> str:
        try:
            return self.read(name).decode("utf-8")
        except UnicodeDecodeError:
            raise FileFormatError(f"{self.path} is damaged: {name} is not UTF-8 text") from None


def _check_manifest(manifest: Any, path: Path) -> dict[str, Any]:
    from ..version import __version__

    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise FileFormatError(f"{path} is not a mixbayes file (its manifest does not name the format {FORMAT!r})")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise FileFormatError(f"{path} has an invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise FileFormatError(
            f"{path} uses mixbayes file format version {version} (written by mixbayes "
            f"{manifest.get('mixbayes_version', '?')}); this mixbayes {__version__} reads format version "
            f"{FORMAT_VERSION} and older. Remedy: upgrade mixbayes")
    if manifest.get("kind") not in KINDS:
        raise FileFormatError(f"{path} holds an unknown kind of object {manifest.get('kind')!r}; this mixbayes "
                              f"reads {', '.join(KINDS)}")
    return manifest


def load(path: str | os.PathLike[str],
         functions: Mapping[str, Callable[..., Any]] | None = None) -> Model | LmmFit | GlmmFit | MapFit | BayesFit:
    """Read a file written by :meth:`fit.save() <mixbayes.results.base.MixedFit.save>` or ``Model.save()``.

    Returns the :class:`~mixbayes.Model`, ``LmmFit``, ``GlmmFit``, ``MapFit`` or ``BayesFit`` that was saved.
    Likelihood and MAP fits are refitted from the saved formula, data and options and checked against the saved
    estimates; a Bayesian fit gets its saved draws back (no resampling).  ``functions``: your own functions that
    the formula calls (``Model(..., functions=...)``): the file records their names, never their code.

    Raises
    ------
    FileFormatError
        Not a mixbayes file, a damaged one, or a format version newer than this mixbayes reads.
    """
    source = Path(path)
    if not source.is_file():
        raise FileFormatError(f"{source} is not a file")
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileFormatError(f"{source} is not a mixbayes file (not a ZIP archive: {exc})") from None
    with zf:
        archive = Archive(zf, source)
        if MANIFEST not in zf.namelist():
            raise FileFormatError(f"{source} is not a mixbayes file (no {MANIFEST})")
        try:
            manifest = json.loads(archive.text(MANIFEST))
        except json.JSONDecodeError as exc:
            raise FileFormatError(f"{source} is damaged: {MANIFEST} is not JSON ({exc})") from None
        manifest = _check_manifest(manifest, source)
        return decode_object(manifest, archive, functions)
