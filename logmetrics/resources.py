"""Where the bundled programs and grok patterns are.

An installed package has them inside it, as ``logmetrics/programs`` and
``logmetrics/patterns`` (see pyproject.toml); in a source checkout they are
the ``programs/`` and ``patterns/`` folders at the top of the repository.
Nothing here imports more than pathlib: ``logmetrics --help`` lists the
bundled programs from here.
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


PROGRAM_SUFFIX = ".mtail"

#: The bundled program that runs when no program is named.
DEFAULT_PROGRAM = "apache_access"


def bundled_programs_dir() -> Path:
    """The folder of the programs shipped with logmetrics."""
    return bundled_dir("programs")


def bundled_program_names() -> list[str]:
    """Names of the bundled programs (their file names without ``.mtail``)."""
    return sorted(p.stem for p in bundled_programs_dir().glob(f"*{PROGRAM_SUFFIX}"))


def bundled_program(name: str) -> Path | None:
    """The bundled program called ``name`` (with or without ``.mtail``), if there is one."""
    if not name or "/" in name or name.startswith("."):
        return None
    path = bundled_programs_dir() / (name if name.endswith(PROGRAM_SUFFIX) else name + PROGRAM_SUFFIX)
    return path if path.is_file() else None
