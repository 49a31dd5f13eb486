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

It also holds the families that are not the store's: :class:`MetricFamily`
(logmetrics' own metrics, the store's when ``/metrics`` filters by name) and
the :class:`Collector` interface that yields them. They have the attributes
prometheus-client's writers read, so that tests hold our writer (:mod:`.text`)
to theirs on the very same families; the daemon itself does not import
prometheus-client (about 0.1 s of imports at every start: http.server,
urllib.request, email, ssl).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

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


class Sample(NamedTuple):
    """One sample of a :class:`MetricFamily`: ``name{labels} value timestamp``.

    ``exemplar`` and ``native_histogram`` are never set: prometheus-client's
    writers read them, and tests run those writers on our families."""

    name: str
    labels: dict[str, str]
    value: float
    timestamp: float | None = None
    exemplar: None = None
    native_histogram: None = None


class MetricFamily:
    """A family of samples as a collector yields it, named as client_python names its families
    (a counter's name without ``_total``; its samples add it back)."""

    unit = ""  # OpenMetrics' ``# UNIT``: none of ours has one

    def __init__(self, name: str, documentation: str, kind: str, labels: Sequence[str] = ()) -> None:
        """``kind`` is the ``# TYPE``: ``counter``, ``gauge`` or ``histogram``."""
        self.name = name.removesuffix("_total") if kind == "counter" else name
        self.documentation = documentation
        self.type = kind
        self.labels = tuple(labels)
        self.samples: list[Sample] = []

    def add(self, values: Sequence[str], value: float, timestamp: float | None = None) -> None:
        """A counter's or a gauge's sample, ``values`` naming the label values in order."""
        name = self.name + "_total" if self.type == "counter" else self.name
        self.samples.append(Sample(name, dict(zip(self.labels, values, strict=True)), value, timestamp))

    def add_histogram(self, values: Sequence[str], buckets: list[tuple[str, float]], total: float,
                      timestamp: float | None = None) -> None:
        """A histogram's samples: ``buckets`` as ``(le, cumulative count)``, ``+Inf`` last (its
        count is the histogram's), and the sum of the observations."""
        labels = dict(zip(self.labels, values, strict=True))
        for bound, count in buckets:
            self.samples.append(Sample(self.name + "_bucket", {**labels, "le": bound}, count, timestamp))
        self.samples.append(Sample(self.name + "_count", labels, buckets[-1][1], timestamp))
        self.samples.append(Sample(self.name + "_sum", labels, total, timestamp))


def counter(name: str, documentation: str, labels: Sequence[str] = ()) -> MetricFamily:
    """A counter family (samples named ``NAME_total``)."""
    return MetricFamily(name, documentation, "counter", labels)


def gauge(name: str, documentation: str, labels: Sequence[str] = ()) -> MetricFamily:
    """A gauge family."""
    return MetricFamily(name, documentation, "gauge", labels)


class Collector(Protocol):
    """Anything that yields metric families at each scrape."""

    def collect(self) -> Iterator[MetricFamily]:
        """The families of this moment."""
        ...
