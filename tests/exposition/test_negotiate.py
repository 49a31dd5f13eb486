"""The format /metrics answers in: chosen from the Accept header as prometheus-client chooses it, and
written as it writes it, whatever escaping of names the scraper asks for."""

from __future__ import annotations

import pytest
from prometheus_client.exposition import choose_encoder

from logmetrics.exposition.collector import Registry, StoreCollector
from logmetrics.exposition.families import gauge
from logmetrics.exposition.render import gzip_accepted, negotiate, write_registry
from logmetrics.store import Kind, Metric, MetricStore
from tests.exposition.reference import ReferenceCollector
from tests.helpers import Fixed

ACCEPTS = [
    "", "*/*", "text/plain", "text/plain;version=0.0.4", "text/plain; version=1.0.0",
    "text/plain;version=1.0.0;escaping=allow-utf-8", "text/plain;version=1.0.0;escaping=dots",
    "text/plain;version=1.0.0;escaping=nonsense", "text/plain;escaping=values",
    "application/openmetrics-text", "application/openmetrics-text; version=1.0.0",
    "application/openmetrics-text;version=0.0.1",
    "application/openmetrics-text;version=2.0.0;escaping=values",
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,text/plain;q=0.2",
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,"
    "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=underscores;q=0.4",
    "application/openmetrics-text;version=0.0.1,text/plain;version=0.0.4",
]


@pytest.mark.parametrize("accept", ACCEPTS)
def test_the_content_type_prometheus_client_would_answer(accept):
    assert negotiate(accept).content_type == choose_encoder(accept)[1]


@pytest.mark.parametrize(("header", "accepted"), [
    ("gzip", True), ("deflate, GZIP;q=0.5", True), ("br", False), ("", False), ("x-gzip", False)])
def test_gzip_accepted(header, accepted):
    assert gzip_accepted(header) is accepted


def _registry() -> Registry:
    """A store with names beyond the classic character set, and a family of our own."""
    store = MetricStore()
    dashed = Metric(name="connection-time", export_name="connection-time", kind=Kind.GAUGE, labels=("a.b",),
                    program="web.mtail")
    dashed.values[("x",)] = 1.5
    plain = Metric(name="hits_total", export_name="hits_total", kind=Kind.COUNTER, labels=("path",),
                   program="web.mtail")
    plain.values[("/",)] = 3
    store.set_program("web.mtail", [dashed, plain])
    own = gauge("logmetrics_own", "ours")
    own.add([], 1)
    registry = Registry()
    registry.register(StoreCollector(store, prog_label=True))
    registry.register(Fixed(own))
    return registry


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("names", [None, {"hits_total", "connection-time", "logmetrics_own"}])
def test_every_escaping_written_as_prometheus_client_writes_it(accept, names):
    """The common cases by our writer, the rare ones (UTF-8 names kept, dots) by prometheus-client."""
    registry = _registry()
    store = next(c for c in registry.collectors if isinstance(c, StoreCollector))

    class Reference:
        def collect(self):
            yield from ReferenceCollector(store.store, prog_label=True).collect()
            yield from registry.collectors[1].collect()

    class Restricted:
        def collect(self):
            for family in Reference().collect():
                family.samples = [s for s in family.samples if names is None or s.name in names]
                if family.samples:
                    yield family

    encoder, _ = choose_encoder(accept)
    expected = encoder(Restricted())
    written = write_registry(registry, negotiate(accept), names)
    assert written == expected


def test_classic_names_are_kept_under_the_values_escaping():
    """One known difference: in OpenMetrics with ``escaping=values``, prometheus-client escapes a
    classic sample name too (``U__logmetrics__own``) though its HELP and TYPE lines keep it; the
    scheme keeps classic names, and so do we (everywhere, as before in the store's part)."""
    registry = Registry()
    own = gauge("logmetrics_own", "ours")
    own.add([], 1)
    registry.register(Fixed(own))
    accept = "application/openmetrics-text;version=1.0.0;escaping=values"
    assert write_registry(registry, negotiate(accept)) == (
        b"# HELP logmetrics_own ours\n# TYPE logmetrics_own gauge\nlogmetrics_own 1.0\n# EOF\n")
    assert b"\nU__logmetrics__own 1.0\n" in choose_encoder(accept)[0](registry)
