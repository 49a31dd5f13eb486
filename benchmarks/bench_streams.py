"""Lines/s through the stream sources against the file path, in the same run.

``python benchmarks/bench_streams.py [--repeat N] [--lines N]``

The same lines of the real Apache log go through the bundled apache_access
program three ways, each into a running daemon (start-up is not measured):

- ``file``: appended to a followed file at once;
- ``stdin``: written into the daemon's standard input (``--logs -``);
- ``syslog+udp``: sent as RFC 3164 datagrams (one line each, as nginx sends them)
  to ``--logs syslog+udp://127.0.0.1:PORT``. UDP has no flow control: the sender
  keeps at most :data:`UDP_WINDOW` lines ahead of what /metrics has counted, so
  that the socket's buffer never overflows, and reports any loss.

Figures: lines/s from the first byte sent to the scrape that counts the last
line, the daemon's CPU over that window (lines per CPU-second), and its RSS at
the end; medians of ``--repeat`` runs, ratios against ``file``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from common import APACHE_LOG_GZ, CHILD_ENV, logmetrics_argv, plain_copy

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
UDP_WINDOW = 2000
FRAME = "<190>{stamp} bench apache_access: {line}"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """``logmetrics run`` with apache_access on ``logs``, answering /metrics on a free port."""

    def __init__(self, folder: Path, logs: str, stdin: int | None = None) -> None:
        self.port = free_port()
        argv = logmetrics_argv("run", "--progs", "apache_access", "--logs", logs, "--listen",
                               f"127.0.0.1:{self.port}", "--state-dir", str(folder / "state"),
                               "--no-checkpoint", "--log-level", "warning")
        self.proc = subprocess.Popen(argv, stdin=stdin, env=CHILD_ENV)
        deadline = time.monotonic() + 30
        while not self.lines() >= 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"the daemon did not start: {argv}")
            time.sleep(0.05)

    def lines(self) -> int:
        """logmetrics_lines_total, or -1 while /metrics does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
                for raw in r:
                    if raw.startswith(b"logmetrics_lines_total "):
                        return int(float(raw.split()[1]))
        except OSError:
            return -1
        return 0

    def cpu(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def timed(daemon: Daemon, total: int, send: Callable[[], int]) -> tuple[float, float, int]:
    """(seconds, CPU seconds, lines lost) from the start of ``send`` until ``total`` lines are counted."""
    cpu = daemon.cpu()
    start = time.perf_counter()
    received = send()
    while daemon.lines() < received:
        time.sleep(0.02)
    return time.perf_counter() - start, daemon.cpu() - cpu, total - received


def run_file(log: Path, total: int) -> tuple[float, float, float, int]:
    folder = Path(tempfile.mkdtemp(prefix="bench-streams-"))
    target = folder / "access.log"
    target.touch()
    daemon = Daemon(folder, str(target))

    def send() -> int:
        with open(log, "rb") as src, open(target, "ab") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        return total

    try:
        wall, cpu, lost = timed(daemon, total, send)
        return wall, cpu, daemon.rss_mb(), lost
    finally:
        daemon.stop()


def run_stdin(log: Path, total: int) -> tuple[float, float, float, int]:
    folder = Path(tempfile.mkdtemp(prefix="bench-streams-"))
    read, write = os.pipe()
    daemon = Daemon(folder, "-", stdin=read)
    os.close(read)

    def send() -> int:
        with open(log, "rb") as src:
            while chunk := src.read(1 << 16):
                os.write(write, chunk)
        return total

    try:
        wall, cpu, lost = timed(daemon, total, send)
        return wall, cpu, daemon.rss_mb(), lost
    finally:
        os.close(write)  # the end of input stops the daemon
        daemon.proc.wait(timeout=30)


def run_udp(log: Path, total: int) -> tuple[float, float, float, int]:
    folder = Path(tempfile.mkdtemp(prefix="bench-streams-"))
    port = free_port(socket.SOCK_DGRAM)
    daemon = Daemon(folder, f"syslog+udp://127.0.0.1:{port}")
    stamp = time.strftime("%b %e %H:%M:%S")
    frames = [FRAME.format(stamp=stamp, line=line.rstrip("\n")).encode()
              for line in log.read_text(encoding="utf-8").splitlines()]

    def send() -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("127.0.0.1", port))
            for start in range(0, len(frames), UDP_WINDOW):
                # Wait until the daemon is at most one window behind (no flow control in UDP).
                while daemon.lines() < start - UDP_WINDOW:
                    time.sleep(0.01)  # each scrape costs the daemon: do not hammer it
                for frame in frames[start:start + UDP_WINDOW]:
                    s.send(frame)
        deadline = time.monotonic() + 2
        while daemon.lines() < len(frames) and time.monotonic() < deadline:
            time.sleep(0.01)
        return max(0, daemon.lines())

    try:
        wall, cpu, lost = timed(daemon, total, send)
        return wall, cpu, daemon.rss_mb(), lost
    finally:
        daemon.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lines", type=int, default=200_000)
    args = parser.parse_args()
    log, total = plain_copy(APACHE_LOG_GZ, args.lines)
    cases = {"file": run_file, "stdin (--logs -)": run_stdin, "syslog+udp": run_udp}
    results: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in cases}
    for _ in range(args.repeat):  # interleaved: the machine's noise hits every case alike
        for name, case in cases.items():
            results[name].append(case(log, total))
    base = None
    print(f"{total:,} lines of {APACHE_LOG_GZ.name} through apache_access, median of {args.repeat}")
    for name, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        rss = statistics.median(r[2] for r in runs)
        lost = max(r[3] for r in runs)
        rate = total / wall
        base = base or rate
        print(f"{name:<20} {rate:>10,.0f} lines/s  {total / cpu:>10,.0f} lines/CPU-s  {rss:>6.1f} MB RSS  "
              f"x{rate / base:.2f} vs file" + (f"  ({lost} lost)" if lost else ""))


if __name__ == "__main__":
    main()
