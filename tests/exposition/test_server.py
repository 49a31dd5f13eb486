"""The /metrics endpoint over real HTTP and HTTPS: web config, TLS, mTLS, basic auth, hostile clients."""

from __future__ import annotations

import base64
import logging
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt
import pytest

from logmetrics.exposition import server as server_module
from logmetrics.exposition.collector import Registry
from logmetrics.exposition.families import counter, gauge
from logmetrics.exposition.server import HttpLimits, MetricsServer
from logmetrics.exposition.webconfig import WebConfig, WebConfigError, load_web_config
from tests.helpers import Fixed

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """A throwaway CA, a server certificate for 127.0.0.1, and a client certificate."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "2", "-subj", "/CN=test-ca", cwd=d)
    for name, san in (("server", "IP:127.0.0.1"), ("client", "DNS:prometheus.example")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={name}", cwd=d)
        (d / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    return d


class Counters:
    """Counters without labels, of the given values."""

    def __init__(self, **values: float) -> None:
        self.values = values

    def collect(self):
        for name, value in self.values.items():
            family = counter(name, "a test counter")
            family.add([], value)
            yield family


def registry() -> Registry:
    reg = Registry()
    reg.register(Counters(scraped_things=3))
    return reg


def serve(config_text: str | None, pki: Path):
    path = None
    if config_text is not None:
        path = pki / f"web-{time.monotonic_ns()}.yml"
        path.write_text(config_text, encoding="utf-8")
    server = MetricsServer(registry(), "127.0.0.1:0", path)
    server.start()
    return server, path


def get(url: str, context: ssl.SSLContext | None = None, auth: tuple[str, str] | None = None):
    request = urllib.request.Request(url)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    return urllib.request.urlopen(request, timeout=5, context=context)


def client_context(pki: Path, with_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    if with_cert:
        context.load_cert_chain(pki / "client.crt", pki / "client.key")
    return context


TLS = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"


def test_plain_http_and_pages(pki):
    server, _ = serve(None, pki)
    try:
        with get(f"http://127.0.0.1:{server.port}/metrics") as r:
            assert "scraped_things_total 3.0" in r.read().decode()
        with pytest.raises(urllib.error.HTTPError) as info:
            get(f"http://127.0.0.1:{server.port}/other")
        assert info.value.code == 404
    finally:
        server.stop()


def test_https_and_plain_http_refused(pki):
    server, _ = serve(TLS + "http_server_config:\n  headers:\n    X-Frame-Options: deny\n", pki)
    try:
        with get(f"https://127.0.0.1:{server.port}/metrics", client_context(pki)) as r:
            assert "scraped_things_total 3.0" in r.read().decode()
            assert r.headers["X-Frame-Options"] == "deny"
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            get(f"http://127.0.0.1:{server.port}/metrics")
    finally:
        server.stop()


def test_basic_auth(pki):
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    server, _ = serve(TLS + f"basic_auth_users:\n  prometheus: {hashed}\n", pki)
    url = f"https://127.0.0.1:{server.port}/metrics"
    context = client_context(pki)
    try:
        with get(url, context, ("prometheus", "s3cret")) as r:
            assert r.status == 200
        for auth in (("prometheus", "wrong"), ("nobody", "s3cret"), ("prometheus", "x" * 100), None):
            with pytest.raises(urllib.error.HTTPError) as info:
                get(url, context, auth)
            assert info.value.code == 401
            assert info.value.headers["WWW-Authenticate"] == 'Basic realm="logmetrics"'
    finally:
        server.stop()


def test_mutual_tls_and_allowed_sans(pki):
    server, _ = serve(TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"
                      "  client_allowed_sans: [prometheus.example]\n", pki)
    url = f"https://127.0.0.1:{server.port}/metrics"
    try:
        with get(url, client_context(pki, with_cert=True)) as r:
            assert r.status == 200
        with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError, OSError)):
            get(url, client_context(pki))
    finally:
        server.stop()
    server, _ = serve(TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"
                      "  client_allowed_sans: [someone.else]\n", pki)
    try:
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            get(f"https://127.0.0.1:{server.port}/metrics", client_context(pki, with_cert=True))
    finally:
        server.stop()


def test_an_idle_connection_does_not_block_other_scrapes(pki):
    server, _ = serve(TLS, pki)
    idle = socket.create_connection(("127.0.0.1", server.port))  # never sends a ClientHello
    try:
        started = time.monotonic()
        with get(f"https://127.0.0.1:{server.port}/metrics", client_context(pki)) as r:
            assert r.status == 200
        assert time.monotonic() - started < 3
    finally:
        idle.close()
        server.stop()


def test_config_is_re_read_when_it_changes(pki):
    first = bcrypt.hashpw(b"one", bcrypt.gensalt(rounds=4)).decode()
    second = bcrypt.hashpw(b"two", bcrypt.gensalt(rounds=4)).decode()
    server, path = serve(f"basic_auth_users:\n  p: {first}\n", pki)
    url = f"http://127.0.0.1:{server.port}/metrics"
    try:
        with get(url, auth=("p", "one")) as r:
            assert r.status == 200
        time.sleep(0.01)
        path.write_text(f"basic_auth_users:\n  p: {second}\n", encoding="utf-8")
        with pytest.raises(urllib.error.HTTPError):
            get(url, auth=("p", "one"))
        with get(url, auth=("p", "two")) as r:
            assert r.status == 200
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  cert_fil: x\n",
         "unknown key 'cert_fil'"),
        ("basic_auth: {}\n", "unknown key 'basic_auth'"),
        (TLS + "  client_auth_type: RequireAnyClientCert\n", "cannot ask for a client certificate"),
        (TLS + "  client_auth_type: RequireAndVerifyClientCert\n", "needs client_ca_file"),
        (TLS + "  min_version: TLS9\n", "unknown TLS version"),
        ("basic_auth_users:\n  p: plaintext\n", "must be a bcrypt hash"),
        ("tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n", "cannot load"),
    ],
)
def test_bad_web_configs_are_clear_errors(pki, text, message):
    path = pki / "bad.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WebConfigError, match=message):
        load_web_config(path)


# --- hardening: probes, filtering, bad series, config re-reads, slow and dropped clients ---------


def closed_by_server(sock: socket.socket, timeout: float = 5.0) -> bool:
    """True if the server closed the connection within ``timeout`` (FIN or, with unread data, RST)."""
    sock.settimeout(timeout)
    try:
        return sock.recv(100) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def status_of(url: str, context: ssl.SSLContext | None = None, auth: tuple[str, str] | None = None) -> int:
    try:
        with get(url, context, auth) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_probes_answer_without_credentials_and_health_can_fail(pki):
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    path = pki / f"web-{time.monotonic_ns()}.yml"
    path.write_text(f"basic_auth_users:\n  prometheus: {hashed}\n", encoding="utf-8")
    trouble: list[str] = []
    server = MetricsServer(registry(), "127.0.0.1:0", path, health=lambda: trouble[0] if trouble else None)
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert status_of(f"{base}/-/healthy") == 200
        assert status_of(f"{base}/-/ready") == 200
        assert status_of(f"{base}/metrics") == 401
        assert status_of(f"{base}/") == 401
        trouble.append("the main loop has not turned for 40 s")
        with pytest.raises(urllib.error.HTTPError) as info:
            get(f"{base}/-/healthy")
        assert info.value.code == 503
        assert "has not turned" in info.value.read().decode()
        assert status_of(f"{base}/-/ready") == 200
    finally:
        server.stop()


def test_name_filter_selects_series_like_prometheus_client(pki):
    reg = registry()
    reg.register(Counters(other_things=5))
    server = MetricsServer(reg, "127.0.0.1:0")
    server.start()
    base = f"http://127.0.0.1:{server.port}/metrics"
    try:
        with get(f"{base}?name[]=scraped_things_total") as r:
            text = r.read().decode()
        assert "scraped_things_total 3.0" in text
        assert "other_things" not in text
        with get(f"{base}?name[]=scraped_things_total&name[]=other_things_total") as r:
            text = r.read().decode()
        assert "scraped_things_total 3.0" in text and "other_things_total 5.0" in text
        with get(f"{base}?name[]=nothing_of_that_name") as r:
            assert r.read() == b""
    finally:
        server.stop()


class _BadSeries:
    """A collector with one good sample and three that cannot be written as they are."""

    def collect(self):
        family = gauge("line_time_gauge", "gauges with line times", ["k"])
        family.add(["good"], 1, timestamp=1_700_000_000)
        family.add(["infinite"], 2, timestamp=float("inf"))
        family.add(["nan"], 3, timestamp=float("nan"))
        yield family
        text = gauge("not_a_number", "a value that is not one")
        text.add([], "oops")  # e.g. restored from a damaged checkpoint
        yield text


@pytest.mark.parametrize("accept", ["text/plain", "application/openmetrics-text; version=1.0.0"])
def test_one_bad_series_never_fails_the_scrape(pki, caplog, accept):
    reg = registry()
    reg.register(_BadSeries())
    server = MetricsServer(reg, "127.0.0.1:0")
    server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        request = urllib.request.Request(url, headers={"Accept": accept})
        with urllib.request.urlopen(request, timeout=5) as r:
            assert r.status == 200
            text = r.read().decode()
    finally:
        server.stop()
    assert "scraped_things_total 3.0" in text
    good = next(line for line in text.splitlines() if 'k="good"' in line)
    assert good.split()[-1] in ("1700000000000", "1700000000")  # text: ms; OpenMetrics: s
    for name in ("infinite", "nan"):
        line = next(line for line in text.splitlines() if f'k="{name}"' in line)
        assert len(line.split()) == 2  # written, without its timestamp
    assert "oops" not in text
    assert "left out or written without their timestamp" in caplog.text


def test_idle_and_slow_clients_are_dropped_and_do_not_hold_threads(pki, monkeypatch):
    monkeypatch.setattr(server_module, "HEADER_TIMEOUT", 1.0)
    for config in (None, TLS):
        server, _ = serve(config, pki)
        scheme, context = ("https", client_context(pki)) if config else ("http", None)
        try:
            idle = socket.create_connection(("127.0.0.1", server.port))
            slow = socket.create_connection(("127.0.0.1", server.port))
            if config:  # a finished handshake, then nothing
                slow = client_context(pki).wrap_socket(slow, server_hostname="127.0.0.1")
            slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
            threads = threading.active_count()
            for sock in (idle, slow):
                assert closed_by_server(sock, timeout=9)
                sock.close()
            assert threading.active_count() <= threads
            with get(f"{scheme}://127.0.0.1:{server.port}/metrics", context) as r:
                text = r.read().decode()
            assert 'logmetrics_http_connections_dropped_total{reason="header_timeout"} 2.0' in text
        finally:
            server.stop()


def test_connection_bound_drops_the_oldest_incomplete_connection(pki):
    reg = registry()
    server = MetricsServer(reg, "127.0.0.1:0", limits=HttpLimits(max_connections=50))
    server.start()
    socks = []
    try:
        for _ in range(200):
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(b"GET /metrics HTTP/1.1\r\n")
            socks.append(sock)
        with get(f"http://127.0.0.1:{server.port}/metrics") as r:
            text = r.read().decode()
        assert "scraped_things_total 3.0" in text
        dropped = next(line for line in text.splitlines() if 'reason="evicted"' in line)
        assert float(dropped.split()[-1]) >= 150
        # The newest incomplete connections are still open; the oldest were closed.
        assert closed_by_server(socks[0])
    finally:
        for sock in socks:
            sock.close()
        server.stop()


def test_a_tls_client_that_drops_mid_request_leaves_one_quiet_line(pki, caplog, capfd):
    caplog.set_level(logging.DEBUG, logger="logmetrics")
    wide = gauge("wide", "many series", ["n"])
    for n in range(20000):
        wide.add([str(n)], n)
    big = Registry()
    big.register(Fixed(wide))
    path = pki / f"web-{time.monotonic_ns()}.yml"
    path.write_text(TLS, encoding="utf-8")
    server = MetricsServer(big, "127.0.0.1:0", path)
    server.start()
    try:
        for request in (b"GET /metr", b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"):
            raw = socket.create_connection(("127.0.0.1", server.port))
            tls = client_context(pki).wrap_socket(raw, server_hostname="127.0.0.1")
            tls.sendall(request)
            # Gone without reading: mid-request, or while the (large) answer is written.
            tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            tls.close()
        time.sleep(1.0)
        with get(f"https://127.0.0.1:{server.port}/-/healthy", client_context(pki)) as r:
            assert r.status == 200
    finally:
        server.stop()
    assert "Traceback" not in capfd.readouterr().err
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert all(r.exc_info is None for r in caplog.records)


@pytest.mark.parametrize(
    ("start", "rewrite"),
    [
        ("auth", ""),  # emptied
        ("auth", "# all commented out\n# basic_auth_users:\n"),
        ("auth", "basic_auth_users:\n"),  # null
        ("auth", "basic_auth_users:\n  prometheus: $2y$10$trunc"),  # half-written
        ("auth", "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"),  # auth gone
        ("tls", ""),  # a TLS config truncated to 0 bytes
        ("tls", "tls_server_config:\n  cert_file: server.crt\n"),  # half-written
        ("tls", "basic_auth_users:\n  prometheus: {hash}\n"),  # auth instead of TLS
        ("mtls", TLS),  # client certificates no longer checked
    ],
)
def test_a_re_read_never_weakens_the_web_config(pki, caplog, start, rewrite):
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    mtls = TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"
    first = {"auth": f"basic_auth_users:\n  prometheus: {hashed}\n", "tls": TLS, "mtls": mtls}[start]
    server, path = serve(first, pki)
    scheme = "http" if start == "auth" else "https"
    context = client_context(pki, with_cert=True) if start != "auth" else None
    url = f"{scheme}://127.0.0.1:{server.port}/metrics"
    auth = ("prometheus", "s3cret") if start == "auth" else None
    try:
        assert status_of(url, context, auth) == 200
        time.sleep(0.01)
        path.write_text(rewrite.replace("{hash}", hashed), encoding="utf-8")
        if start == "auth":
            assert status_of(url) == 401  # still asks for the password
        elif start == "tls":
            with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
                get(url.replace("https:", "http:"))  # no plain HTTP
        else:
            with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError, OSError)):
                get(url, client_context(pki))  # a certificate is still required
        assert status_of(url, context, auth) == 200
        with get(url, context, auth) as r:
            assert "logmetrics_web_config_reload_failing 1.0" in r.read().decode()
        assert "KEEPING THE PREVIOUS WEB CONFIG" in caplog.text
        time.sleep(0.01)
        path.write_text(first, encoding="utf-8")  # the rewrite completes: applied, no longer failing
        with get(url, context, auth) as r:
            assert "logmetrics_web_config_reload_failing 0.0" in r.read().decode()
    finally:
        server.stop()


@pytest.mark.parametrize("text", ["", "# nothing here\n", "basic_auth_users:\n", "tls_server_config:\n"])
def test_a_web_config_that_enables_nothing_is_refused_at_start(pki, text):
    path = pki / "nothing.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WebConfigError, match="empty"):
        MetricsServer(registry(), "127.0.0.1:0", path)


def test_password_checks_run_outside_any_lock_and_remember_successes(pki):
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=10))
    config = WebConfig(pki / "x.yml", users={"prometheus": hashed})
    assert not config.known_good("prometheus", "s3cret")
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(config.check_password("prometheus", "s3cret")))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 4
    assert config.known_good("prometheus", "s3cret")
    assert not config.known_good("prometheus", "wrong")
    assert not config.check_password("prometheus", "wrong")
    assert not config.known_good("nobody", "s3cret")


def raw_request(port: int, request: bytes) -> bytes:
    """Send ``request`` as it is and read the whole answer (the server closes the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_requests_are_parsed_and_answered_as_http_1_0(pki):
    server = MetricsServer(registry(), "127.0.0.1:0")
    server.start()
    try:
        answer = raw_request(server.port, b"GET /%6detrics?x=1 HTTP/1.1\r\nHost: a\r\n"
                                          b"Accept: text/plain\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 200 OK\r\n")
        assert b"\r\nConnection: close" in head and b"\r\nDate: " in head
        assert f"\r\nContent-Length: {len(body)}".encode() in head
        assert b"scraped_things_total 3.0\n" in body
        bare = raw_request(server.port, b"GET /metrics HTTP/1.0\nAccept: text/plain\n\n")  # LF alone
        assert bare.startswith(b"HTTP/1.0 200 OK\r\n") and bare.endswith(body)
        head_only = raw_request(server.port, b"HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n")
        assert head_only.startswith(b"HTTP/1.0 200 OK") and head_only.endswith(b"\r\n\r\n")
        assert f"Content-Length: {len(body)}\r\n".encode() in head_only
        for request, status in ((b"NONSENSE\r\n\r\n", b"400"), (b"GET /metrics HTTP/2.0\r\n\r\n", b"505"),
                                (b"GET /metrics FTP/1.0\r\n\r\n", b"400"),
                                (b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
                                (b"GET /metrics HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", b"431")):
            assert raw_request(server.port, request).startswith(b"HTTP/1.0 " + status), request
        with get(f"http://127.0.0.1:{server.port}/-/healthy") as r:  # and it still serves
            assert r.status == 200
    finally:
        server.stop()
