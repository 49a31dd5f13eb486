"""A loaded program: what the compiler made of it, and what it did since it was loaded."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from logmetrics.errors import Position
from logmetrics.lang.compiler import compile_program
from logmetrics.lang.sites import MatchSite
from logmetrics.store import Metric

if TYPE_CHECKING:
    from logmetrics.grok import PatternLibrary
    from logmetrics.lang.cache import CompileCache

#: How many runtime error messages a program keeps for reports.
KEPT_ERRORS = 5


@dataclass
class ProgramStats:
    """What a program did since it was loaded."""

    lines_seen: int = 0  # lines routed to the program
    lines_matched: int = 0
    runtime_errors: int = 0
    regex_timeouts: int = 0  # lines given up because a guarded regex ran out of time
    recent_errors: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=KEPT_ERRORS)
    )


class Program:
    """One compiled program, ready to run over batches of lines.

    >>> from logmetrics.grok import PatternLibrary
    >>> lib = PatternLibrary.load()
    >>> p = Program.compile('counter n\\n/x/ { n++ }\\n', "n.mtail", lib)
    >>> p.run(["x", "y", "xx"], "test.log")
    2
    >>> p.metrics["n"].values[()]
    2
    """

    def __init__(self, name: str, path: str, metrics: dict[str, Metric], source: str,
                 process: Callable[..., int]) -> None:
        self.name = name
        self.path = path
        self.metrics = metrics
        self.source = source
        self._process = process
        self.stats = ProgramStats()
        #: When this version was compiled (seconds since the epoch), for the status page.
        self.loaded_at = time.time()
        #: Where the regexes that run with a time budget are (see lang.regexes).
        self.guarded: list[Position] = []
        #: The pattern sites, and the lines each matched, by regex number (see lang.sites).
        self.sites: list[MatchSite] = []
        self.site_hits: list[int] = []

    @classmethod
    def compile(cls, text: str, path: str, library: PatternLibrary, name: str | None = None,
                stamps: bool = False, cache: CompileCache | None = None) -> Program:
        """Compile program text; raises CompileError(s) naming ``path:line:col``.

        ``stamps`` records each update's line time, for ``--emit-metric-timestamp``; with a
        ``cache``, a program compiled before from the same inputs is taken from it.
        """
        compiled = compile_program(text, path, library, name, stamps, cache=cache)
        program = cls(compiled.name, path, compiled.metrics, compiled.source, compiled.process)
        program.guarded = compiled.guarded
        program.sites, program.site_hits = compiled.sites, compiled.site_hits
        return program

    @classmethod
    def load(cls, path: Path, library: PatternLibrary, stamps: bool = False,
             cache: CompileCache | None = None) -> Program:
        """Read and compile a program file (see :meth:`compile`)."""
        return cls.compile(path.read_text(encoding="utf-8"), str(path), library, stamps=stamps, cache=cache)

    def _on_error(self, exc: Exception, line: str) -> None:
        self.stats.runtime_errors += 1
        if isinstance(exc, TimeoutError):
            self.stats.regex_timeouts += 1
        self.stats.recent_errors.append(f"{type(exc).__name__}: {exc} (line: {line[:200]!r})")

    def run(self, lines: list[str], filename: str, missed: list[int] | None = None) -> int:
        """Run every line through the program; returns how many it matched.

        Indices of lines no pattern matched are appended to ``missed``.
        """
        self.stats.lines_seen += len(lines)
        matched = self._process(lines, filename, missed, self._on_error)
        self.stats.lines_matched += matched
        return matched

    def adopt(self, old: Program) -> None:
        """Keep what ``old``'s metrics held where their declaration did not change (reload); a
        restart keeps the same through the daemon's checkpoint."""
        for name, metric in self.metrics.items():
            before = old.metrics.get(name)
            if before is not None and before.signature == metric.signature:
                metric.carry_over(before.carried())
