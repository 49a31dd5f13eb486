"""Shared test helpers: compile a program from text and run lines through it."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import logmetrics
from logmetrics.exposition.render import render
from logmetrics.grok import PatternLibrary
from logmetrics.runtime.engine import Runtime
from logmetrics.runtime.program import Program

_LIBRARY: PatternLibrary | None = None

REPO = Path(__file__).resolve().parents[1]
#: The installed console script, beside this interpreter (the tests' venv).
SCRIPT = Path(sys.executable).with_name("logmetrics")
#: The shared test data (real Apache/nginx logs, Logstash patterns), beside the repository or
#: beside a folder holding it (a worktree in a subfolder).
SHARED_DATA = next((folder / "shared" / "data" for folder in REPO.parents
                    if (folder / "shared" / "data").is_dir()), REPO.parent / "shared" / "data")

#: Where Debian's mtail package keeps its example programs.
MTAIL_EXAMPLES = Path("/usr/share/doc/mtail/examples")
#: Each bundled program (by name) with a shared log it reads, and mtail's example that the
#: benchmarks run (by path; absent where mtail is not installed).
PROGRAM_LOGS = [
    ("apache_access", "apache/access_combined.log.gz"),
    ("apache_error", "apache/error.log.gz"),
    ("nginx_access", "nginx/access_combined.log.gz"),
    ("nginx_error", "nginx/error.log.gz"),
    (str(MTAIL_EXAMPLES / "apache_combined.mtail"), "apache/access_combined.log.gz"),
]


def installed_package() -> Path:
    """The folder of the logmetrics package the tests import (the installed one: see conftest.py)."""
    return Path(logmetrics.__file__).resolve().parent


def library() -> PatternLibrary:
    global _LIBRARY
    if _LIBRARY is None:
        _LIBRARY = PatternLibrary.load()
    return _LIBRARY


def compile_program(text: str, name: str = "t.mtail") -> Program:
    return Program.compile(text, name, library())


def run(text: str, lines: list[str], filename: str = "test.log") -> Program:
    """Compile ``text`` and run ``lines`` through it; returns the program."""
    program = compile_program(text)
    program.run(lines, filename)
    return program


def values(program: Program, metric: str) -> dict:
    return dict(program.metrics[metric].values)


def exposition(program: Program, fmt: str = "prometheus") -> str:
    return render(Runtime([program]).store, fmt)


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.1) -> bool:
    """Until ``predicate()`` is true, at most ``timeout`` seconds; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class Fixed:
    """A collector giving the same families at every scrape."""

    def __init__(self, *families) -> None:
        self.families = families

    def collect(self):
        yield from self.families
