"""Hostile HTTP clients: slowloris connections and a wrong-password flood.

Shared by the hardening tests (tests/cli/test_hardening.py) and the benchmark of the endpoint
under abuse (benchmarks/bench_http_abuse.py), which imports this module from the checkout: the
standard library only.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

#: The flood's own process: CLIENTS threads, each sending requests with a wrong password (a new one
#: each time, so that no cache can answer) as fast as they are answered, for SECONDS.
_FLOOD = textwrap.dedent("""\
    import base64, sys, threading, time, urllib.request
    url, clients, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    end = time.monotonic() + seconds
    def flood(n):
        k = 0
        while time.monotonic() < end:
            token = base64.b64encode(f"prometheus:wrong-{n}-{k}".encode()).decode()
            request = urllib.request.Request(url, headers={"Authorization": "Basic " + token})
            try:
                urllib.request.urlopen(request, timeout=30).read()
            except OSError:
                pass
            k += 1
    threads = [threading.Thread(target=flood, args=(n,)) for n in range(clients)]
    for t in threads: t.start()
    for t in threads: t.join()
""")


def slowloris(port: int, count: int) -> list[socket.socket]:
    """``count`` connections to 127.0.0.1:``port``, each sending half a request head and nothing
    more; the caller closes them (all are closed here if one cannot be opened)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            socks.append(sock)
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


def password_flood(url: str, clients: int, seconds: float) -> subprocess.Popen[bytes]:
    """Start the wrong-password flood against ``url`` in another process (as a botnet would not
    share the interpreter lock with the client that measures)."""
    return subprocess.Popen([sys.executable, "-c", _FLOOD, url, str(clients), str(seconds)])
