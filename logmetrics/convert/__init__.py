"""Converters from other log-to-metrics tools' configurations to logmetrics programs."""

from __future__ import annotations

from dataclasses import dataclass

from logmetrics.errors import LogmetricsError


@dataclass(frozen=True)
class ConvertWarning:
    """Something of the source configuration that has no exact equivalent.

    ``line`` is the 1-based line of the configuration it is about, or None.
    """

    line: int | None
    message: str

    def format(self, filename: str) -> str:
        """``FILE:LINE: warning: MESSAGE``, or ``FILE: warning: MESSAGE`` without a line."""
        where = f"{filename}:{self.line}" if self.line is not None else filename
        return f"{where}: warning: {self.message}"


class ConvertError(LogmetricsError):
    """A configuration that cannot be converted at all (not YAML, a metric with no name...)."""
