"""Where the bundled programs and grok patterns are.

An installed package has them inside it, as ``logmetrics/programs`` and
``logmetrics/patterns`` (see pyproject.toml); in a source checkout they are
the ``programs/`` and ``patterns/`` folders at the top of the repository.
``logmetrics --help`` lists the bundled programs from here, so finding them
takes os.path alone: pathlib (with urllib.parse and ipaddress behind it) is
imported only by the functions that return a Path.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing itself is more than --help should import
if TYPE_CHECKING:
    from pathlib import Path

_PACKAGE = os.path.dirname(os.path.realpath(__file__))


def bundled_folder(name: str) -> str:
    """The folder of bundled ``programs`` or ``patterns``, as a string."""
    installed = os.path.join(_PACKAGE, name)
    if os.path.isdir(installed):
        return installed
    return os.path.join(os.path.dirname(_PACKAGE), name)


def bundled_dir(name: str) -> Path:
    """The folder of bundled ``programs`` or ``patterns``."""
    from pathlib import Path

    return Path(bundled_folder(name))


PROGRAM_SUFFIX = ".mtail"

#: The bundled program that runs when no program is named.
DEFAULT_PROGRAM = "apache_access"


def bundled_programs_dir() -> Path:
    """The folder of the programs shipped with logmetrics."""
    return bundled_dir("programs")


def bundled_program_names() -> list[str]:
    """Names of the bundled programs (their file names without ``.mtail``)."""
    found = os.listdir(bundled_folder("programs"))
    return sorted(name.removesuffix(PROGRAM_SUFFIX) for name in found if name.endswith(PROGRAM_SUFFIX))


def bundled_program(name: str) -> Path | None:
    """The bundled program called ``name`` (with or without ``.mtail``), if there is one."""
    if not name or "/" in name or name.startswith("."):
        return None
    path = bundled_programs_dir() / (name if name.endswith(PROGRAM_SUFFIX) else name + PROGRAM_SUFFIX)
    return path if path.is_file() else None
