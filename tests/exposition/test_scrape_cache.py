"""/metrics bodies: our writer beside prometheus-client's, gzip, one render shared, reuse bounded."""

from __future__ import annotations

import gzip
import threading
import urllib.request

import pytest
from prometheus_client import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from logmetrics.exposition.cache import RenderCache
from logmetrics.exposition.collector import Registry, StoreCollector
from logmetrics.exposition.families import gauge
from logmetrics.exposition.server import MetricsServer
from logmetrics.store import Kind, Metric, MetricStore
from tests.exposition.reference import ReferenceCollector

TEXT = "text/plain"
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
#: What Prometheus 3 sends by default (names kept as they are).
OPENMETRICS_UTF8 = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,text/plain;q=0.2"


class FrozenClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Own:
    """A collector of the daemon's own kind, counting its renders."""

    def __init__(self, hold: threading.Event | None = None) -> None:
        self.calls = 0
        self.hold = hold
        self.entered = threading.Event()

    def collect(self):
        self.calls += 1
        self.entered.set()
        if self.hold is not None:
            self.hold.wait(30)
        family = gauge("logmetrics_own", "the daemon's own gauge")
        family.add([], 1)
        yield family


def make_store() -> tuple[MetricStore, Metric]:
    requests = Metric(name="requests_total", export_name="requests_total", kind=Kind.COUNTER,
                      labels=("path", "code"), program="web.mtail")
    for i in range(50):
        requests.values[(f'/item/{i}"\\', str(200 + i % 3))] = i
    requests.stamps[("/item/1\"\\", "201")] = 1_700_000_000.25
    latency = Metric(name="latency", export_name="latency", kind=Kind.HISTOGRAM, labels=("path",),
                     program="web.mtail", buckets=(0.1, 1.0))
    latency.values[("/",)] = [1, 2, 3, 4.5]
    store = MetricStore()
    store.set_program("web.mtail", [requests, latency])
    return store, requests


def serve(store: MetricStore, *others, cache: RenderCache | None = None, timestamps: bool = True):
    registry = Registry()
    registry.register(StoreCollector(store, prog_label=True, timestamps=timestamps))
    for other in others:
        registry.register(other)
    server = MetricsServer(registry, "127.0.0.1:0", cache=cache)
    server.start()
    return server, registry


def get(server: MetricsServer, accept: str, encoding: str | None = None, query: str = ""):
    headers = {"Accept": accept, **({"Accept-Encoding": encoding} if encoding else {})}
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}/metrics{query}", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers, response.read()


