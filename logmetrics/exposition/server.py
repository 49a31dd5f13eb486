"""The HTTP endpoint: ``/metrics`` for Prometheus, and a few plain pages.

``/metrics`` answers in the format the scraper asks for (Prometheus text or
OpenMetrics, negotiated as prometheus-client does; gzip when accepted): the
store and logmetrics' own metrics are written by our own writer (render.py),
and whole bodies are rendered once and shared (cache.py). Neither
prometheus-client nor wsgiref is imported: their imports (http.server,
urllib.request, email, ssl) cost the daemon's start about 0.1 s, more than all
the rest of it; requests are parsed and answered by wsgi.py, and ssl is imported
only when the web config asks for TLS.
This module routes requests, checks basic auth and wraps connections in TLS
as a web config file says (see webconfig.py). It binds to loopback unless told otherwise: a sidecar is
scraped from the same host or pod.

Connections are handled in two stages, so that slow or hostile clients cost
a file descriptor and a few bytes, never a thread (see docs/operations.md):

1. One thread runs a selector over the listening socket and every connection
   whose request has not fully arrived: it accepts, does the TLS handshake
   and reads the request head without blocking, and closes connections that
   take longer than :data:`HEADER_TIMEOUT`. At :attr:`HttpLimits.max_connections`
   the oldest incomplete connection is dropped to make room for a new one.
2. A complete request goes to a small pool of worker threads that answer it
   (one request per connection; writes time out after :data:`WRITE_TIMEOUT`).
   Requests whose password must be checked with bcrypt go to their own pool
   with a bounded queue, so a flood of wrong passwords never delays a scrape
   whose credentials are already known good.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from logmetrics import __version__
from logmetrics.defaults import DEFAULT_LISTEN, DEFAULT_PORT
from logmetrics.errors import LogmetricsError
from logmetrics.exposition.cache import GZIP_LEVEL, RenderCache
from logmetrics.exposition.collector import Registry
from logmetrics.exposition.families import MetricFamily, counter, gauge
from logmetrics.exposition.render import gzip_accepted, negotiate, write_registry
from logmetrics.exposition.webconfig import (
    WebConfig,
    WebConfigError,
    basic_credentials,
    load_web_config,
    peer_allowed,
    weakened,
)
from logmetrics.exposition.wsgi import WsgiApp, answer

log = logging.getLogger(__name__)

#: Seconds a client has from connecting to the end of its request head, TLS handshake included.
HEADER_TIMEOUT = 10.0
#: Seconds a response write, or a read of a request body, may block (a client that stalls is dropped).
WRITE_TIMEOUT = 30.0
#: Largest request head accepted (request line and headers); more is answered 431.
MAX_HEADER_BYTES = 16 * 1024
#: Pending connections the kernel queues before the accept loop takes them.
LISTEN_BACKLOG = socket.SOMAXCONN
#: Probes answer without credentials, so that a kubelet or a sidecar's checker needs none.
PROBES = ("/-/healthy", "/-/ready")

_LANDING = f"""<!doctype html>
<html><head><title>logmetrics</title></head>
<body><h1>logmetrics {__version__}</h1>
<p><a href="/metrics">Metrics</a></p></body></html>
""".encode()


@dataclass(frozen=True)
class HttpLimits:
    """How much the HTTP server lets clients take (documented in docs/operations.md)."""

    #: Open connections, complete or not; the oldest incomplete one is dropped beyond.
    max_connections: int = 1024
    #: Threads answering complete requests.
    workers: int = 8
    #: Threads checking passwords with bcrypt (bcrypt's own bound is HASH_CONCURRENCY).
    hashers: int = 2
    #: Requests waiting for a password check; beyond, they are answered 503 at once.
    max_hash_queue: int = 64


def parse_listen(text: str) -> tuple[str, int]:
    """``host:port``, ``:port`` (every interface) or ``[::1]:port``."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise LogmetricsError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:{DEFAULT_PORT}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class _ConfigSource:
    """The web config, read again when its file changes (certificate rotation, new users).

    A re-read that fails, or that would switch off TLS, client certificate
    checks or basic auth, is refused: the previous config stays, the refusal
    is logged as an error once per change of the file, and :attr:`failing`
    is set until a good file is read. Weakening takes a restart.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._config: WebConfig | None = None
        self._lock = threading.Lock()
        self.failing = False
        self.reloads = 0
        self.refused = 0
        if path is not None:
            self._config = load_web_config(path)  # fail at start on a bad file
            self._stamp = self._stat()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)  # type: ignore[arg-type]
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def current(self) -> WebConfig | None:
        """The config in force, re-read first if the file changed."""
        if self.path is None:
            return None
        stamp = self._stat()
        if stamp == self._stamp:
            return self._config
        with self._lock:
            if stamp != self._stamp:
                self._reload(stamp)
            return self._config

    def _reload(self, stamp: tuple[int, int, int] | None) -> None:
        old = self._config
        assert old is not None
        self._stamp = stamp
        try:
            new = load_web_config(self.path)  # type: ignore[arg-type]
        except WebConfigError as exc:
            self._refuse(f"{exc}")
            return
        except Exception as exc:  # whatever the file holds, the server keeps serving
            self._refuse(f"{self.path}: cannot read the web config: {exc}")
            return
        lost = weakened(old, new)
        if lost:
            self._refuse(f"{self.path}: the new web config would weaken {', '.join(lost)}; "
                         "restart logmetrics to apply a weaker config")
            return
        new.ok_cache = old.ok_cache
        self._config = new
        self.reloads += 1
        if self.failing:
            log.warning("%s: web config read again and applied", self.path)
        self.failing = False

    def _refuse(self, why: str) -> None:
        self.refused += 1
        self.failing = True
        log.error("%s; KEEPING THE PREVIOUS WEB CONFIG (TLS and basic auth unchanged)", why)


class _WebCollector:
    """The server's own metrics: web config reloads and dropped connections."""

    def __init__(self, web: _ConfigSource, dropped: dict[str, int]) -> None:
        self.web = web
        self.dropped = dropped

    def collect(self) -> Iterator[MetricFamily]:
        if self.web.path is not None:
            failing = gauge("logmetrics_web_config_reload_failing",
                            "1 while the web config file on disk is refused (bad, or weaker "
                            "than the config in force)")
            failing.add([], int(self.web.failing))
            yield failing
            refused = counter("logmetrics_web_config_reloads_refused",
                              "Re-reads of the web config refused (previous config kept)")
            refused.add([], self.web.refused)
            yield refused
        dropped = counter("logmetrics_http_connections_dropped",
                          "HTTP connections closed before an answer, by reason", ["reason"])
        for reason, count in sorted(self.dropped.items()):
            dropped.add([reason], count)
        yield dropped


def _needs_password_check(config: WebConfig | None, head: bytes) -> bool:
    """True if answering this request head would run bcrypt (credentials not known good)."""
    if config is None or not config.users:
        return False
    lines = head.split(b"\n")
    target = lines[0].split(b" ")
    if len(target) > 1 and target[1].split(b"?")[0].decode("latin-1") in PROBES:
        return False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"authorization":
            credentials = basic_credentials(value.decode("latin-1"))
            return credentials is not None and not config.known_good(*credentials)
    return False


def _authorized(config: WebConfig | None, environ: dict[str, Any]) -> bool:
    if config is None or not config.users:
        return True
    credentials = basic_credentials(environ.get("HTTP_AUTHORIZATION", ""))
    return credentials is not None and config.check_password(*credentials)


def _metrics(registry: Registry, cache: RenderCache, environ: dict[str, Any],
             respond: Callable[..., Any]) -> Iterable[bytes]:
    """``/metrics``: the format the scraper accepts, gzip if it asks, ``name[]`` filtering.

    Whole bodies come from ``cache`` (see cache.py); a filtered scrape is rendered for itself."""
    fmt = negotiate(environ.get("HTTP_ACCEPT", ""))
    names = parse_qs(environ.get("QUERY_STRING", "")).get("name[]")
    gzipped = gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", ""))
    if names:
        output = write_registry(registry, fmt, set(names))
        if gzipped:
            output = gzip.compress(output, compresslevel=GZIP_LEVEL)
    else:
        rendered = cache.get(fmt.key, lambda: write_registry(registry, fmt))
        output = rendered.gzipped() if gzipped else rendered.body
    headers = [("Content-Type", fmt.content_type), ("Content-Length", str(len(output)))]
    if gzipped:
        headers.append(("Content-Encoding", "gzip"))
    respond("200 OK", headers)
    return [output]


#: Pages served beside /metrics (the status page, the playground): given the WSGI environ of an
#: authorized request, (status, headers, body), or None for a path they do not serve.
PageHandler = Callable[[dict[str, Any]], "tuple[str, list[tuple[str, str]], bytes] | None"]


