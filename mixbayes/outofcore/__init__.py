"""Linear mixed models of data larger than memory: Dask DataFrames and Parquet datasets (see docs/dask.md).

Nothing here imports Dask at import time; it is loaded only when such data are given.
"""
