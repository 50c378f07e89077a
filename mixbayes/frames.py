"""Data frames in: pandas as is; polars, PyArrow tables and other frames through narwhals; a clear error otherwise.

narwhals is a dependency of formulaic (which mixbayes already needs), so reading other frame libraries adds no
package: a polars DataFrame or LazyFrame, a PyArrow Table, a Modin, cuDF or DuckDB frame, or anything with the
dataframe interchange protocol (``__dataframe__``) is converted once to pandas (categoricals stay categoricals, with
their level order).  A mapping of column names to equal-length arrays is taken too, as ``pd.DataFrame`` takes it.
Anything else (a NumPy array, a list, a Series, a file name that is not a Parquet dataset) raises
:class:`~mixbayes.exceptions.DesignError` saying what was given and what is needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from .exceptions import DesignError

__all__ = ["to_pandas"]


def _describe(obj: Any) -> str:
    kind = type(obj)
    name = f"{kind.__module__}.{kind.__qualname__}" if kind.__module__ != "builtins" else kind.__qualname__
    shape = getattr(obj, "shape", None)
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"{article} {name}" + (f" of shape {tuple(shape)}" if shape is not None else "")


def to_pandas(data: Any, what: str = "data") -> pd.DataFrame:
    """``data`` as a pandas DataFrame (see the module docstring for what is accepted).

    Parameters
    ----------
    data : the user's data.
    what : its name in error messages (``"data"``, ``"newdata"``).
    """
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        raise DesignError(f"{what} is a pandas Series ({data.name!r}); the formula needs a data frame with named "
                          f"columns: pass {what}.to_frame() or the whole DataFrame")
    if isinstance(data, Mapping):
        try:
            return pd.DataFrame(dict(data))
        except (ValueError, TypeError) as exc:
            raise DesignError(f"{what} is a mapping that is not a table of columns ({exc}); pass a data frame, "
                              "or a dict of column name -> equal-length values") from exc
    native = _from_narwhals(data)
    if native is not None:
        return native
    if hasattr(data, "__dataframe__"):
        try:
            return pd.api.interchange.from_dataframe(data)
        except Exception as exc:
            raise DesignError(f"{what} ({_describe(data)}) offers the dataframe interchange protocol, but pandas "
                              f"could not read it: {exc}") from exc
    hint = ""
    if isinstance(data, str):
        hint = (" (a path is read only when it is a Parquet dataset, for Dask; read other files into a data frame "
                "first, e.g. pd.read_csv(path))")
    elif hasattr(data, "shape") and hasattr(data, "dtype"):
        hint = " (an array has no column names: wrap it, e.g. pd.DataFrame(array, columns=['y', 'x', 'g']))"
    raise DesignError(f"{what} must be a data frame with named columns (pandas, polars, PyArrow, or another frame "
                      f"narwhals reads), not {_describe(data)}{hint}")


def _from_narwhals(data: Any) -> pd.DataFrame | None:
    try:
        import narwhals.stable.v1 as nw
    except ImportError:  # pragma: no cover - narwhals comes with formulaic
        return None
    try:
        frame = nw.from_native(data, allow_series=False)
    except TypeError:
        return None
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    return frame.to_pandas()
