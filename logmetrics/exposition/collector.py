"""A prometheus-client collector over the metric store.

One collector renders the whole store: no client-library object per label
set, no ``_created`` series. The families, their labels and help texts are
those of :mod:`.families`; with ``timestamps``, each sample
carries the time of the log line that last updated it, where the program
set one with strptime or settime (mtail's ``--emit_metric_timestamp``).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.core import (
    Metric as PrometheusFamily,
)
from prometheus_client.registry import Collector

from logmetrics.exposition.families import cumulative, families, help_text
from logmetrics.exposition.text import go_label_float, legacy_names, render_text
from logmetrics.store import Kind, Metric, MetricStore


class StoreCollector(Collector):
    """Yields the store's exported metrics as Prometheus metric families."""

    def __init__(self, store: MetricStore, prog_label: bool = False, timestamps: bool = False) -> None:
        self.store = store
        self.prog_label = prog_label
        self.timestamps = timestamps

    def collect(self) -> Iterator[PrometheusFamily]:
        for family in families(self.store, self.prog_label):
            out = _new_family(family.first, family.labels)
            for metric in family.metrics:
                _add_samples(out, metric, family.extra_values(metric), self.timestamps)
            yield out

    def write(self, openmetrics: bool, legacy_only: bool = False) -> str | None:
        """The store's families written by our own writer (:mod:`.text`), many times faster than
        prometheus-client's; OpenMetrics without its ``# EOF``. With ``legacy_only``, None when a
        name needs more than the classic character set (the scraper asked to keep such names)."""
        if legacy_only and not legacy_names(self.store, self.prog_label):
            return None
        return render_text(self.store, self.prog_label, self.timestamps, openmetrics=openmetrics,
                           yielding=True)


class Registry(CollectorRegistry):
    """A registry that lists its collectors in order, so that ``/metrics`` can write the
    store's itself and leave only the others to prometheus-client (see server.py)."""

    def __init__(self) -> None:
        super().__init__(auto_describe=False)
        self.collectors: list[Collector] = []

    def register(self, collector: Collector) -> None:
        super().register(collector)
        self.collectors.append(collector)

    def unregister(self, collector: Collector) -> None:
        super().unregister(collector)
        self.collectors.remove(collector)


def _new_family(metric: Metric, labels: list[str]) -> PrometheusFamily:
    doc = help_text(metric)
    if metric.kind is Kind.COUNTER:
        return CounterMetricFamily(metric.export_name, doc, labels=labels)
    if metric.kind is Kind.HISTOGRAM:
        return HistogramMetricFamily(metric.export_name, doc, labels=labels)
    return GaugeMetricFamily(metric.export_name, doc, labels=labels)


def _add_samples(family: PrometheusFamily, metric: Metric, extra: list[str], timestamps: bool) -> None:
    stamps = dict(metric.stamps) if timestamps else {}
    if isinstance(family, HistogramMetricFamily):
        for key, value in sorted(metric.snapshot()):
            # The bounds are passed as text, so prometheus-client writes them as given, in the
            # Prometheus text format and OpenMetrics alike: the Go client's ``le="1"``.
            buckets = [(go_label_float(bound), count) for bound, count in cumulative(metric.buckets, value)]
            family.add_metric([*key, *extra], buckets, value[-1], timestamp=stamps.get(key))
        return
    assert isinstance(family, CounterMetricFamily | GaugeMetricFamily)
    for key, value in sorted(metric.snapshot()):  # sorted: stable, readable output
        family.add_metric([*key, *extra], value, timestamp=stamps.get(key))
