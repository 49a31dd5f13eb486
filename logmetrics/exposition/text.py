"""The Prometheus text format (0.0.4), written straight from the store.

``/metrics`` is served through prometheus-client's registry and exposition
code. The one-shot commands (dry-run, test) only need the text: importing
prometheus-client's exposition module pulls in http.server, urllib.request,
ssl and wsgiref, about 40 ms of a dry-run's start-up, which on a 345,562-line
log is 4% of the whole run. This module writes the same bytes that
``prometheus_client.generate_latest`` writes for :class:`StoreCollector`
(a test holds the two equal on generated stores), with no import beyond the
store; which metrics, families, help texts and buckets are written is decided
in :mod:`.families`, for every writer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from decimal import Decimal

from logmetrics.exposition.families import cumulative, families, help_text, sample_name, type_name
from logmetrics.store import Kind, Metric, MetricStore


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


def _stamp(stamps: dict[tuple[str, ...], float], key: tuple[str, ...]) -> str:
    stamp = stamps.get(key)
    return "" if stamp is None else f" {int(float(stamp) * 1000):d}"


def _family_lines(metric: Metric) -> str:
    name = safe_name(sample_name(metric))
    return f"# HELP {name} {_escape_help(help_text(metric))}\n# TYPE {name} {type_name(metric)}\n"


def sample_lines(metric: Metric, labels: list[str], extra: list[str], timestamps: bool) -> Iterator[str]:
    """The sample lines of one metric, ``labels`` naming its label values then ``extra``."""
    stamps = dict(metric.stamps) if timestamps else {}
    name = safe_name(sample_name(metric))
    if metric.kind is Kind.HISTOGRAM:
        for key, value in sorted(metric.snapshot()):
            values = [*key, *extra]
            stamp = _stamp(stamps, key)
            for bound, count in cumulative(metric.buckets, value):
                le = go_label_float(bound)
                yield f"{name}_bucket{_labels([*labels, 'le'], [*values, le])} {go_float(count)}{stamp}\n"
            yield f"{name}_count{_labels(labels, values)} {go_float(count)}{stamp}\n"
            yield f"{name}_sum{_labels(labels, values)} {go_float(value[-1])}{stamp}\n"
        return
    for key, value in sorted(metric.snapshot()):
        yield f"{name}{_labels(labels, [*key, *extra])} {go_float(value)}{_stamp(stamps, key)}\n"


def render_text(store: MetricStore, prog_label: bool = False, timestamps: bool = False) -> str:
    """The store's exported metrics in the Prometheus text format."""
    parts: list[str] = []
    for family in families(store, prog_label):
        parts.append(_family_lines(family.first))
        for metric in family.metrics:
            parts.extend(sample_lines(metric, family.labels, family.extra_values(metric), timestamps))
    return "".join(parts)
