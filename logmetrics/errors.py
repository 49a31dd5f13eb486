"""Errors that carry a position a person can act on.

Every error found in a program or a pattern file is reported as
``file:line:col: message``, the format compilers and editors understand.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a source file; ``line`` and ``col`` count from 1."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class LogmetricsError(Exception):
    """Base class of every error logmetrics reports to a user."""


class CompileError(LogmetricsError):
    """A program or pattern could not be compiled.

    >>> str(CompileError(Position("a.mtail", 3, 7), "unknown metric 'x'"))
    "a.mtail:3:7: unknown metric 'x'"
    """

    def __init__(self, pos: Position, message: str) -> None:
        super().__init__(f"{pos}: {message}")
        self.pos = pos
        self.message = message


class CompileErrors(LogmetricsError):
    """Several compile errors found in one pass, reported together."""

    def __init__(self, errors: list[CompileError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors
