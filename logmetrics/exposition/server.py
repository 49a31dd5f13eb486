"""The HTTP endpoint: ``/metrics`` for Prometheus, and a few plain pages.

prometheus-client renders and negotiates (Prometheus text or OpenMetrics, as
the scraper asks; gzip when accepted); this module routes requests and runs
a threaded server on its own thread. It binds to loopback unless told
otherwise: a sidecar is scraped from the same host or pod.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from logmetrics import __version__
from logmetrics.defaults import DEFAULT_LISTEN, DEFAULT_PORT
from logmetrics.errors import LogmetricsError

log = logging.getLogger(__name__)


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


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def _app(registry: CollectorRegistry) -> Callable[..., Iterable[bytes]]:
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD")])
            return [b""]
        if path == "/metrics":
            return metrics(environ, start_response)
        if path in ("/-/healthy", "/-/ready"):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"OK\n"]
        if path == "/":
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [_LANDING]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found; metrics are at /metrics\n"]

    return app


class MetricsServer:
    """Serves a registry over HTTP on its own thread."""

    def __init__(self, registry: CollectorRegistry, listen: str = DEFAULT_LISTEN) -> None:
        self.host, port = parse_listen(listen)
        try:
            server_class = _Server6 if ":" in self.host else _Server
            self._httpd = make_server(self.host, port, _app(registry), server_class, _QuietHandler)
        except OSError as exc:
            raise LogmetricsError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="metrics-http", daemon=True)

    def start(self) -> None:
        self._thread.start()
        log.info("serving metrics on http://%s:%d/metrics", self.host, self.port)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
