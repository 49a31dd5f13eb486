"""Line dispatch: every line of a batch through every program that reads its file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from logmetrics.lang.builtins import ENVELOPE
from logmetrics.pathnames import display
from logmetrics.runtime.program import Program
from logmetrics.runtime.routes import LogRouter
from logmetrics.sources.envelope import NO_ENVELOPE, Envelope
from logmetrics.store import (
    DEFAULT_MAX_LABEL_SETS,
    DEFAULT_MAX_LABEL_VALUE_BYTES,
    DEFAULT_MAX_SERIES_BYTES,
    MetricStore,
)


@dataclass
class BatchResult:
    """What one batch did: lines in it, and the indices no program matched."""

    lines: int
    unmatched: list[int] | None


class Runtime:
    """The loaded programs and the store their metrics live in."""

    def __init__(self, programs: Sequence[Program], store: MetricStore | None = None,
                 max_label_sets: int = DEFAULT_MAX_LABEL_SETS, router: LogRouter | None = None,
                 max_value_bytes: int = DEFAULT_MAX_LABEL_VALUE_BYTES,
                 max_series_bytes: int = DEFAULT_MAX_SERIES_BYTES) -> None:
        """``max_label_sets`` caps each metric with labels that sets no ``limit`` of its own;
        ``max_value_bytes`` and ``max_series_bytes`` cap label values, one and all of a metric's;
        ``router``, when given, chooses which programs read which file (default: all read all)."""
        self.store = store or MetricStore()
        self.router = router
        self.max_label_sets = max_label_sets
        self.max_value_bytes = max_value_bytes
        self.max_series_bytes = max_series_bytes
        self.programs: list[Program] = []
        self.lines_read = 0
        for program in programs:
            self.add(program)

    def add(self, program: Program) -> None:
        """Add a program, or replace the one of the same name (keeping unchanged metrics)."""
        for metric in program.metrics.values():
            metric.max_label_sets = self.max_label_sets
            metric.max_value_bytes = self.max_value_bytes
            metric.max_series_bytes = self.max_series_bytes
        # The list is replaced, not mutated, so a batch in progress keeps its programs.
        programs = list(self.programs)
        for i, old in enumerate(programs):
            if old.name == program.name:
                program.adopt(old)
                programs[i] = program
                break
        else:
            programs.append(program)
        self.programs = programs
        self.store.set_program(program.name, list(program.metrics.values()))

    def has(self, name: str) -> bool:
        return any(p.name == name for p in self.programs)

    def remove(self, name: str) -> None:
        """Unload a program and its metrics."""
        self.programs = [p for p in self.programs if p.name != name]  # replaced, not mutated
        self.store.remove_program(name)

    def process(self, lines: list[str], filename: str, track_unmatched: bool = False,
                envelope: Envelope = NO_ENVELOPE) -> BatchResult:
        """Run a batch through every program.

        With ``track_unmatched``, the result lists the lines no program matched. ``envelope``
        is what the lines' envelope said (syslog header, container path), for the builtins.
        """
        self.lines_read += len(lines)
        ENVELOPE.current = envelope
        programs = self.programs if self.router is None else \
            self.router.select(filename, self.programs, envelope.stream)
        filename = display(filename)  # what getfilename() gives: valid UTF-8 whatever the bytes
        if not track_unmatched:
            for program in programs:
                program.run(lines, filename)
            return BatchResult(len(lines), None)
        unmatched: set[int] | None = None
        for program in programs:
            missed: list[int] = []
            program.run(lines, filename, missed)
            unmatched = set(missed) if unmatched is None else unmatched.intersection(missed)
        if unmatched is None:
            unmatched = set(range(len(lines)))
        return BatchResult(len(lines), sorted(unmatched))
