"""How long does a correct scrape take while the endpoint is abused?

Three scenes against one ``logmetrics run`` on 127.0.0.1, each for a few
seconds, with 10 correct scrapes timed in each:

- quiet: nobody else;
- slowloris: N connections (default 2,000) that send half a request head and
  nothing more, opened before the scrapes and held through them;
- password flood: M clients (default 150, in another process) sending
  requests with wrong passwords (each a different one) as fast as answered,
  against a web config with a bcrypt cost-10 user; the correct client
  scraped once before the flood, as Prometheus would have.

Prints the median and the worst scrape time of each scene, the daemon's
thread count and CPU use. The issue's target: a correct scrape in < 1 s.
"""

from __future__ import annotations

import argparse
import base64
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt
from common import REPO

sys.path.insert(0, str(REPO))  # the hostile clients are the hardening tests'
from tests.abuse import password_flood, slowloris


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(url: str, auth: tuple[str, str] | None) -> float:
    request = urllib.request.Request(url)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as r:
        r.read()
    return time.perf_counter() - started


def scrapes(url: str, auth: tuple[str, str] | None, count: int = 10) -> list[float]:
    out = []
    for _ in range(count):
        out.append(scrape(url, auth))
        time.sleep(0.2)
    return out


def daemon_facts(pid: int) -> str:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    threads = next(line.split()[1] for line in status if line.startswith("Threads:"))
    fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))
    return f"threads {threads}, open fds {fds}"


def cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def report(scene: str, times: list[float], pid: int, cpu_used: float, seconds: float) -> None:
    print(f"{scene:<28} median {statistics.median(times):6.3f} s  worst {max(times):6.3f} s  "
          f"daemon: {daemon_facts(pid)}, {100 * cpu_used / seconds:.0f}% of a core")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slowloris", type=int, default=2000, help="connections (default 2000)")
    parser.add_argument("--flood", type=int, default=150, help="wrong-password clients (default 150)")
    parser.add_argument("--repeat", type=int, default=1, help="ignored (for benchmarks/run.py)")
    args = parser.parse_args(argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = Path(tempfile.mkdtemp(prefix="logmetrics-abuse-"))
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=10)).decode()
    (tmp / "web.yml").write_text(f"basic_auth_users:\n  prometheus: {hashed}\n", encoding="utf-8")
    (tmp / "app.log").write_text("")
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    good = ("prometheus", "s3cret")
    proc = subprocess.Popen([sys.executable, "-m", "logmetrics", "run", "--progs", str(REPO / "programs"),
                             "--logs", str(tmp / "app.log"), "--listen", f"127.0.0.1:{port}",
                             "--state-dir", str(tmp / "state"), "--web-config", str(tmp / "web.yml"),
                             "--log-level", "warning"], cwd=tmp)
    socks: list[socket.socket] = []
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/healthy", timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        scrape(url, good)
        print("# a correct scrape of /metrics (basic auth, bcrypt cost 10); 10 scrapes per scene")
        before, t0 = cpu(proc.pid), time.monotonic()
        report("quiet", scrapes(url, good), proc.pid, cpu(proc.pid) - before, time.monotonic() - t0)

        socks = slowloris(port, args.slowloris)
        before, t0 = cpu(proc.pid), time.monotonic()
        report(f"slowloris {args.slowloris:,}", scrapes(url, good), proc.pid, cpu(proc.pid) - before,
               time.monotonic() - t0)
        for sock in socks:
            sock.close()
        socks.clear()
        time.sleep(1)

        flood = password_flood(url, args.flood, 12)
        time.sleep(2)
        before, t0 = cpu(proc.pid), time.monotonic()
        times = scrapes(url, good)
        report(f"wrong-password flood {args.flood}", times, proc.pid, cpu(proc.pid) - before,
               time.monotonic() - t0)
        flood.wait(timeout=60)
    finally:
        for sock in socks:
            sock.close()
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
