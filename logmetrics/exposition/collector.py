"""A prometheus-client collector over the metric store.

One collector renders the whole store: no client-library object per label
set, no ``_created`` series. Metrics of the same exported name declared by
several programs are merged into one family when they agree on kind and
labels; with ``prog_label`` each sample also carries the program's name,
as mtail's ``--emit_prog_label`` does; with ``timestamps``, each sample
carries the time of the log line that last updated it, where the program
set one with strptime or settime (mtail's ``--emit_metric_timestamp``).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.core import (
    Metric as Family,
)
from prometheus_client.registry import Collector

from logmetrics.exposition.text import go_label_float
from logmetrics.store import Kind, Metric, MetricStore

PROG_LABEL = "prog"


class StoreCollector(Collector):
    """Yields the store's exported metrics as Prometheus metric families."""

    def __init__(self, store: MetricStore, prog_label: bool = False, timestamps: bool = False) -> None:
        self.store = store
        self.prog_label = prog_label
        self.timestamps = timestamps

    def collect(self) -> Iterator[Family]:
        families: dict[str, tuple[Metric, Family]] = {}
        for metric in self.store:
            if metric.hidden or metric.kind is Kind.TEXT:
                continue
            labels = list(metric.labels)
            if self.prog_label:
                labels.append(PROG_LABEL)
            name = metric.export_name
            found = families.get(name)
            if found is None:
                family = _new_family(metric, labels)
                families[name] = (metric, family)
            else:
                first, family = found
                if first.kind is not metric.kind or first.labels != metric.labels:
                    continue  # reported at load time; the first declaration wins
            extra = [metric.program] if self.prog_label else []
            _add_samples(family, metric, extra, self.timestamps)
        for _metric, family in families.values():
            yield family


def _new_family(metric: Metric, labels: list[str]) -> Family:
    doc = f"{metric.kind.value} {metric.name} defined in {metric.program}"
    if metric.kind is Kind.COUNTER:
        name = metric.export_name
        return CounterMetricFamily(name, doc, labels=labels)
    if metric.kind is Kind.HISTOGRAM:
        return HistogramMetricFamily(metric.export_name, doc, labels=labels)
    return GaugeMetricFamily(metric.export_name, doc, labels=labels)


def _add_samples(family: Family, metric: Metric, extra: list[str], timestamps: bool) -> None:
    stamps = dict(metric.stamps) if timestamps else {}
    if metric.kind is Kind.HISTOGRAM:
        # The bounds are passed as text, so prometheus-client writes them as given, in the
        # Prometheus text format and OpenMetrics alike: the Go client's ``le="1"``.
        bounds = [*(go_label_float(b) for b in metric.buckets), "+Inf"]
        for key, value in sorted(metric.snapshot()):
            running = 0
            buckets = []
            for le, count in zip(bounds, value, strict=False):
                running += count
                buckets.append((le, running))
            family.add_metric([*key, *extra], buckets, value[-1],  # type: ignore[call-arg]
                              timestamp=stamps.get(key))
        return
    for key, value in sorted(metric.snapshot()):  # sorted: stable, readable output
        family.add_metric([*key, *extra], value, timestamp=stamps.get(key))  # type: ignore[call-arg]

