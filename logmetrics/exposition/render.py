"""Rendering the store as text: Prometheus text, OpenMetrics, or JSON."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from logmetrics.defaults import FORMATS
from logmetrics.exposition.families import PROG_LABEL, cumulative
from logmetrics.exposition.text import render_text
from logmetrics.store import Kind, MetricStore

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


def registry_for(store: MetricStore, prog_label: bool = False, timestamps: bool = False) -> CollectorRegistry:
    """A private registry holding only the store's metrics (no process metrics)."""
    from prometheus_client import CollectorRegistry

    from logmetrics.exposition.collector import StoreCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, prog_label=prog_label, timestamps=timestamps))
    return registry


def render(store: MetricStore, fmt: str = "prometheus", prog_label: bool = False,
           timestamps: bool = False) -> str:
    """The store's exported metrics in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        return render_json(store, prog_label)
    if fmt == "prometheus":
        # Our own writer, byte for byte what prometheus-client writes, without its import cost.
        return render_text(store, prog_label, timestamps)
    if fmt == "openmetrics":
        return render_text(store, prog_label, timestamps, openmetrics=True) + "# EOF\n"
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def render_json(store: MetricStore, prog_label: bool = False) -> str:
    """A JSON list of metrics, one object per metric with its label sets and values.

    Unlike the Prometheus formats it shows every metric that is not hidden, text
    metrics and clashing declarations included: it is for people reading a dry-run.
    """
    out: list[dict[str, Any]] = []
    for metric in store:
        if metric.hidden:
            continue
        series = []
        for key, value in sorted(metric.snapshot()):
            labels = dict(zip(metric.labels, key, strict=True))
            if prog_label:
                labels[PROG_LABEL] = metric.program
            if metric.kind is Kind.HISTOGRAM:
                buckets = cumulative(metric.buckets, value)
                series.append({"labels": labels, "buckets": {_json_bound(b): c for b, c in buckets},
                               "sum": value[-1], "count": buckets[-1][1]})
            else:
                series.append({"labels": labels, "value": value})
        out.append({"name": metric.export_name, "kind": metric.kind.value,
                    "program": metric.program, "series": series})
    return json.dumps(out, indent=2, sort_keys=False) + "\n"


def _json_bound(bound: float) -> str:
    return "+Inf" if bound == math.inf else str(bound)
