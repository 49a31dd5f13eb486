"""Where the bundled programs and grok patterns are.

An installed package has them inside it, as ``logmetrics/programs`` and
``logmetrics/patterns`` (see pyproject.toml); in a source checkout they are
the ``programs/`` and ``patterns/`` folders at the top of the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """The folder of bundled ``programs`` or ``patterns``."""
    installed = _PACKAGE / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name
