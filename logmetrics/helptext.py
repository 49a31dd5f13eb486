"""Help texts answered without argparse, and the width they are rendered at.

Importing argparse and building parsers is most of what ``logmetrics --help`` costs.
argparse's own output for each ``--help`` (the top one and every subcommand's) is kept
in ``rendered_help.py``, rendered at 80 columns: what a pipe, a file or an
80-column terminal gets. For exactly those command lines, at that width, the stored
text is printed; anything else (another width, an option before ``--help``, any
error) goes to the parser. The stored texts never go stale unseen:
tests/cli/test_help.py compares each with what argparse prints, and
``python -m logmetrics.cmdline --write`` (at the top of the checkout) renders them again.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing itself is more than --help should import
if TYPE_CHECKING:
    from collections.abc import Sequence

#: The terminal width the stored texts are rendered at (shutil's fallback).
WIDTH = 80

#: Where the stored texts live, next to this module.
RENDERED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rendered_help.py")


def terminal_width() -> int:
    """The width shutil.get_terminal_size() gives argparse: ``COLUMNS`` when it is a positive
    number, else the width of the terminal on stdout, else 80. Found without importing shutil
    (which brings bz2, lzma and fnmatch with it)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    stdout = sys.__stdout__
    if stdout is None:
        return WIDTH
    try:
        size = os.get_terminal_size(stdout.fileno())
    except (AttributeError, ValueError, OSError):
        return WIDTH
    return size.columns or WIDTH


def fill_bundled(text: str) -> str:
    """``text`` with ``{bundled}`` and ``{names}`` replaced by the bundled programs' folder and
    names, which depend on where logmetrics is installed (the top-level help's epilog)."""
    from logmetrics.resources import bundled_folder, bundled_program_names

    return text.replace("{bundled}", bundled_folder("programs")).replace(
        "{names}", ", ".join(bundled_program_names()))


def stored_help(argv: Sequence[str]) -> str | None:
    """What argparse prints for exactly ``argv`` when it asks for help (``["run", "--help"]``),
    if that text is stored and the terminal is as wide as it was rendered for; else None."""
    if not argv or terminal_width() != WIDTH:
        return None
    from logmetrics.rendered_help import HELP, HELP_OPTIONS

    if argv[-1] not in HELP_OPTIONS:
        return None
    text = HELP.get(tuple(argv[:-1]))
    return None if text is None else fill_bundled(text)