class _Plain:
    """The same collectors for prometheus-client's writers, the store's built by prometheus-client."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def collect(self):
        for collector in self.registry.collectors:
            if isinstance(collector, StoreCollector):
                collector = ReferenceCollector(collector.store, collector.prog_label, collector.timestamps)
            yield from collector.collect()


@pytest.mark.parametrize("accept", [TEXT, OPENMETRICS, OPENMETRICS_UTF8])
def test_the_same_bytes_as_prometheus_client_writes_in_each_format(accept):
    store, _ = make_store()
    server, registry = serve(store, Own(), cache=RenderCache(reuse_factor=0))
    try:
        headers, body = get(server, accept)
    finally:
        server.stop()
    # The store's families, then the others (the server's own last), as the registry lists them.
    expected = (generate_latest if accept == TEXT else generate_openmetrics)(_Plain(registry)).decode()
    text = body.decode()
    assert text == expected
    assert 'requests_total{code="201",path="/item/1\\"\\\\",prog="web.mtail"} 1.0' in text
    assert 'latency_bucket{le="1",path="/",prog="web.mtail"} 3.0' in text
    assert "logmetrics_own 1.0" in text and "logmetrics_http_connections_dropped" in text
    if accept == TEXT:
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert "1700000000250" in text and "# EOF" not in text
    else:
        assert headers["Content-Type"].startswith("application/openmetrics-text")
        assert " 1700000000.25\n" in text and text.endswith("# EOF\n") and text.count("# EOF") == 1


@pytest.mark.parametrize("accept", [TEXT, OPENMETRICS])
def test_gzip_is_served_when_asked_and_decodes_to_the_same_text(accept):
    store, _ = make_store()
    server, _ = serve(store, Own(), cache=RenderCache(clock=FrozenClock()))
    try:
        plain_headers, plain = get(server, accept)
        headers, body = get(server, accept, "gzip, deflate")
        again_headers, again = get(server, accept, "br;q=1.0, gzip;q=0.8")
    finally:
        server.stop()
    assert "Content-Encoding" not in plain_headers
    assert headers["Content-Encoding"] == "gzip" == again_headers["Content-Encoding"]
    assert gzip.decompress(body) == plain and len(body) < len(plain)
    assert again == body  # compressed once, served again
    assert int(headers["Content-Length"]) == len(body)


def test_concurrent_scrapers_share_one_render():
    store, _ = make_store()
    hold = threading.Event()
    own = Own(hold)
    server, _ = serve(store, own, cache=RenderCache(clock=FrozenClock()))
    bodies: list[bytes] = []

    def scrape() -> None:
        bodies.append(get(server, TEXT)[1])

    threads = [threading.Thread(target=scrape) for _ in range(5)]
    try:
        threads[0].start()
        assert own.entered.wait(30)  # the first scrape is rendering, held inside a collector
        for thread in threads[1:]:
            thread.start()
        loop = server._loop
        while loop.open < len(threads) or loop.pending:  # every request handed to a worker
            threading.Event().wait(0.01)
        hold.set()
        for thread in threads:
            thread.join(30)
    finally:
        hold.set()
        server.stop()
    assert len(bodies) == len(threads)
    assert own.calls == 1
    assert len(set(bodies)) == 1


def test_a_change_is_served_once_the_reuse_interval_has_passed():
    store, requests = make_store()
    clock = FrozenClock()
    cache = RenderCache(clock=clock)
    server, _ = serve(store, cache=cache, timestamps=False)
    try:
        for accept in (TEXT, OPENMETRICS):
            _, first = get(server, accept)
            line = 'requests_total{code="202",path="/item/2\\"\\\\",prog="web.mtail"}'
            assert f"{line} 2.0\n".encode() in first
            requests.values[('/item/2"\\', "202")] = 7
            _, reused = get(server, accept)
            assert reused == first  # within the interval: the same body, not rendered again
            clock.now += 1.0  # the interval (as long as the last render took) has passed
            _, fresh = get(server, accept)
            assert f"{line} 7.0\n".encode() in fresh
            requests.values[('/item/2"\\', "202")] = 2
            clock.now += 1.0
        assert cache.renders == 4
    finally:
        server.stop()


def test_the_reuse_interval_is_as_long_as_the_last_render_took():
    clock = FrozenClock()
    cache = RenderCache(clock=clock)

    def slow_render() -> bytes:
        clock.now += 0.4  # this render "takes" 0.4 s
        return b"body %d" % cache.renders

    first = cache.get("text", slow_render)
    clock.now += 0.3
    assert cache.get("text", slow_render) is first
    clock.now += 0.2
    assert cache.get("text", slow_render).body == b"body 1"
    assert cache.get("openmetrics", slow_render).body == b"body 2"  # one body per format


def test_a_filtered_scrape_is_rendered_for_itself():
    store, _ = make_store()
    server, _ = serve(store, Own(), cache=RenderCache(clock=FrozenClock()))
    try:
        _, whole = get(server, TEXT)
        _, only = get(server, TEXT, query="?name[]=latency_sum&name[]=logmetrics_own")
        _, whole_again = get(server, TEXT)
    finally:
        server.stop()
    assert only.decode().splitlines() == [
        "# HELP latency histogram latency defined in web.mtail", "# TYPE latency histogram",
        'latency_sum{path="/",prog="web.mtail"} 4.5',
        "# HELP logmetrics_own the daemon's own gauge", "# TYPE logmetrics_own gauge", "logmetrics_own 1.0"]
    assert whole_again == whole


def test_a_bad_value_in_the_store_never_fails_the_scrape(caplog):
    store, requests = make_store()
    requests.values[("/broken", "500")] = "not a number"  # e.g. restored from a damaged checkpoint
    server, _ = serve(store, cache=RenderCache(reuse_factor=0))
    try:
        for accept in (TEXT, OPENMETRICS):
            _, body = get(server, accept)
            assert b"/broken" not in body and b'path="/item/3' in body
    finally:
        server.stop()
    assert "left out or written without their timestamp" in caplog.text
