"""The /metrics endpoint over real HTTP and HTTPS: web config, TLS, mTLS, basic auth."""

from __future__ import annotations

import base64
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt
import pytest
from prometheus_client import CollectorRegistry, Counter

from logmetrics.exposition.server import MetricsServer
from logmetrics.exposition.webconfig import WebConfigError, load_web_config

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


def registry() -> CollectorRegistry:
    reg = CollectorRegistry()
    Counter("scraped_things", "a test counter", registry=reg).inc(3)
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
