"""The Prometheus text format (0.0.4) and OpenMetrics 1.0, written straight from the store.

This writer serves the store's part of ``/metrics`` (in both formats) and the
one-shot commands (dry-run, test), which then need not import
prometheus-client's exposition module (http.server, urllib.request, ssl and
wsgiref: about 40 ms of a dry-run's start-up). It writes the same bytes that
``prometheus_client``'s writers write for :class:`StoreCollector` (tests hold
them equal on generated stores), several times faster: a scrape of 100,000
series is rendered on every scrape interval. Which metrics, families, help
texts and buckets are written is decided in :mod:`.families`, for every writer.

:func:`write_families` writes other collectors' families (logmetrics' own
metrics) by the same rules, so that ``/metrics`` and the textfile need no
other writer.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from logmetrics.exposition.families import (
    MetricFamily,
    base_name,
    cumulative,
    families,
    help_text,
    sample_name,
    type_name,
)
from logmetrics.store import Kind, Metric, MetricStore

#: How a scraper asks names beyond the classic character set to be written (``escaping=`` in
#: its Accept header). Under the first three, classic names are written unchanged.
UNDERSCORES = "underscores"
ALLOWUTF8 = "allow-utf-8"
VALUES = "values"
DOTS = "dots"
ESCAPINGS = (UNDERSCORES, ALLOWUTF8, VALUES, DOTS)


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
    from decimal import Decimal  # here, not at start: its import is some 5 ms a daemon need not wait for

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


def legacy_names(store: MetricStore, prog_label: bool = False) -> bool:
    """Whether every exported name and label name is within the classic character set
    (so that every escaping scheme a scraper may ask for writes them unchanged)."""
    for family in families(store, prog_label):
        if not _LEGACY_METRIC_NAME.fullmatch(sample_name(family.first)):
            return False
        if not all(_LEGACY_LABEL_NAME.fullmatch(name) for name in family.labels):
            return False
    return True


def _escape_label(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def _escape_help(text: str, openmetrics: bool = False) -> str:
    text = text.replace("\\", r"\\").replace("\n", r"\n")
    return text.replace('"', r"\"") if openmetrics else text  # OpenMetrics escapes quotes in HELP too


def _labels(names: tuple[str, ...] | list[str], values: tuple[str, ...] | list[str]) -> str:
    """``{a="1",b="2"}``, names in alphabetical order (as client_python writes them)."""
    if not names:
        return ""
    pairs = sorted(zip(names, values, strict=True))
    return "{" + ",".join(f'{safe_name(n, False)}="{_escape_label(v)}"' for n, v in pairs) + "}"


def _sample_value(value: Any) -> str:
    """:func:`go_float`, with the common case of a small integer counter first (most samples)."""
    if type(value) is int and -_EXACT < value < 1_000_000:
        return f"{value}.0"
    return go_float(value)


#: Integers below this in magnitude are written by repr(float(n)) as "n.0".
_EXACT = 10**15


def _template(name: str, labels: list[str], count: int, fixed: list[str]) -> str | None:
    """A ``str.format`` template writing a sample's name and labels: ``{0}``, ``{1}``... are the
    ``count`` label values of a series (escaped), ``fixed`` the values of the labels after them
    (the program's name, a bucket's ``le``). None when label names repeat (sorted by value then)."""
    if len(set(labels)) != len(labels):
        return None
    if not labels:
        return name
    slots = [f"{{{i}}}" for i in range(count)] + [
        _escape_label(v).replace("{", "{{").replace("}", "}}") for v in fixed]
    pairs = sorted(zip(labels, slots, strict=True))
    return name + "{{" + ",".join(f'{safe_name(n, False)}="{slot}"' for n, slot in pairs) + "}}"


def _stamp_text(stamp: Any, openmetrics: bool) -> str:
    """A sample's timestamp: milliseconds in the text format, the seconds as given in OpenMetrics."""
    if stamp is None:
        return ""
    return f" {stamp}" if openmetrics else f" {int(float(stamp) * 1000):d}"


def _family_lines(metric: Metric, openmetrics: bool = False) -> str:
    if openmetrics:  # the family's name (a counter's without _total), HELP first
        name = safe_name(base_name(metric))
        return f"# HELP {name} {_escape_help(help_text(metric), True)}\n# TYPE {name} {type_name(metric)}\n"
    name = safe_name(sample_name(metric))
    return f"# HELP {name} {_escape_help(help_text(metric))}\n# TYPE {name} {type_name(metric)}\n"


