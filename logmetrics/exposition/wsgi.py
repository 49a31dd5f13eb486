"""One HTTP/1.x request in, one answer out: a request head to a WSGI environ, the app's answer
written back, and the connection closed.

The connection loop in server.py has already read the whole request head
(bounded, with a deadline); this module parses it, calls the WSGI app and writes
its answer as HTTP/1.0 with ``Connection: close``. It is our own rather than
wsgiref's handler, whose http.server, http.client and email imports cost a start
some 50 ms for the few rules needed here.
"""

from __future__ import annotations

import io
import logging
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from logmetrics import __version__

log = logging.getLogger(__name__)

#: Request header fields accepted (as http.client accepts); more is answered 431.
MAX_HEADERS = 100
SERVER = f"logmetrics/{__version__}"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BadRequest(Exception):
    """A request head that cannot be answered, and the status that says why."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class Request:
    """A parsed request head: the method, the target, the version and the header fields."""

    def __init__(self, head: bytes) -> None:
        """Raises :class:`BadRequest` for a head that is not HTTP/1.x."""
        lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
        words = lines[0].split()
        if len(words) != 3:
            raise BadRequest("400 Bad Request")
        self.method, self.target, self.version = words
        major, dot, minor = self.version.removeprefix("HTTP/").partition(".")
        if not self.version.startswith("HTTP/") or not dot or not major.isdigit() or not minor.isdigit():
            raise BadRequest("400 Bad Request")
        if int(major) != 1:
            raise BadRequest("505 HTTP Version Not Supported")
        self.headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            if not line:
                break
            if line[0] in " \t" and self.headers:  # an obsolete folded continuation line
                name, value = self.headers[-1]
                self.headers[-1] = (name, f"{value} {line.strip()}")
                continue
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise BadRequest("400 Bad Request")
            self.headers.append((name, value.strip()))
            if len(self.headers) > MAX_HEADERS:
                raise BadRequest("431 Request Header Fields Too Large")

    def environ(self, base: dict[str, Any], address: Any, body: io.BufferedIOBase) -> dict[str, Any]:
        """The WSGI environ of this request: ``base`` (the server's names), the request's own,
        and ``body`` as ``wsgi.input``."""
        path, _, query = self.target.partition("?")
        environ = {**base, "SERVER_PROTOCOL": self.version, "SERVER_SOFTWARE": SERVER,
                   "REQUEST_METHOD": self.method, "PATH_INFO": unquote(path, "iso-8859-1"),
                   "QUERY_STRING": query, "REMOTE_ADDR": address[0] if address else "",
                   "CONTENT_TYPE": "text/plain", "wsgi.input": body, "wsgi.url_scheme": "http",
                   "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": False,
                   "wsgi.run_once": False}
        for name, value in self.headers:
            key = name.replace("-", "_").upper()
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
                continue
            key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value  # repeated: joined
        return environ


class _Body(io.RawIOBase):
    """What the connection loop read beyond the request head, then the socket (a POST's body)."""

    def __init__(self, data: bytes, sock: socket.socket) -> None:
        self._data = data
        self._pos = 0
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._pos < len(self._data):
            n = min(len(buffer), len(self._data) - self._pos)
            buffer[:n] = self._data[self._pos:self._pos + n]
            self._pos += n
            return n
        return self._sock.recv_into(buffer)


def _http_date(now: float) -> str:
    """``Sun, 06 Nov 1994 08:49:37 GMT`` (not strftime's names, which follow the locale)."""
    t = time.gmtime(now)
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[t.tm_wday]
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[t.tm_mon - 1]
    return f"{day}, {t.tm_mday:02d} {month} {t.tm_year} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"


def _response(status: str, headers: list[tuple[str, str]], body: bytes, head_only: bool) -> bytes:
    names = {name.lower() for name, _ in headers}
    lines = [f"HTTP/1.0 {status}"]
    if "date" not in names:
        lines.append(f"Date: {_http_date(time.time())}")
    if "server" not in names:
        lines.append(f"Server: {SERVER}")
    lines += [f"{name}: {value}" for name, value in headers if name.lower() != "connection"]
    if "content-length" not in names:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else body)


def answer(sock: socket.socket, address: Any, head: bytes, app: WsgiApp, base: dict[str, Any]) -> None:
    """Answer the request whose head (and maybe more) is ``head`` on the blocking ``sock``.

    Socket errors are the caller's (the client went away); an error of the app is logged and
    answered 500."""
    # The head ends at the first blank line, CRLF or bare LF (as the connection loop saw it end).
    ends = [i + len(mark) for mark in (b"\r\n\r\n", b"\n\n") if (i := head.find(mark)) >= 0]
    end = min(ends) if ends else len(head)
    try:
        request = Request(head[:end])
    except BadRequest as bad:
        plain = [("Content-Type", "text/plain")]
        sock.sendall(_response(bad.status, plain, f"{bad.status}\n".encode(), False))
        return
    environ = request.environ(base, address, io.BufferedReader(_Body(head[end:], sock)))
    answered: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answered[:] = [status, headers]

    try:
        body = b"".join(app(environ, start_response))
        if not answered:
            raise RuntimeError("the app gave no status")
    except Exception:
        log.exception("error while answering %s %s", request.method, request.target)
        answered[:] = ["500 Internal Server Error", [("Content-Type", "text/plain")]]
        body = b"internal error; see the log\n"
    sock.sendall(_response(answered[0], answered[1], body, request.method == "HEAD"))
