"""The reference our writers are held to: the store's families built with prometheus-client's
own family types and written by its writers.

prometheus-client is no longer on the daemon's path (its import cost about 0.1 s of every
start); it stays here, so that our writer keeps writing what it writes."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.core import Metric as PrometheusFamily
from prometheus_client.registry import Collector

from logmetrics.exposition.families import cumulative, families, help_text
from logmetrics.exposition.text import go_label_float
from logmetrics.store import Kind, Metric, MetricStore


class ReferenceCollector(Collector):
    """The store's exported metrics as prometheus-client metric families."""

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


def reference_registry(store: MetricStore, prog_label: bool = False,
                       timestamps: bool = False) -> CollectorRegistry:
    """A prometheus-client registry holding only the store's metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReferenceCollector(store, prog_label=prog_label, timestamps=timestamps))
    return registry


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
            # The bounds as text, so that prometheus-client writes them as given: the Go client's le="1".
            buckets = [(go_label_float(bound), count) for bound, count in cumulative(metric.buckets, value)]
            family.add_metric([*key, *extra], buckets, value[-1], timestamp=stamps.get(key))
        return
    assert isinstance(family, CounterMetricFamily | GaugeMetricFamily)
    for key, value in sorted(metric.snapshot()):
        family.add_metric([*key, *extra], value, timestamp=stamps.get(key))
