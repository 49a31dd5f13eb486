"""``/json``: the metric values in the shape mtail's ``/json`` gives them.

A list of metrics, each with ``Name``, ``Program``, ``Kind`` (1 counter,
2 gauge, 3 timer, 4 text, 5 histogram), ``Type`` (0 int, 1 float, 2 string,
3 buckets), ``Keys`` and ``LabelValues`` (``Labels`` and a ``Value`` datum),
and a histogram's ``Buckets`` ranges; so tools written against mtail's
endpoint read it unchanged. A datum's ``Time`` (nanoseconds since the epoch)
is given where logmetrics knows it: the log line's own time of the last
update (``strptime``/``settime``), or the last update of an expiring series.
"""

from __future__ import annotations

import json
import math
from typing import Any

from logmetrics.store import Kind, Metric, MetricStore

_KIND = {Kind.COUNTER: 1, Kind.GAUGE: 2, Kind.TIMER: 3, Kind.TEXT: 4, Kind.HISTOGRAM: 5}


def _bound(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:g}"


def _number(value: float) -> float | str:
    """JSON has no infinities or NaN: those are written as Go's strings."""
    if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
        return "NaN" if math.isnan(value) else _bound(value)
    return value


def _metric(metric: Metric) -> dict[str, Any]:
    out: dict[str, Any] = {"Name": metric.export_name, "Program": metric.program, "Kind": _KIND[metric.kind]}
    items = metric.snapshot()
    if metric.kind is Kind.HISTOGRAM:
        out["Type"] = 3
    elif metric.kind is Kind.TEXT:
        out["Type"] = 2
    else:
        out["Type"] = 1 if any(isinstance(v, float) for _, v in items) else 0
    if metric.hidden:
        out["Hidden"] = True
    if metric.labels:
        out["Keys"] = list(metric.labels)
    stamps, updated = dict(metric.stamps), dict(metric.updated)
    values = []
    for key, value in items:
        datum: dict[str, Any]
        if metric.kind is Kind.HISTOGRAM:
            bounds = [*metric.buckets, math.inf]
            datum = {"Buckets": {_bound(b): c for b, c in zip(bounds, value, strict=False)},
                     "Count": sum(value[:-1]), "Sum": _number(value[-1])}
        else:
            datum = {"Value": _number(value)}
        when = stamps.get(key, updated.get(key))
        if when is not None:
            datum["Time"] = int(when * 1e9)
        entry: dict[str, Any] = {"Labels": list(key)} if key else {}
        entry["Value"] = datum
        values.append(entry)
    if values:
        out["LabelValues"] = values
    if metric.kind is Kind.HISTOGRAM:
        lows = [0.0, *metric.buckets]
        out["Buckets"] = [{"Min": _bound(lo), "Max": _bound(hi)}
                          for lo, hi in zip(lows, [*metric.buckets, math.inf], strict=True)]
    if metric.limit is not None:
        out["Limit"] = metric.limit
    return out


def render_mtail_json(store: MetricStore) -> str:
    """Every metric of every program, as mtail's ``/json`` writes it."""
    return json.dumps([_metric(m) for m in store], indent=2) + "\n"
