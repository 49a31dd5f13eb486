"""The HTTP endpoint: ``/metrics`` for Prometheus, and a few plain pages.

prometheus-client renders and negotiates (Prometheus text or OpenMetrics, as
the scraper asks; gzip when accepted); this module routes requests, checks
basic auth and wraps connections in TLS as a web config file says (see
webconfig.py), and runs a threaded server on its own thread. The TLS
handshake happens in each connection's own thread, with a timeout, so that
an idle or slow client cannot stall other scrapes (prometheus-client's own
server does it in the accept loop). It binds to loopback unless told
otherwise: a sidecar is scraped from the same host or pod.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from logmetrics import __version__
from logmetrics.defaults import DEFAULT_LISTEN, DEFAULT_PORT
from logmetrics.errors import LogmetricsError
from logmetrics.exposition.webconfig import WebConfig, WebConfigError, load_web_config, peer_allowed

log = logging.getLogger(__name__)

#: Seconds a client has to finish the TLS handshake.
HANDSHAKE_TIMEOUT = 10.0

_LANDING = f"""<!doctype html>
<html><head><title>logmetrics</title></head>
<body><h1>logmetrics {__version__}</h1>
<p><a href="/metrics">Metrics</a></p></body></html>
""".encode()


def parse_listen(text: str) -> tuple[str, int]:
    """``host:port``, ``:port`` (every interface) or ``[::1]:port``."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise LogmetricsError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:{DEFAULT_PORT}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class _ConfigSource:
    """The web config, read again when its file changes (certificate rotation, new users)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._config: WebConfig | None = None
        self._lock = threading.Lock()
        if path is not None:
            self.current()  # fail at start on a bad file

    def current(self) -> WebConfig | None:
        if self.path is None:
            return None
        with self._lock:
            try:
                st = os.stat(self.path)
                stamp = (st.st_mtime_ns, st.st_size)
            except OSError:
                stamp = None
            if stamp != self._stamp or self._config is None:
                try:
                    self._config = load_web_config(self.path)
                    self._stamp = stamp
                except WebConfigError as exc:
                    if self._config is None:
                        raise
                    log.error("%s; keeping the previous web config", exc)
                    self._stamp = stamp
            return self._config


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    web: _ConfigSource

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Runs in the connection's own thread: TLS handshake here, not in the accept loop."""
        config = self.web.current()
        if config is not None and config.tls is not None:
            request.settimeout(HANDSHAKE_TIMEOUT)
            try:
                request = config.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                log.debug("TLS handshake with %s failed: %s", client_address, exc)
                return
            if not peer_allowed(request.getpeercert(), config.allowed_sans):
                log.info("client certificate of %s is not in client_allowed_sans", client_address)
                request.close()
                return
            request.settimeout(None)
        super().finish_request(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def _authorized(config: WebConfig | None, environ: dict[str, Any]) -> bool:
    if config is None or not config.users:
        return True
    header = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return config.check_password(user, password)


#: Pages served beside /metrics (the status page, the playground): given the WSGI environ of an
#: authorized request, (status, headers, body), or None for a path they do not serve.
PageHandler = Callable[[dict[str, Any]], "tuple[str, list[tuple[str, str]], bytes] | None"]


def _app(registry: CollectorRegistry, web: _ConfigSource,
         pages: PageHandler | None = None) -> Callable[..., Iterable[bytes]]:
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        config = web.current()
        extra = list(config.headers.items()) if config else []

        def respond(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, headers + extra, exc_info)

        if not _authorized(config, environ):
            respond("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="logmetrics"'),
                                         ("Content-Type", "text/plain")])
            return [b"Unauthorized\n"]
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        page = pages(environ) if pages is not None and path != "/metrics" else None
        if page is not None:
            configured = {name.lower() for name, _ in extra}  # the web config's headers win
            respond(page[0], [h for h in page[1] if h[0].lower() not in configured])
            return [b"" if method == "HEAD" else page[2]]
        if method not in ("GET", "HEAD"):
            respond("405 Method Not Allowed", [("Allow", "GET, HEAD")])
            return [b""]
        if path == "/metrics":
            return metrics(environ, respond)
        if path in ("/-/healthy", "/-/ready"):
            respond("200 OK", [("Content-Type", "text/plain")])
            return [b"OK\n"]
        if path == "/":
            respond("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [_LANDING]
        respond("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found; metrics are at /metrics\n"]

    return app


class MetricsServer:
    """Serves a registry over HTTP(S) on its own thread."""

    def __init__(self, registry: CollectorRegistry, listen: str = DEFAULT_LISTEN,
                 web_config: Path | None = None, pages: PageHandler | None = None) -> None:
        """``pages`` answers the paths other than /metrics and the health checks (see PageHandler)."""
        self.host, port = parse_listen(listen)
        web = _ConfigSource(web_config)
        server_class = _Server6 if ":" in self.host else _Server
        try:
            self._httpd = make_server(self.host, port, _app(registry, web, pages), server_class,
                                      _QuietHandler)
        except OSError as exc:
            raise LogmetricsError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
        self._httpd.web = web  # type: ignore[attr-defined]
        self.port = self._httpd.server_address[1]
        self.scheme = "https" if (web.current() and web.current().tls) else "http"  # type: ignore[union-attr]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="metrics-http", daemon=True)

    def start(self) -> None:
        self._thread.start()
        log.info("serving metrics on %s://%s:%d/metrics", self.scheme, self.host, self.port)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