def _app(registry: Registry, web: _ConfigSource, pages: PageHandler | None = None,
         health: Callable[[], str | None] | None = None,
         cache: RenderCache | None = None) -> WsgiApp:
    cache = cache if cache is not None else RenderCache()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        config = web.current()
        extra = list(config.headers.items()) if config else []

        def respond(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, headers + extra, exc_info)

        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path in PROBES and method in ("GET", "HEAD"):
            trouble = health() if health is not None and path == "/-/healthy" else None
            if trouble:
                respond("503 Service Unavailable", [("Content-Type", "text/plain")])
                return [f"unhealthy: {trouble}\n".encode()]
            respond("200 OK", [("Content-Type", "text/plain")])
            return [b"OK\n"]
        if not _authorized(config, environ):
            respond("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="logmetrics"'),
                                         ("Content-Type", "text/plain")])
            return [b"Unauthorized\n"]
        page = pages(environ) if pages is not None and path != "/metrics" else None
        if page is not None:
            configured = {name.lower() for name, _ in extra}  # the web config's headers win
            respond(page[0], [h for h in page[1] if h[0].lower() not in configured])
            return [b"" if method == "HEAD" else page[2]]
        if method not in ("GET", "HEAD"):
            respond("405 Method Not Allowed", [("Allow", "GET, HEAD")])
            return [b""]
        if path == "/metrics":
            return _metrics(registry, cache, environ, respond)
        if path == "/":
            respond("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [_LANDING]
        respond("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found; metrics are at /metrics\n"]

    return app


class _Context:
    """The app requests go to, and the server's part of their WSGI environ."""

    def __init__(self, app: WsgiApp, host: str, port: int) -> None:
        self.app = app
        self.base_environ = {"SERVER_NAME": host, "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PORT": str(port),
                             "SCRIPT_NAME": ""}


class _Conn:
    """A connection whose request head has not fully arrived."""

    __slots__ = ("address", "allowed_sans", "deadline", "handshaking", "head", "sock", "tls")

    def __init__(self, sock: socket.socket, address: Any, deadline: float) -> None:
        self.sock = sock
        self.address = address
        self.deadline = deadline
        self.head = bytearray()
        self.handshaking = False
        self.tls = False
        self.allowed_sans: list[str] = []


def _tls_wait(exc: OSError) -> int:
    """The selector event a non-blocking TLS socket that raised ``exc`` waits for (0: none, a
    real error). Called for TLS connections only, so ssl is imported already (by the web config)."""
    import ssl

    if isinstance(exc, ssl.SSLWantReadError):
        return selectors.EVENT_READ
    if isinstance(exc, ssl.SSLWantWriteError):
        return selectors.EVENT_WRITE
    return 0


_FD_EXHAUSTED = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


class _ConnectionLoop:
    """Stage 1: accept, handshake and read request heads on one thread, without blocking."""

    def __init__(self, listener: socket.socket, web: _ConfigSource, context: _Context,
                 limits: HttpLimits) -> None:
        self.listener = listener
        self.web = web
        self.context = context
        self.limits = limits
        self.selector = selectors.DefaultSelector()
        self.pending: dict[int, _Conn] = {}  # by fd, in accept order (so oldest first)
        self.open = 0  # pending + being answered; changed under _count_lock
        self.hash_queue = 0  # requests given to the hashers and not answered yet; likewise
        # Held only around an addition, by the loop and the workers: never while waiting.
        self._count_lock = threading.Lock()
        self.dropped: dict[str, int] = {}
        self.workers = ThreadPoolExecutor(limits.workers, thread_name_prefix="metrics-http")
        self.hashers = ThreadPoolExecutor(limits.hashers, thread_name_prefix="metrics-auth")
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stopping = False
        self._accept_paused_until = 0.0

    def run(self) -> None:
        self.selector.register(self.listener, selectors.EVENT_READ, "listen")
        self.selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        while not self._stopping:
            now = time.monotonic()
            if self._accept_paused_until and now >= self._accept_paused_until:
                self._accept_paused_until = 0.0
                self.selector.register(self.listener, selectors.EVENT_READ, "listen")
            timeout = 1.0
            if self.pending:
                timeout = min(timeout, max(0.0, next(iter(self.pending.values())).deadline - now))
            for key, _events in self.selector.select(timeout):
                try:
                    if key.data == "listen":
                        self._accept()
                    elif key.data == "wake":
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                    elif key.data.sock.fileno() >= 0:  # not closed by an eviction in this round
                        self._progress(key.data)
                except Exception:  # a bug must cost one connection, never the endpoint
                    log.exception("error in the HTTP connection loop")
                    if isinstance(key.data, _Conn) and key.data.sock.fileno() >= 0:
                        self._close(key.data)
            self._expire(time.monotonic())
        for conn in list(self.pending.values()):
            self._close(conn)
        self.selector.close()

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def close(self) -> None:
        self.workers.shutdown(wait=False, cancel_futures=True)
        self.hashers.shutdown(wait=False, cancel_futures=True)
        for s in (self._wake_r, self._wake_w):
            s.close()

    def _count(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def _accept(self) -> None:
        for _ in range(64):  # a bounded batch, then the other connections get their turn
            try:
                sock, address = self.listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno not in _FD_EXHAUSTED:
                    continue  # e.g. ECONNABORTED: that client is gone, take the next one
                if self.pending:
                    self._evict("out_of_fds")
                    continue
                # Nothing of ours to close: stop accepting for a moment instead of spinning.
                log.warning("cannot accept HTTP connections: %s; pausing accept for 0.5 s", exc.strerror)
                self.selector.unregister(self.listener)
                self._accept_paused_until = time.monotonic() + 0.5
                return
            if self.open >= self.limits.max_connections:
                if self.pending:
                    self._evict("evicted")
                else:
                    self._count("refused")
                    sock.close()
                    continue
            self._admit(sock, address)

    def _admit(self, sock: socket.socket, address: Any) -> None:
        sock.setblocking(False)
        conn = _Conn(sock, address, time.monotonic() + HEADER_TIMEOUT)
        config = self.web.current()
        if config is not None and config.tls is not None:
            try:
                conn.sock = config.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            except OSError as exc:
                log.debug("TLS with %s failed: %s", address, exc)
                sock.close()
                return
            conn.handshaking = conn.tls = True
            conn.allowed_sans = config.allowed_sans
        with self._count_lock:
            self.open += 1
        self.pending[conn.sock.fileno()] = conn
        self.selector.register(conn.sock, selectors.EVENT_READ, conn)

    def _evict(self, reason: str) -> None:
        oldest = next(iter(self.pending.values()))
        log.debug("dropping the incomplete connection of %s (%s)", oldest.address, reason)
        self._count(reason)
        self._close(oldest)

    def _expire(self, now: float) -> None:
        while self.pending:
            oldest = next(iter(self.pending.values()))
            if oldest.deadline > now:
                return
            log.debug("%s sent no complete request within %g s; closing", oldest.address, HEADER_TIMEOUT)
            self._count("header_timeout")
            self._close(oldest)

    def _close(self, conn: _Conn) -> None:
        fd = conn.sock.fileno()
        if fd >= 0:
            self.pending.pop(fd, None)
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(conn.sock)
        with contextlib.suppress(OSError):
            conn.sock.close()
        self._done()

    def _done(self) -> None:
        with self._count_lock:
            self.open -= 1

    def _wait_for(self, conn: _Conn, events: int) -> None:
        self.selector.modify(conn.sock, events, conn)

    def _progress(self, conn: _Conn) -> None:
        sock = conn.sock
        if conn.handshaking:
            try:
                sock.do_handshake()  # type: ignore[attr-defined]
            except OSError as exc:  # ssl.SSLError included
                wait = _tls_wait(exc)
                if wait:
                    self._wait_for(conn, wait)
                    return
                log.debug("TLS handshake with %s failed: %s", conn.address, exc)
                self._close(conn)
                return
            conn.handshaking = False
            self._wait_for(conn, selectors.EVENT_READ)
            if not peer_allowed(sock.getpeercert(), conn.allowed_sans):  # type: ignore[attr-defined]
                log.info("client certificate of %s is not in client_allowed_sans", conn.address)
                self._close(conn)
                return
        while True:
            try:
                data = sock.recv(8192)
            except BlockingIOError:
                return
            except OSError as exc:
                wait = _tls_wait(exc) if conn.tls else 0
                if wait == selectors.EVENT_READ:
                    return
                if wait == selectors.EVENT_WRITE:
                    self._wait_for(conn, wait)
                    return
                log.debug("connection from %s failed while reading the request: %s", conn.address, exc)
                self._close(conn)
                return
            if not data:
                self._close(conn)  # the client left before finishing its request
                return
            conn.head += data
            if b"\r\n\r\n" in conn.head or b"\n\n" in conn.head:
                self._hand_over(conn, too_large=False)
                return
            if len(conn.head) > MAX_HEADER_BYTES:
                self._hand_over(conn, too_large=True)
                return

    def _hand_over(self, conn: _Conn, too_large: bool) -> None:
        """Stage 2: the request head is complete; a worker answers it."""
        self.pending.pop(conn.sock.fileno(), None)
        self.selector.unregister(conn.sock)
        head = bytes(conn.head)
        if too_large:
            self._submit(self.workers, conn, self._answer_plain, conn, b"431 Request Header Fields Too Large")
        elif _needs_password_check(self.web.current(), head):
            if self.hash_queue >= self.limits.max_hash_queue:
                self._count("auth_busy")
                self._submit(self.workers, conn, self._answer_plain, conn, b"503 Service Unavailable")
            else:
                with self._count_lock:
                    self.hash_queue += 1
                if not self._submit(self.hashers, conn, self._answer, conn, head, True):
                    with self._count_lock:
                        self.hash_queue -= 1
        else:
            self._submit(self.workers, conn, self._answer, conn, head, False)

    def _submit(self, pool: ThreadPoolExecutor, conn: _Conn, job: Callable[..., None], *args: Any) -> bool:
        try:
            pool.submit(job, *args)
        except RuntimeError:  # the pools are shut down: the server (or the interpreter) is stopping
            self._finish(conn)
            return False
        return True

    def _answer(self, conn: _Conn, head: bytes, hashing: bool) -> None:
        try:
            conn.sock.setblocking(True)
            conn.sock.settimeout(WRITE_TIMEOUT)
            answer(conn.sock, conn.address, head, self.context.app, self.context.base_environ)
        except OSError as exc:  # the client went away or stopped reading; ssl.SSLError included
            log.debug("connection from %s ended while answering: %s", conn.address, exc)
        except Exception:
            log.exception("error while answering %s", conn.address)
        finally:
            if hashing:
                with self._count_lock:
                    self.hash_queue -= 1
            self._finish(conn)

    def _answer_plain(self, conn: _Conn, status: bytes) -> None:
        try:
            conn.sock.setblocking(True)
            conn.sock.settimeout(WRITE_TIMEOUT)
            conn.sock.sendall(b"HTTP/1.0 " + status + b"\r\nContent-Type: text/plain\r\nRetry-After: 1\r\n"
                              b"Connection: close\r\n\r\n" + status + b"\n")
        except OSError as exc:
            log.debug("connection from %s ended while answering: %s", conn.address, exc)
        finally:
            self._finish(conn)

    def _finish(self, conn: _Conn) -> None:
        with contextlib.suppress(OSError):
            conn.sock.close()
        self._done()


class MetricsServer:
    """Serves a registry over HTTP(S) on its own threads.

    ``health``, when given, is asked on each ``/-/healthy``: it returns None
    when all is well, else the reason for a 503.
    """

    def __init__(self, registry: Registry, listen: str = DEFAULT_LISTEN,
                 web_config: Path | None = None, pages: PageHandler | None = None,
                 health: Callable[[], str | None] | None = None, limits: HttpLimits | None = None,
                 cache: RenderCache | None = None) -> None:
        """``pages`` answers the paths other than /metrics and the probes (see PageHandler);
        ``cache`` keeps the rendered bodies (a new one by default)."""
        self.host, port = parse_listen(listen)
        web = _ConfigSource(web_config)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, port))
            listener.listen(LISTEN_BACKLOG)
        except OSError as exc:
            listener.close()
            raise LogmetricsError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        self._listener = listener
        config = web.current()
        self.scheme = "https" if config is not None and config.tls is not None else "http"
        context = _Context(_app(registry, web, pages, health, cache), self.host, self.port)
        self._loop = _ConnectionLoop(listener, web, context, limits or HttpLimits())
        registry.register(_WebCollector(web, self._loop.dropped))
        self._thread = threading.Thread(target=self._loop.run, name="metrics-http", daemon=True)

    def start(self) -> None:
        self._thread.start()
        log.info("serving metrics on %s://%s:%d/metrics", self.scheme, self.host, self.port)

    def stop(self) -> None:
        self._loop.stop()
        self._thread.join(timeout=5)
        self._listener.close()
        self._loop.close()