def sample_lines(metric: Metric, labels: list[str], extra: list[str], timestamps: bool,
                 openmetrics: bool = False) -> Iterator[str]:
    """The sample lines of one metric, ``labels`` naming its label values then ``extra``.

    A hundred thousand series are written on every scrape, so the work that does not
    depend on the series (sorting label names, escaping the program's name) is done
    once per metric, in a template."""
    stamps = dict(metric.stamps) if timestamps else {}
    name = safe_name(sample_name(metric))
    count = len(labels) - len(extra)
    escape = _escape_label
    if metric.kind is Kind.HISTOGRAM:
        bounds = [*metric.buckets, math.inf]
        buckets = [_template(f"{name}_bucket", [*labels, "le"], count, [*extra, go_label_float(b)])
                   for b in bounds]
        totals = [_template(f"{name}_{part}", labels, count, extra) for part in ("count", "sum")]
        for key, value in sorted(metric.snapshot()):
            values = [escape(v) for v in key]
            stamp = _stamp_text(stamps.get(key), openmetrics) if stamps else ""
            for i, (bound, running) in enumerate(cumulative(metric.buckets, value)):
                template = buckets[i]
                head = (template.format(*values) if template is not None else
                        f"{name}_bucket{_labels([*labels, 'le'], [*key, *extra, go_label_float(bound)])}")
                yield f"{head} {_sample_value(running)}{stamp}\n"
            for suffix, template, number in (("_count", totals[0], running), ("_sum", totals[1], value[-1])):
                head = (template.format(*values) if template is not None else
                        f"{name}{suffix}{_labels(labels, [*key, *extra])}")
                yield f"{head} {_sample_value(number)}{stamp}\n"
        return
    template = _template(name, labels, count, extra)
    if template is None:
        for key, value in sorted(metric.snapshot()):
            stamp = _stamp_text(stamps.get(key), openmetrics) if stamps else ""
            yield f"{name}{_labels(labels, [*key, *extra])} {go_float(value)}{stamp}\n"
        return
    form = template.format
    if not stamps:
        if count == 1:
            for (label,), value in sorted(metric.snapshot()):
                yield f"{form(escape(label))} {_sample_value(value)}\n"
        else:
            for key, value in sorted(metric.snapshot()):
                yield f"{form(*map(escape, key))} {_sample_value(value)}\n"
        return
    for key, value in sorted(metric.snapshot()):
        yield f"{form(*map(escape, key))} {_sample_value(value)}{_stamp_text(stamps.get(key), openmetrics)}\n"


#: Lines written between two pauses of a yielding render (see render_text).
YIELD_EVERY = 1000


def render_text(store: MetricStore, prog_label: bool = False, timestamps: bool = False,
                openmetrics: bool = False, yielding: bool = False) -> str:
    """The store's exported metrics in the Prometheus text format, or as OpenMetrics 1.0
    without the closing ``# EOF`` (the caller may add other collectors' families first).

    ``yielding`` is for a render on a thread beside line processing: every
    :data:`YIELD_EVERY` lines it lets go of the interpreter lock for a moment.
    Otherwise the thread processing lines, which lets go of the lock at each read,
    waits up to the interpreter's switch interval (5 ms) to get it back, again
    and again, for as long as the render runs."""
    parts: list[str] = []
    for family in families(store, prog_label):
        parts.append(_family_lines(family.first, openmetrics))
        for metric in family.metrics:
            lines = sample_lines(metric, family.labels, family.extra_values(metric), timestamps, openmetrics)
            if not yielding:
                parts.extend(lines)
                continue
            while True:
                before = len(parts)
                parts.extend(islice(lines, YIELD_EVERY))
                if len(parts) - before < YIELD_EVERY:
                    break
                time.sleep(0)
    return "".join(parts)


def write_families(found: Iterable[MetricFamily], openmetrics: bool = False,
                   escaping: str = UNDERSCORES) -> str | None:
    """Families in the Prometheus text format, or as OpenMetrics without its ``# EOF``, as
    prometheus-client writes them.

    None when a name would need another escaping than replacing characters by ``_`` (a name
    beyond the classic character set under ``allow-utf-8`` or ``values``, any name under ``dots``):
    those rare scrapes are left to prometheus-client (see render.py). A value that is not a
    number raises ValueError (or TypeError, OverflowError)."""
    parts: list[str] = []
    for family in found:
        if escaping != UNDERSCORES and (escaping not in (ALLOWUTF8, VALUES) or not _classic(family)):
            return None
        counter = family.type == "counter"
        name = safe_name(family.name if openmetrics or not counter else family.name + "_total")
        parts.append(f"# HELP {name} {_escape_help(family.documentation, openmetrics)}\n"
                     f"# TYPE {name} {family.type}\n")
        for sample in family.samples:
            labels = (_labels(list(sample.labels), list(sample.labels.values()))
                      if sample.labels else "")
            # A ``:`` is kept in OpenMetrics sample names too, as render_text keeps it (and the
            # format wants); prometheus-client alone writes it as ``_`` there.
            parts.append(f"{safe_name(sample.name)}{labels} {go_float(sample.value)}"
                         f"{_stamp_text(sample.timestamp, openmetrics)}\n")
    return "".join(parts)


def _classic(family: MetricFamily) -> bool:
    """Whether every name of ``family`` is within the classic character set (no ``:`` either)."""
    names = [family.name, *(s.name for s in family.samples), *(n for s in family.samples for n in s.labels)]
    return all(_LEGACY_LABEL_NAME.fullmatch(name) for name in names)
