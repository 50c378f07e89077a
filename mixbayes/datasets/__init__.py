"""Data sets bundled with mixbayes: lme4's classic examples (and MASS's bacteria), with R's column types and
factor levels."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd

from ..exceptions import DatasetNotFoundError

__all__ = ["list_datasets", "load_dataset"]

_DESCRIPTIONS = {
    "sleepstudy": "Reaction times (ms) of 18 subjects over 10 days of sleep deprivation (Belenky et al. 2003).",
    "Dyestuff": "Yield of dyestuff from 6 batches of an intermediate product, 5 preparations each.",
    "Dyestuff2": "Simulated data in the Dyestuff layout whose batch variance estimate is zero (a singular fit).",
    "Penicillin": "Diameters of growth-inhibition zones: 6 penicillin samples crossed with 24 plates.",
    "Pastes": "Strength of paste: 2 samples from each of 3 casks within each of 10 batches (nested).",
    "cbpp": "Contagious bovine pleuropneumonia: new cases among herd sizes over 4 periods for 15 herds.",
    "grouseticks": "Ticks counted on red-grouse chicks, by brood, location, year and altitude.",
    "cake": "Breakage angle of chocolate cakes: 3 recipes, 6 baking temperatures, 15 replicates per recipe.",
    "InstEval": "Lecture evaluations at ETH Zurich: 73,421 ratings by 2,972 students of 1,128 lecturers.",
    "bacteria": "MASS: presence of H. influenzae (y: n/y) in 50 children with otitis media, weeks 0-11, by "
                "treatment (placebo, drug, drug+); glmmPQL's example.",
}
_DESCRIPTIONS |= {  # glmmTMB's
    "Salamanders": "Salamander counts (glmmTMB): 7 species at 23 sites, some affected by mountaintop mining.",
    "Owls": "Begging by barn-owl nestlings (glmmTMB): sibling negotiation calls by food treatment and parent sex.",
}


@cache
def _meta() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("data", "meta.json").read_text(encoding="utf-8")
    return json.loads(text)


def list_datasets() -> pd.DataFrame:
    """The bundled data sets: name, number of rows and columns, and a one-line description."""
    rows = [
        {
            "name": name,
            "nrow": info["nrow"],
            "ncol": len(info["columns"]),
            "description": _DESCRIPTIONS.get(name, ""),
        }
        for name, info in _meta().items()
    ]
    return pd.DataFrame(rows).set_index("name")


def load_dataset(name: str) -> pd.DataFrame:
    """Load a bundled data set as a pandas DataFrame.

    Factors become ``pandas.Categorical`` with R's level order (ordered factors stay ordered), so that the
    reference level of treatment contrasts is the one R uses.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`; matching ignores case.
    """
    meta = _meta()
    key = {k.lower(): k for k in meta}.get(str(name).lower())
    if key is None:
        import difflib

        close = difflib.get_close_matches(str(name), list(meta), n=2, cutoff=0.5)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise DatasetNotFoundError(
            f"no bundled data set named {name!r}.{hint} Available: {', '.join(meta)}."
        )
    info = meta[key]
    dtypes = {col: ("string" if spec["type"] in ("factor", "ordered") else None)
              for col, spec in info["columns"].items()}
    path = resources.files(__package__).joinpath("data", info["file"])
    with resources.as_file(path) as p:
        frame = pd.read_csv(p, dtype={c: t for c, t in dtypes.items() if t}, keep_default_na=True)
    for col, spec in info["columns"].items():
        kind = spec["type"]
        if kind in ("factor", "ordered"):
            frame[col] = pd.Categorical(
                frame[col].astype(object), categories=spec["levels"], ordered=kind == "ordered"
            )
        elif kind == "integer":
            frame[col] = frame[col].astype("int64")
        else:
            frame[col] = frame[col].astype("float64")
    return frame
