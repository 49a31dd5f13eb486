"""Metrics as programs see them: a kind, label names, and values by label set.

The store knows nothing of programs' code or of exposition. Values live in
plain dicts keyed by label-value tuples (``()`` for a metric without labels),
so that compiled programs update them with one dict operation; readers take
snapshots, which is safe against a concurrent writer under the GIL because
copying a dict of str tuples runs no Python code.

A histogram's value is a list: one count per bucket (the last is ``+Inf``),
not cumulative, then the sum of observed values.
"""

from __future__ import annotations

import enum
import math
import time
from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Label sets a dimensioned metric may hold unless its program sets ``limit``.
DEFAULT_MAX_LABEL_SETS = 10_000


class Kind(enum.Enum):
    """What a metric measures, which decides how it is exported."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"
    TIMER = "timer"  # exported as a gauge, as mtail does
    TEXT = "text"  # a string value; not exported to Prometheus


LabelValues = tuple[str, ...]


@dataclass(eq=False)
class Metric:
    """One declared metric of one program and its current values."""

    name: str
    export_name: str
    kind: Kind
    labels: tuple[str, ...] = ()
    program: str = ""
    hidden: bool = False
    buckets: tuple[float, ...] = ()
    limit: int | None = None  # mtail's ``limit N``: oldest label sets are evicted
    max_label_sets: int = DEFAULT_MAX_LABEL_SETS  # the guard when no ``limit`` is given
    values: dict[LabelValues, Any] = field(default_factory=dict)
    #: Label sets refused because the metric was full (cardinality guard).
    overflow: int = 0
    #: Seconds after its last update at which a label set is deleted (``del ... after``).
    expiry: dict[LabelValues, float] = field(default_factory=dict)
    updated: dict[LabelValues, float] = field(default_factory=dict)
    #: The log line's own time (from strptime/settime) at each label set's last update.
    stamps: dict[LabelValues, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.labels and self.kind is Kind.COUNTER:
            # A counter without labels exists from the start, at 0; a gauge only once
            # it is set (mtail does the same: an unset gauge has no value to show).
            self.values[()] = 0

    @property
    def signature(self) -> list[Any]:
        """What must be unchanged for values held before to be kept: by a reloaded program
        (``Program.adopt``) and after a restart (the daemon's checkpoint, which stores it:
        plain JSON values)."""
        return [self.export_name, self.kind.value, list(self.labels), list(self.buckets)]

    def holds(self, key: Any, value: Any) -> bool:
        """Whether ``value`` under ``key`` is something this metric can hold (a scrape must
        never fail on a value read back from a file)."""
        if not (isinstance(key, tuple) and len(key) == len(self.labels)
                and all(isinstance(k, str) for k in key)):
            return False
        if self.kind is Kind.TEXT:
            return isinstance(value, str)
        if self.kind is Kind.HISTOGRAM:
            return (isinstance(value, list) and len(value) == len(self.buckets) + 2
                    and all(_number(x) and math.isfinite(x) for x in value) and min(value[:-1]) >= 0)
        if self.kind is Kind.COUNTER:
            return _number(value) and math.isfinite(value)
        return _number(value)

    def carry_over(self, values: Mapping[LabelValues, Any], expiry: Mapping[LabelValues, float] | None = None,
                   updated: Mapping[LabelValues, float] | None = None) -> int:
        """Take the values (and ``del ... after`` clocks) of this metric's earlier life, whose
        :attr:`signature` was the same; returns how many values were dropped as unfit."""
        self.values.clear()
        dropped = 0
        for key, value in values.items():
            if self.holds(key, value):
                self.values[key] = list(value) if self.kind is Kind.HISTOGRAM else value
            else:
                dropped += 1
        for key, seconds in (expiry or {}).items():
            if key in self.values:
                self.expiry[key] = seconds
                self.updated[key] = (updated or {}).get(key, time.time())
        return dropped

    def admit(self, key: LabelValues) -> bool:
        """Make room for a new label set; False if the guard refuses it (and counts that)."""
        values = self.values
        if self.limit is not None:
            while len(values) >= self.limit:
                oldest = next(iter(values))  # insertion order: the longest-held label set
                del values[oldest]
                self.expiry.pop(oldest, None)
                self.updated.pop(oldest, None)
            return True
        if len(values) >= self.max_label_sets:
            self.overflow += 1
            return False
        return True

    def new_histogram(self, key: LabelValues) -> list[float] | None:
        """Create the value of a new histogram label set, or None if refused."""
        held: list[float] | None = self.values.get(key)
        if held is not None:
            return held
        if not self.admit(key):
            return None
        value: list[float] = [0] * (len(self.buckets) + 1) + [0.0]
        self.values[key] = value
        return value

    def observer(self) -> Callable[[list[float], float], None]:
        """A fast function that records one observation into a histogram value."""
        bounds = self.buckets
        total = len(bounds) + 1

        def observe(value: list[float], x: float) -> None:
            value[bisect_left(bounds, x)] += 1
            value[total] += x

        return observe

    def delete(self, key: LabelValues) -> None:
        """``del m[key]``: forget the label set now."""
        self.values.pop(key, None)
        self.stamps.pop(key, None)
        self.expiry.pop(key, None)
        self.updated.pop(key, None)

    def expire_after(self, key: LabelValues, seconds: float) -> None:
        """``del m[key] after seconds``: delete the label set once it is idle that long."""
        self.expiry[key] = seconds
        self.updated[key] = time.time()

    def expire(self, now: float) -> int:
        """Delete label sets idle past their expiry; returns how many were deleted."""
        gone = [k for k, after in list(self.expiry.items()) if now - self.updated.get(k, now) >= after]
        for key in gone:
            self.delete(key)
        return len(gone)

    def snapshot(self) -> list[tuple[LabelValues, Any]]:
        """A consistent copy of the values, safe to read while lines are processed."""
        items = list(self.values.items())
        if self.kind is Kind.HISTOGRAM:
            return [(k, list(v)) for k, v in items]
        return items


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)
