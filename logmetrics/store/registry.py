"""All metrics of all loaded programs, grouped by program."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from logmetrics.store.metric import Metric


class MetricStore:
    """The metrics of every loaded program.

    Replacing a program's metrics (on reload) is atomic for readers: they see
    either the old set or the new one.
    """

    def __init__(self) -> None:
        self._by_program: dict[str, list[Metric]] = {}
        self._lock = threading.Lock()

    def set_program(self, program: str, metrics: list[Metric]) -> None:
        """Install (or replace) the metrics of ``program``."""
        with self._lock:
            self._by_program = {**self._by_program, program: list(metrics)}

    def remove_program(self, program: str) -> None:
        with self._lock:
            rest = dict(self._by_program)
            rest.pop(program, None)
            self._by_program = rest

    def programs(self) -> list[str]:
        return sorted(self._by_program)

    def __iter__(self) -> Iterator[Metric]:
        for program in sorted(self._by_program):
            yield from self._by_program[program]
