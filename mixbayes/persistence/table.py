"""A data frame as CSV text plus a JSON schema, exact on the way back (no pickle, no pyarrow).

Every value is written as text that reads back to the same value: floats by their shortest round-trip ``repr``,
categoricals by their integer codes (the categories and their order are in the schema), strings verbatim (CSV
quoting), missing values as empty fields (for string columns the schema lists the rows that are missing, so an
empty string stays an empty string).  The schema, one entry per column, holds ``name``, ``kind`` (``float``,
``int``, ``bool``, ``string`` or ``category``), ``dtype`` (the pandas dtype's name) and, for categoricals,
``categories`` and ``ordered``.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import FileFormatError, NotSupportedError

__all__ = ["frame_from_csv", "frame_to_csv"]

_JSON_SCALARS = (str, int, float, bool)


def _json_name(name: Any) -> str | int | float:
    if isinstance(name, np.generic):
        name = name.item()
    if isinstance(name, bool) or not isinstance(name, (str, int, float)):
        raise NotSupportedError(f"column name {name!r} cannot be saved: column names must be strings or numbers")
    return name


def _kind(series: pd.Series) -> str:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_string_dtype(dtype):
        values = series.dropna().to_numpy(dtype=object)
        if all(isinstance(v, str) for v in values):
            return "string"
    raise NotSupportedError(
        f"column {series.name!r} of dtype {dtype} cannot be saved (mixbayes files hold numbers, booleans, strings "
        "and categoricals); convert or drop it before building the model")


def _encode(series: pd.Series, name: Any) -> tuple[dict[str, Any], list[str]]:
    kind = _kind(series)
    spec: dict[str, Any] = {"name": _json_name(name), "kind": kind, "dtype": str(series.dtype)}
    missing = series.isna().to_numpy()
    if kind == "category":
        cats = series.cat.categories
        values = [c.item() if isinstance(c, np.generic) else c for c in cats]
        if not all(isinstance(c, _JSON_SCALARS) for c in values):
            raise NotSupportedError(f"the categories of column {name!r} ({cats.dtype}) cannot be saved; use string "
                                    "or numeric levels")
        spec.update(categories=values, categories_dtype=str(cats.dtype), ordered=bool(series.cat.ordered))
        text = [str(c) for c in series.cat.codes.to_numpy()]
    elif kind == "string":
        spec["missing"] = np.flatnonzero(missing).tolist()
        text = ["" if m else v for v, m in zip(series.to_numpy(dtype=object), missing, strict=True)]
    else:
        obj = series.to_numpy(dtype=object)
        text = ["" if m else repr(float(v)) if kind == "float" else str(int(v)) if kind == "int" else str(bool(v))
                for v, m in zip(obj, missing, strict=True)]
    return spec, text


def frame_to_csv(frame: pd.DataFrame) -> tuple[str, dict[str, Any]]:
    """(CSV text, schema) of ``frame``, its index included."""
    if isinstance(frame.columns, pd.MultiIndex) or isinstance(frame.index, pd.MultiIndex):
        raise NotSupportedError("a data frame with a MultiIndex cannot be saved; reset_index() it first")
    columns: dict[str, list[str]] = {}
    specs = []
    index = frame.index
    index_spec: dict[str, Any]
    if isinstance(index, pd.RangeIndex):
        index_spec = {"range": [int(index.start), int(index.stop), int(index.step)]}
    else:
        index_spec, columns["__index__"] = _encode(pd.Series(index, name="index"), "index")
    index_spec["index_name"] = None if index.name is None else _json_name(index.name)
    for pos in range(frame.shape[1]):
        spec, text = _encode(frame.iloc[:, pos], frame.columns[pos])
        specs.append(spec)
        columns[f"c{pos}:{spec['name']}"] = text
    buf = io.StringIO()
    pd.DataFrame(columns, index=None, dtype=object).to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue(), {"n_rows": int(frame.shape[0]), "index": index_spec, "columns": specs}


def _decode(text: np.ndarray, spec: dict[str, Any]) -> pd.Series:
    kind = spec.get("kind")
    empty = text == ""
    if kind == "category":
        cats = pd.Index(spec["categories"], dtype=spec.get("categories_dtype"))
        codes = text.astype(np.int64)
        if codes.size and (codes.min() < -1 or codes.max() >= len(cats)):
            raise FileFormatError(f"column {spec['name']!r}: category codes out of range")
        return pd.Series(pd.Categorical.from_codes(codes, categories=cats, ordered=bool(spec.get("ordered"))))
    if kind == "string":
        values = text.astype(object)
        values[np.asarray(spec.get("missing", []), dtype=np.int64)] = None
        return pd.Series(values, dtype=spec["dtype"])
    if kind == "float":
        values = np.where(empty, "nan", text).astype(float)
        out = pd.Series(values)
        if not str(spec["dtype"]).startswith("float"):  # nullable Float64: missing is NA
            out = out.astype(spec["dtype"])
            out[empty] = pd.NA
        return out.astype(spec["dtype"])
    if kind in ("int", "bool"):
        values = [None if e else int(s) if kind == "int" else s == "True" for s, e in zip(text.tolist(), empty,
                                                                                         strict=True)]
        if empty.any() and not str(spec["dtype"])[:1].isupper():  # numpy int/bool columns hold no missing values
            raise FileFormatError(f"column {spec['name']!r} of dtype {spec['dtype']} has missing values")
        return pd.Series(values, dtype=spec["dtype"])
    raise FileFormatError(f"column {spec.get('name')!r} has an unknown kind {kind!r}")


def frame_from_csv(text: str, schema: dict[str, Any]) -> pd.DataFrame:
    """The data frame written by :func:`frame_to_csv`."""
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False,
                          skip_blank_lines=False)
        n = int(schema["n_rows"])
        specs = schema["columns"]
        index_spec = schema["index"]
        offset = 0 if "range" in index_spec else 1
        if raw.shape != (n, len(specs) + offset):
            raise FileFormatError(f"the data table has shape {raw.shape}; the manifest says {n} rows and "
                                  f"{len(specs)} columns")
        cols = {}
        for pos, spec in enumerate(specs):
            cols[pos] = _decode(raw.iloc[:, pos + offset].to_numpy(dtype=str), spec)
        if "range" in index_spec:
            index: pd.Index = pd.RangeIndex(*index_spec["range"])
        else:
            index = pd.Index(_decode(raw.iloc[:, 0].to_numpy(dtype=str), index_spec))
        index.name = index_spec.get("index_name")
        frame = pd.DataFrame({pos: s.set_axis(index) for pos, s in cols.items()}, index=index)
        frame.columns = pd.Index([s["name"] for s in specs])
        return frame
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        if isinstance(exc, FileFormatError):
            raise
        raise FileFormatError(f"the data table cannot be read: {exc}") from None
