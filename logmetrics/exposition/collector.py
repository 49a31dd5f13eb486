"""The collector over the metric store, and the registry of collectors ``/metrics`` writes.

One collector renders the whole store: no object per label set, no
``_created`` series. The families, their labels and help texts are those of
:mod:`.families`; with ``timestamps``, each sample carries the time of the log
line that last updated it, where the program set one with strptime or settime
(mtail's ``--emit_metric_timestamp``).
"""

from __future__ import annotations

from collections.abc import Iterator

from logmetrics.exposition.families import Collector, MetricFamily, cumulative, families, help_text, type_name
from logmetrics.exposition.text import go_label_float, legacy_names, render_text
from logmetrics.store import Kind, MetricStore


class StoreCollector:
    """The store's exported metrics: written straight by :meth:`write` (a whole scrape), or
    yielded as families by :meth:`collect` (a scrape filtered by name)."""

    def __init__(self, store: MetricStore, prog_label: bool = False, timestamps: bool = False) -> None:
        self.store = store
        self.prog_label = prog_label
        self.timestamps = timestamps

    def collect(self) -> Iterator[MetricFamily]:
        for family in families(self.store, self.prog_label):
            out = MetricFamily(family.first.export_name, help_text(family.first), type_name(family.first),
                               family.labels)
            for metric in family.metrics:
                extra = family.extra_values(metric)
                stamps = dict(metric.stamps) if self.timestamps else {}
                for key, value in sorted(metric.snapshot()):  # sorted: stable, readable output
                    if metric.kind is Kind.HISTOGRAM:
                        # The bounds as the Go client writes them: ``le="1"``, in both formats.
                        buckets = [(go_label_float(bound), count)
                                   for bound, count in cumulative(metric.buckets, value)]
                        out.add_histogram([*key, *extra], buckets, value[-1], stamps.get(key))
                    else:
                        out.add([*key, *extra], value, stamps.get(key))
            yield out

    def write(self, openmetrics: bool, legacy_only: bool = False) -> str | None:
        """The store's families written by our own writer (:mod:`.text`), many times faster than
        going through :meth:`collect`; OpenMetrics without its ``# EOF``. With ``legacy_only``, None
        when a name needs more than the classic character set (the scraper asked to keep such names)."""
        if legacy_only and not legacy_names(self.store, self.prog_label):
            return None
        return render_text(self.store, self.prog_label, self.timestamps, openmetrics=openmetrics,
                           yielding=True)


class Registry:
    """The collectors of one output (``/metrics``, the textfile), in the order they are written.

    A plain list: ``/metrics`` writes the store's collector itself and the others' families."""

    def __init__(self) -> None:
        self.collectors: list[Collector] = []

    def register(self, collector: Collector) -> None:
        """Add ``collector`` after the others."""
        self.collectors.append(collector)

    def unregister(self, collector: Collector) -> None:
        """Remove ``collector``."""
        self.collectors.remove(collector)

    def collect(self) -> Iterator[MetricFamily]:
        """Every collector's families, in order."""
        for collector in self.collectors:
            yield from collector.collect()
