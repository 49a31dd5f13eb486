"""The rules every writer of the store follows: which metrics are exported, under which family.

The Prometheus text writer (:mod:`.text`), the prometheus-client collector
behind ``/metrics`` and OpenMetrics (:mod:`.collector`), the JSON writer
(:mod:`.render`) and the backfill writer (:mod:`.history`) read the store
through this module, so that they cannot disagree:

- hidden metrics and ``text`` metrics are not exported;
- metrics of the same exported name (from several programs) form one family
  when they agree on kind and labels; otherwise the first declaration wins and
  the others are left out (the loader reports the clash);
- a family's ``# TYPE`` (a timer is a gauge) and its ``# HELP`` text;
- the ``prog`` label, after the metric's own labels;
- histogram buckets are cumulative, ``+Inf`` last, and the count is the ``+Inf`` bucket.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from logmetrics.store import Kind, Metric

#: The label naming the program of each sample, when asked for (mtail's ``--emit_prog_label``).
PROG_LABEL = "prog"


def exported(metric: Metric) -> bool:
    """Whether ``metric`` is written to Prometheus at all."""
    return not metric.hidden and metric.kind is not Kind.TEXT


def type_name(metric: Metric) -> str:
    """The family's ``# TYPE``: counter, gauge or histogram."""
    return "gauge" if metric.kind in (Kind.GAUGE, Kind.TIMER) else metric.kind.value


def help_text(metric: Metric) -> str:
    """The family's ``# HELP``: what the metric is and which program declares it."""
    return f"{metric.kind.value} {metric.name} defined in {metric.program}"


def joins(first: Metric, metric: Metric) -> bool:
    """Whether ``metric`` may add its samples to the family ``first`` opened."""
    return first.kind is metric.kind and first.labels == metric.labels


def cumulative(bounds: tuple[float, ...], value: list[float]) -> list[tuple[float, float]]:
    """A histogram value's buckets as ``[(bound, count at or below it), ..., (+Inf, count)]``;
    the last count is the histogram's count, and ``value[-1]`` its sum."""
    running: float = 0  # counts are ints: they stay ints
    buckets = []
    for bound, count in zip([*bounds, math.inf], value, strict=False):
        running += count
        buckets.append((bound, running))
    return buckets


@dataclass
class Family:
    """The metrics written under one exported name, and their label names."""

    first: Metric
    labels: list[str]
    prog_label: bool
    metrics: list[Metric] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The family's name: a counter's without ``_total`` (its samples add it back)."""
        return base_name(self.first)

    def extra_values(self, metric: Metric) -> list[str]:
        """The values of the labels the family adds to ``metric``'s own: its program's name."""
        return [metric.program] if self.prog_label else []


def base_name(metric: Metric) -> str:
    """A counter's exported name without ``_total``, as client_python names its family."""
    return metric.export_name.removesuffix("_total") if metric.kind is Kind.COUNTER else metric.export_name


def sample_name(metric: Metric) -> str:
    """The name a metric's samples carry (a histogram's before ``_bucket``/``_count``/``_sum``)."""
    return base_name(metric) + "_total" if metric.kind is Kind.COUNTER else metric.export_name


def label_names(metric: Metric, prog_label: bool) -> list[str]:
    """The label names of ``metric``'s samples."""
    return [*metric.labels, *([PROG_LABEL] if prog_label else [])]


def families(metrics: Iterable[Metric], prog_label: bool = False) -> list[Family]:
    """The exported metrics grouped into families, in the order they were first declared."""
    found: dict[str, Family] = {}
    for metric in metrics:
        if not exported(metric):
            continue
        family = found.get(metric.export_name)
        if family is None:
            family = found[metric.export_name] = Family(metric, label_names(metric, prog_label), prog_label)
        elif not joins(family.first, metric):
            continue
        family.metrics.append(metric)
    return list(found.values())
