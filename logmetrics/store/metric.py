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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from logmetrics.defaults import (
    DEFAULT_MAX_LABEL_SETS,
    DEFAULT_MAX_LABEL_VALUE_BYTES,
    DEFAULT_MAX_SERIES_BYTES,
)

#: Times a series may carry (seconds since the epoch, years 1 to 9999): what a
#: Prometheus timestamp holds. Anything else (inf, nan, 1e300) is refused when set.
TIMESTAMP_RANGE = (-62135596800.0, 253402300799.0)


def valid_timestamp(value: object) -> TypeGuard[float]:
    """True for a finite number of seconds within :data:`TIMESTAMP_RANGE`."""
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and TIMESTAMP_RANGE[0] <= value <= TIMESTAMP_RANGE[1])  # NaN compares False


class Kind(enum.Enum):
    """What a metric measures, which decides how it is exported."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"
    TIMER = "timer"  # exported as a gauge, as mtail does
    TEXT = "text"  # a string value; not exported to Prometheus


LabelValues = tuple[str, ...]


@dataclass
class Carried:
    """What a metric hands its next life, when a reloaded program or the restarted daemon
    declares it again unchanged (see :attr:`Metric.signature`): the values, and the clocks of
    ``del ... after``. :meth:`Metric.carried` takes it, :meth:`Metric.carry_over` puts it back;
    the daemon's checkpoint saves it in between."""

    values: dict[LabelValues, Any] = field(default_factory=dict)
    #: Seconds after its last update at which a label set is deleted.
    expiry: dict[LabelValues, float] = field(default_factory=dict)
    #: When each label set with an expiry was last updated (seconds since the epoch).
    updated: dict[LabelValues, float] = field(default_factory=dict)


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
    max_value_bytes: int = DEFAULT_MAX_LABEL_VALUE_BYTES
    max_series_bytes: int = DEFAULT_MAX_SERIES_BYTES
    values: dict[LabelValues, Any] = field(default_factory=dict)
    #: Label sets refused because the metric was full (cardinality guard).
    overflow: int = 0
    #: Label sets refused because a value was longer than ``max_value_bytes``.
    refused_long: int = 0
    #: Label sets refused because the metric's label values reached ``max_series_bytes``.
    refused_bytes: int = 0
    #: Seconds after its last update at which a label set is deleted (``del ... after``).
    expiry: dict[LabelValues, float] = field(default_factory=dict)
    updated: dict[LabelValues, float] = field(default_factory=dict)
    #: The log line's own time (from strptime/settime) at each label set's last update.
    stamps: dict[LabelValues, float] = field(default_factory=dict)
    _bytes: int | None = field(default=None, repr=False)  # label value bytes held (see _held_bytes)
    _bytes_len: int = field(default=-1, repr=False)  # len(values) when _bytes was last right

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

    def carried(self) -> Carried:
        """A copy of what this metric hands its next life (dict copies made in C, cheap enough
        for the daemon's main loop at every checkpoint)."""
        if self.kind is Kind.HISTOGRAM:  # values are lists updated in place
            values = {k: list(v) for k, v in list(self.values.items())}
        else:
            values = self.values.copy()
        return Carried(values, self.expiry.copy(), self.updated.copy())

    def carry_over(self, carried: Carried, now: float | None = None) -> int:
        """Take what this metric held in its earlier life, whose :attr:`signature` was the
        same: its values, and each ``del ... after`` clock with the time of the last update,
        so that a label set lives as long as it would have. A label set whose clock ran out
        by ``now`` is not taken. Returns how many values were dropped as unfit."""
        now = time.time() if now is None else now
        self.values.clear()
        self.expiry.clear()
        self.updated.clear()
        dropped = 0
        for key, value in carried.values.items():
            if not self.holds(key, value):
                dropped += 1
                continue
            after = carried.expiry.get(key)
            if after is not None and _number(after) and math.isfinite(after):
                saved = carried.updated.get(key)
                updated = saved if valid_timestamp(saved) else now
                if now - updated >= after:
                    continue  # deleted while away, as it would have been here
                self.expiry[key], self.updated[key] = after, updated
            self.values[key] = list(value) if self.kind is Kind.HISTOGRAM else value
        return dropped

    def admit(self, key: LabelValues) -> bool:
        """Make room for a new label set; False if a guard refuses it (and counts that).

        The guards: no label value longer than ``max_value_bytes``; at most
        ``max_label_sets`` label sets, unless the program's ``limit`` evicts the
        oldest instead; at most ``max_series_bytes`` of label values in all.
        """
        sizes = [len(v.encode("utf-8", "replace")) for v in key]
        if sizes and max(sizes) > self.max_value_bytes:
            self.refused_long += 1
            return False
        size = sum(sizes)
        values = self.values
        if self.limit is not None:
            while values and (len(values) >= self.limit or not self._fits(size)):
                self.delete(next(iter(values)))  # insertion order: the longest-held label set
        elif len(values) >= self.max_label_sets:
            self.overflow += 1
            return False
        elif not self._fits(size):
            self.refused_bytes += 1
            return False
        self._bytes = self._held_bytes() + size
        self._bytes_len = len(values) + 1  # the caller adds the label set next
        return True

    def _fits(self, size: int) -> bool:
        """True if ``size`` more bytes of label values stay within ``max_series_bytes``."""
        if self._held_bytes() + size <= self.max_series_bytes:
            return True
        if self._bytes_len != len(self.values):  # deletions made elsewhere: count again, once
            self._bytes = None
        return self._held_bytes() + size <= self.max_series_bytes

    def _held_bytes(self) -> int:
        """Label value bytes held: exact when first asked, then kept up by admit().

        Values set without admit() (restored from a checkpoint, or kept over a
        reload) are counted on first use; label sets removed from ``values``
        directly, not through delete(), leave it too high until it is counted again.
        """
        if self._bytes is None:
            self._bytes = sum(len(v.encode("utf-8", "replace")) for k in self.values for v in k)
            self._bytes_len = len(self.values)
        return self._bytes

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
        if self.values.pop(key, None) is not None and self._bytes is not None:
            self._bytes -= sum(len(v.encode("utf-8", "replace")) for v in key)
            self._bytes_len = len(self.values)
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
