"""Multi-day access and error logs written by real Apache and nginx under libfaketime.

The servers run with the clock at 2026-11-01 00:00:00 UTC, one real second
being one hour (``FAKETIME="@2026-11-01 00:00:00" x3600``), and a client sends
a varied mix of requests (``realservers.REQUEST_MIX``, a garbage request line,
and for nginx a proxied path whose upstream is down, giving 502) at a rate that
rises and falls like a day's traffic. Each log so spans days of log time in
under a minute. The result is kept in ``tests/data/history/`` (gzipped); to
make it again, from the top of the repository:

    python3 -m tests.cli.history tests/data/history
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import math
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from tests import realservers

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
START = "2026-11-01 00:00:00"
SPEED = 3600  # log seconds per real second
HOURS = 50  # a little over two days of log time

HERE = Path(__file__).resolve().parents[1] / "data" / "history"


@contextlib.contextmanager
def faketime() -> Iterator[None]:
    """Servers started inside the block run with the fake clock (and their children too)."""
    names = ("LD_PRELOAD", "FAKETIME", "FAKETIME_DONT_RESET", "FAKETIME_CACHE_DURATION", "TZ")
    saved = {k: os.environ.get(k) for k in names}
    # The clock is set once: libfaketime re-reads FAKETIME every 10 s by default, and an nginx
    # worker doing so jumped to the real date.
    os.environ.update(LD_PRELOAD=str(LIBFAKETIME), FAKETIME=f"@{START} x{SPEED}",
                      FAKETIME_DONT_RESET="1", FAKETIME_CACHE_DURATION="1000000", TZ="UTC")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _request(port: int, method: str, path: str, headers: dict[str, str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = "a=1" if method in ("POST", "PUT") else None
    # The logs are what counts, not the responses: a server timing out early is part of the mix.
    with contextlib.suppress(OSError, http.client.HTTPException):
        conn.request(method, path, body=body, headers=headers)
        conn.getresponse().read()
    conn.close()


def _garbage(port: int) -> None:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"GARBAGE\r\n\r\n")
        raw.makefile("rb").readline()


def _client(port: int, seconds: float, mix: list[tuple[str, str, dict[str, str]]], offset: int,
            clients: int) -> None:
    started = time.monotonic()
    i = offset
    while (elapsed := time.monotonic() - started) < seconds:
        hour = (elapsed * SPEED / 3600) % 24
        per_second = (20 + 60 * max(0.0, math.sin((hour - 6) / 24 * 2 * math.pi))) / clients
        method, path, headers = mix[i % len(mix)]
        if i % 97 == 13:
            _garbage(port)
        else:
            _request(port, method, path, headers)
        i += 1
        time.sleep(1 / per_second)


def drive(port: int, seconds: float, extra: list[tuple[str, str, dict[str, str]]], clients: int = 3) -> None:
    """Send requests for ``seconds`` of real time from several clients at once (so that lines are
    written slightly out of order, as on a real server), fast at log-time noon, slow at night."""
    mix = [*realservers.REQUEST_MIX, *extra]
    threads = [threading.Thread(target=_client, args=(port, seconds, mix, n * 5, clients))
               for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _keep(source: Path, target: Path) -> None:
    with source.open("rb") as raw, gzip.open(target, "wb", compresslevel=9) as out:
        shutil.copyfileobj(raw, out)


def generate(out: Path) -> None:
    """Write apache_access.log.gz, apache_error.log.gz, nginx_access.log.gz, nginx_error.log.gz."""
    out.mkdir(parents=True, exist_ok=True)
    seconds = HOURS * 3600 / SPEED
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with faketime(), realservers.apache(work / "apache", log_format="timed") as server:
            time.sleep(0.5)
            drive(server.port, seconds, [])
        _keep(server.access_log, out / "apache_access.log.gz")
        _keep(server.error_log, out / "apache_error.log.gz")
        closed = realservers.free_port()  # nothing listens there: /app/ gives 502
        # nginx's timeouts run on the fake clock too: make them long enough for real requests.
        timeouts = "".join(f"    {name} 100000s;\n" for name in (
            "client_header_timeout", "client_body_timeout", "send_timeout", "keepalive_timeout",
            "proxy_connect_timeout", "proxy_read_timeout", "proxy_send_timeout"))
        with faketime(), realservers.nginx(work / "nginx", timed=True, upstream=closed,
                                           locations=timeouts) as server:
            time.sleep(0.5)
            drive(server.port, seconds, [("GET", "/app/login", {})])
        _keep(server.access_log, out / "nginx_access.log.gz")
        _keep(server.error_log, out / "nginx_error.log.gz")


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
