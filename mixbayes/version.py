"""The version of mixbayes (``mixbayes.__version__``), in a module of its own so that modules inside the package
read it without importing the package (pyproject.toml holds the same number)."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
