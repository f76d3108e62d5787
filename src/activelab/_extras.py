"""Lazy imports of optional dependencies, with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise an ImportError that says which extra provides it.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"pandas"``.
    extra : str
        The activelab extra that installs it, e.g. ``"bench"``.
    purpose : str
        What the caller wanted to do, for the message.

    Returns
    -------
    types.ModuleType

    Examples
    --------
    >>> require("numpy", "core", "arrays").__name__
    'numpy'
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{purpose} needs {module.split('.')[0]}, which is not installed. "
            f"Install it with: pip install 'activelab[{extra}]'"
        ) from error
