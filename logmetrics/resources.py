"""Where the bundled programs and grok patterns are.

An installed package has them as ``logmetrics.programs`` and
``logmetrics.patterns`` (see pyproject.toml); in a source checkout they are
the ``programs/`` and ``patterns/`` folders at the top of the repository.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def bundled_dir(name: str) -> Path:
    """The folder of bundled ``programs`` or ``patterns``."""
    try:
        return Path(str(importlib.resources.files(f"logmetrics.{name}")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / name
