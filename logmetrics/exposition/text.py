"""The Prometheus text format (0.0.4), written straight from the store.

``/metrics`` is served through prometheus-client's registry and exposition
code. The one-shot commands (dry-run, test) only need the text: importing
prometheus-client's exposition module pulls in http.server, urllib.request,
ssl and wsgiref, about 40 ms of a dry-run's start-up, which on a 345,562-line
log is 4% of the whole run. This module writes the same bytes that
``prometheus_client.generate_latest`` writes for :class:`StoreCollector`
(a test holds the two equal on generated stores), with no import beyond the
store.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from decimal import Decimal

from logmetrics.store import Kind, Metric, MetricStore

PROG_LABEL = "prog"


def go_float(value: float) -> str:
    """A float as the Prometheus text format writes it: ``1.0``, ``+Inf``, ``NaN``, ``1e+06``."""
    value = float(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    text = repr(value)
    point = text.find(".")
    if value > 0 and point > 6:
        # Large positive values use an exponent sooner than Python's repr does.
        digits = (text[:point] + text[point + 1:]).rstrip("0")
        mantissa = (digits[0] + "." + digits[1:]).rstrip(".")
        return f"{mantissa}e+{point - 1:02d}"  # Go writes at least two exponent digits
    return text


def go_label_float(value: float) -> str:
    """A bucket bound (``le``) or quantile as the Go client writes it: ``1``, ``0.005``, ``1e+06``, ``+Inf``.

    Prometheus stores label values as strings, so ``le="1"`` and ``le="1.0"`` are
    different series: mtail and every Go exporter write Go's shortest ``%g``
    (strconv's ``'g'`` with precision -1), and queries written against them must
    keep matching. Sample values keep :func:`go_float`, which is what
    prometheus-client writes and means the same number either way.
    """
    value = float(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    # repr is the shortest text that reads back as the same float, as Go's shortest formatting.
    _sign, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + int(exponent)  # where the decimal point falls in ``digits``
    power = point - 1
    if power < -4 or power >= 6:  # Go's %g switches to an exponent outside 1e-4 <= x < 1e6
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


_LEGACY_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LEGACY_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def safe_name(name: str, metric: bool = True) -> str:
    """A name as the text format carries it: characters outside the classic set become ``_``
    (``as "connection-time"`` is exported as ``connection_time``), as client_python does."""
    if (_LEGACY_METRIC_NAME if metric else _LEGACY_LABEL_NAME).fullmatch(name) or not name:
        return name
    return "".join(c if (c.isascii() and (c.isalpha() or c == "_" or (c.isdigit() and i > 0)
                                           or (metric and c == ":"))) else "_"
                   for i, c in enumerate(name))


def _escape_label(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


def _labels(names: tuple[str, ...] | list[str], values: tuple[str, ...] | list[str]) -> str:
    """``{a="1",b="2"}``, names in alphabetical order (as client_python writes them)."""
    if not names:
        return ""
    pairs = sorted(zip(names, values, strict=True))
    return "{" + ",".join(f'{safe_name(n, False)}="{_escape_label(v)}"' for n, v in pairs) + "}"


def _stamp(stamps: dict, key: tuple[str, ...]) -> str:
    stamp = stamps.get(key)
    return "" if stamp is None else f" {int(float(stamp) * 1000):d}"


def _family_lines(metric: Metric, name: str) -> Iterator[str]:
    kind = "gauge" if metric.kind in (Kind.GAUGE, Kind.TIMER) else metric.kind.value
    doc = _escape_help(f"{metric.kind.value} {metric.name} defined in {metric.program}")
    yield f"# HELP {safe_name(name)} {doc}\n"
    yield f"# TYPE {safe_name(name)} {kind}\n"


def _sample_lines(metric: Metric, name: str, labels: list[str], extra: list[str],
                  timestamps: bool) -> Iterator[str]:
    stamps = dict(metric.stamps) if timestamps else {}
    name = safe_name(name)
    if metric.kind is Kind.HISTOGRAM:
        bounds = [*(go_label_float(b) for b in metric.buckets), "+Inf"]
        for key, value in sorted(metric.snapshot()):
            values = [*key, *extra]
            stamp = _stamp(stamps, key)
            running = 0
            for le, count in zip(bounds, value, strict=False):
                running += count
                yield f"{name}_bucket{_labels([*labels, 'le'], [*values, le])} {go_float(running)}{stamp}\n"
            yield f"{name}_count{_labels(labels, values)} {go_float(running)}{stamp}\n"
            yield f"{name}_sum{_labels(labels, values)} {go_float(value[-1])}{stamp}\n"
        return
    suffix = "_total" if metric.kind is Kind.COUNTER else ""
    for key, value in sorted(metric.snapshot()):
        yield f"{name}{suffix}{_labels(labels, [*key, *extra])} {go_float(value)}{_stamp(stamps, key)}\n"


def render_text(store: MetricStore, prog_label: bool = False, timestamps: bool = False) -> str:
    """The store's exported metrics in the Prometheus text format."""
    families: dict[str, tuple[Metric, list[str], list[str]]] = {}
    order: list[str] = []
    for metric in store:
        if metric.hidden or metric.kind is Kind.TEXT:
            continue
        key = metric.export_name
        # A counter's family drops "_total" and its samples add it back, as client_python does.
        name = key.removesuffix("_total") if metric.kind is Kind.COUNTER else key
        labels = [*metric.labels, *([PROG_LABEL] if prog_label else [])]
        found = families.get(key)
        if found is None:
            title = name + "_total" if metric.kind is Kind.COUNTER else name
            families[key] = (metric, ["".join(_family_lines(metric, title))], labels)
            order.append(key)
        elif found[0].kind is not metric.kind or found[0].labels != metric.labels:
            continue  # reported at load time; the first declaration wins
        _first, parts, labels = families[key]
        extra = [metric.program] if prog_label else []
        parts.extend(_sample_lines(metric, name, labels, extra, timestamps))
    return "".join("".join(families[name][1]) for name in order)
