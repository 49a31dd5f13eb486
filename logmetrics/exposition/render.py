"""Rendering metrics as text: the store alone (Prometheus text, OpenMetrics, JSON), or a whole
registry as ``/metrics`` and the textfile write it, in the format a scraper asks for."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from logmetrics.defaults import FORMATS
from logmetrics.exposition.collector import Registry, StoreCollector
from logmetrics.exposition.families import PROG_LABEL, Collector, MetricFamily, Sample, cumulative
from logmetrics.exposition.text import ALLOWUTF8, DOTS, UNDERSCORES, VALUES, render_text, write_families
from logmetrics.store import Kind, MetricStore
from logmetrics.store.metric import valid_timestamp

log = logging.getLogger(__name__)

#: The content types of the text formats.
TEXT_0_0_4 = "text/plain; version=0.0.4; charset=utf-8"
TEXT_1_0_0 = "text/plain; version=1.0.0; charset=utf-8"
OPENMETRICS_1_0_0 = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@dataclass(frozen=True)
class Format:
    """What a scraper asked for: the content type answered, OpenMetrics or not, how names are
    escaped (see text.py) and the OpenMetrics version."""

    content_type: str = TEXT_0_0_4
    openmetrics: bool = False
    escaping: str = UNDERSCORES
    version: str = ""

    @property
    def key(self) -> tuple[bool, str]:
        """What the body depends on: the scrape cache keeps one body per key."""
        return self.openmetrics, self.escaping


def negotiate(accept: str) -> Format:
    """The format for an ``Accept`` header, chosen as prometheus-client chooses it: the first
    OpenMetrics (1.0.0 or later, or without a version) or ``text/plain; version=1.0.0`` (or later)
    listed, else the text format 0.0.4. An escaping scheme is honoured only with a version."""
    for accepted in (accept or "").split(","):
        parts = accepted.split(";")
        media = parts[0].strip()
        if media not in ("application/openmetrics-text", "text/plain"):
            continue
        version, escaping = _parameter(parts, "version"), _parameter(parts, "escaping")
        escaping = escaping if escaping in (ALLOWUTF8, UNDERSCORES, DOTS, VALUES) else UNDERSCORES
        if media == "application/openmetrics-text":
            if not version:
                return Format(OPENMETRICS_1_0_0, True, UNDERSCORES, "1.0.0")
            if _at_least_1(version):
                return Format(f"application/openmetrics-text; version={version}; charset=utf-8; "
                              f"escaping={escaping}", True, escaping, version)
        elif version and _at_least_1(version):
            return Format(f"{TEXT_1_0_0}; escaping={escaping}", False, escaping)
    return Format()


def _parameter(parts: list[str], name: str) -> str:
    """The value of the first ``name=`` parameter of a media range, or ""."""
    for part in parts[1:]:
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value
    return ""


def _at_least_1(version: str) -> bool:
    """Whether ``version`` is 1.0.0 or later, compared part by part as numbers where they are."""
    parts: list[int | str] = []
    for part in version.split("."):
        try:
            parts.append(int(part))
        except ValueError:
            parts.append(part)
    try:
        return tuple(parts) >= (1, 0, 0)
    except TypeError:  # e.g. "1.x": prometheus-client fails the scrape; taken as older here
        return False


def gzip_accepted(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header lists gzip."""
    return any(part.split(";")[0].strip().lower() == "gzip" for part in (accept_encoding or "").split(","))


def write_registry(registry: Registry, fmt: Format = Format(), names: set[str] | None = None) -> bytes:
    """Every collector of ``registry`` in ``fmt``, in order (OpenMetrics with its ``# EOF``), only
    the samples named in ``names`` if given. The store's collector is written straight from the
    store; the others' families by :func:`.text.write_families`. A scrape never fails for one bad
    sample: it is left out (or written without its timestamp) and a warning says so."""
    try:
        return _write(registry, fmt, names, None)
    except (ValueError, TypeError, OverflowError) as exc:
        dropped = [0]
        output = _write(registry, fmt, names, dropped)
        log.warning("a scrape met %d sample(s) it cannot write (%s: %s); they were left out or "
                    "written without their timestamp", dropped[0], type(exc).__name__, exc)
        return output


def _write(registry: Registry, fmt: Format, names: set[str] | None, dropped: list[int] | None) -> bytes:
    """The body; with ``dropped``, samples that cannot be written are left out and counted."""
    parts: list[str] = []
    for collector in registry.collectors:
        if isinstance(collector, StoreCollector) and names is None and dropped is None:
            written = collector.write(fmt.openmetrics, legacy_only=fmt.escaping != UNDERSCORES)
            if written is not None:
                parts.append(written)
                continue
        written = write_families(_families(collector, names, dropped), fmt.openmetrics, fmt.escaping)
        if written is None:  # names only prometheus-client escapes as asked: the whole body by it
            if dropped is not None:
                dropped[0] = 0
            found = [f for c in registry.collectors for f in _families(c, names, dropped)]
            return _client_written(found, fmt)
        parts.append(written)
    if fmt.openmetrics:
        parts.append("# EOF\n")
    return "".join(parts).encode("utf-8")


def _families(collector: Collector, names: set[str] | None, dropped: list[int] | None) -> list[MetricFamily]:
    """The families of ``collector``: only the samples named in ``names`` if given (as
    prometheus-client's restricted registry selects them: ``requests_total``, ``latency_bucket``),
    and with ``dropped`` only those that can be written (see :func:`_checked`)."""
    found = []
    for family in collector.collect():
        samples = family.samples
        if names is not None:
            samples = [s for s in samples if s.name in names]
            if not samples:
                continue
        if dropped is not None:
            checked = [_checked(s) for s in samples]
            dropped[0] += sum(c is not s for c, s in zip(checked, samples, strict=True))
            samples = [c for c in checked if c is not None]
        if samples is not family.samples:
            copy = MetricFamily(family.name, family.documentation, family.type, family.labels)
            copy.samples = samples
            family = copy
        found.append(family)
    return found


def _checked(sample: Sample) -> Sample | None:
    """``sample`` if it can be written, without its timestamp if only that is out of range (NaN,
    infinite, beyond year 9999), else None (a value that is not a number)."""
    if isinstance(sample.value, bool) or not isinstance(sample.value, int | float):
        return None
    if sample.timestamp is not None and not valid_timestamp(sample.timestamp):
        return sample._replace(timestamp=None)
    return sample


def _client_written(found: list[MetricFamily], fmt: Format) -> bytes:
    """A whole body written by prometheus-client: names beyond the classic character set under
    the ``allow-utf-8`` and ``values`` escapings, any name under ``dots`` (see text.write_families).
    Imported only here: its import costs about 0.1 s (http.server, urllib.request, email, ssl),
    which the daemon's start no longer pays."""
    from prometheus_client.exposition import generate_latest
    from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

    families: Any = _Families(found)
    if fmt.openmetrics:
        write_openmetrics: Callable[..., bytes] = generate_openmetrics  # not annotated in the library
        return write_openmetrics(families, fmt.escaping, fmt.version)
    return generate_latest(families, fmt.escaping)


class _Families:
    """Families as prometheus-client's writers take them."""

    def __init__(self, found: list[MetricFamily]) -> None:
        self.found = found

    def collect(self) -> Iterator[MetricFamily]:
        return iter(self.found)


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
