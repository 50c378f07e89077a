"""Recognising out-of-core data (a Dask DataFrame or a Parquet path) and reducing over its partitions.

Dask is imported only here, and only when such data are given: ``import mixbayes`` never loads it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["SPLIT_EVERY", "as_dask_frame", "is_dask_data", "tree_reduce"]

SPLIT_EVERY = 8  # fan-in of the tree reductions


def is_dask_data(data: Any) -> bool:
    """True for a Dask DataFrame or a path (str or os.PathLike) to a Parquet file or dataset."""
    if type(data).__module__.split(".")[0] == "dask":
        return hasattr(data, "to_delayed") and hasattr(data, "npartitions")
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        return path.endswith((".parquet", ".pq")) or (os.path.isdir(path) and any(
            f.endswith((".parquet", ".pq")) for f in os.listdir(path)))
    return False


def as_dask_frame(data: Any) -> Any:
    """The data as a Dask DataFrame (a Parquet path is opened lazily with ``dask.dataframe.read_parquet``)."""
    from ..exceptions import DesignError

    try:
        import dask.dataframe as dd
    except ImportError as exc:  # pragma: no cover - dask is installed with the dev/dask extras
        raise DesignError("out-of-core data need Dask: pip install 'mixbayes[dask]'") from exc
    if isinstance(data, (str, os.PathLike)):
        return dd.read_parquet(os.fspath(data))
    return data


def tree_reduce(items: Sequence[Any], combine: Callable[[list[Any]], Any], split_every: int = SPLIT_EVERY) -> Any:
    """A Dask ``delayed`` tree reduction of ``items`` (delayed values): ``combine`` takes a list of at most
    ``split_every`` values and returns one; the tree has ceil(log_k(n)) levels, so no task sees more than
    ``split_every`` partition results at once."""
    from dask import delayed

    level = list(items)
    if not level:
        raise ValueError("nothing to reduce")
    while len(level) > 1:
        level = [delayed(combine)(level[i : i + split_every]) for i in range(0, len(level), split_every)]
    if len(items) == 1:
        return delayed(combine)(level)
    return level[0]

