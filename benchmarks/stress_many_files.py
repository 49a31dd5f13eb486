"""Many quiet files: start-up, time to count a new line, idle CPU, stop time and descriptors of the daemon.

    python benchmarks/stress_many_files.py              # 5,000 files, 3 runs
    python benchmarks/stress_many_files.py --files 10000 --runs 5 --fds

Creates ``--files`` logs of one line each and starts ``logmetrics run`` on them
(the installed console script beside this Python) ``--runs`` times: each run is
a first start (empty state directory) followed by a restart from the state it
saved. For each start it measures, and prints as medians over the runs:

- ready: seconds from start until ``/-/ready`` answers 200 and a first
  ``/metrics`` is answered;
- first scrape: how long that first ``/metrics`` took, and its size;
- counted: seconds from appending a line to the last file until a scrape
  counts it;
- status page: how long the first answer of ``/`` took;
- idle CPU: the daemon's CPU over ``--idle`` seconds of quiet, as a share of
  one core;
- stop: seconds from SIGTERM until the process is gone, and whether it said
  its checkpoint was saved (exit status 0).

``--fds`` also waits a minute for quiet files to give their descriptors back
and prints the open descriptors before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("logmetrics")
PROGRAM = "counter lines_total\n/^line/ {\n  lines_total++\n}\n"


@dataclass
class Start:
    """What one start of the daemon measured (seconds, bytes, share of a core)."""

    ready: float
    first_scrape: float
    scrape_bytes: int
    counted: float
    status_page: float
    idle_cpu: float
    stop: float
    saved: bool
    fds_busy: int = 0
    fds_idle: int = 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def get(port: int, path: str) -> bytes | None:
    """The body of a 200 answer, or None (not listening yet, or another status)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=120) as r:
            return bytes(r.read())
    except OSError:
        return None


def lines_total(text: bytes) -> float | None:
    for line in text.decode().splitlines():
        if line.startswith("lines_total "):
            return float(line.split()[1])
    return None


def one_start(work: Path, files: int, idle: float, fds: bool) -> Start:
    """Start the daemon on ``work``'s logs (and state, if any), measure, stop it."""
    logs = work / "logs"
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen([str(SCRIPT), "run", "--progs", str(work / "progs"), "--logs",
                             str(logs / "*.log"), "--listen", f"127.0.0.1:{port}",
                             "--state-dir", str(work / "state")], stderr=subprocess.DEVNULL)
    try:
        while get(port, "/-/ready") is None:
            if proc.poll() is not None or time.monotonic() - started > 300:
                raise RuntimeError("the daemon did not start")
            time.sleep(0.01)
        asked = time.monotonic()
        text = get(port, "/metrics")
        answered = time.monotonic()
        if text is None:
            raise RuntimeError("the first /metrics failed")
        before = lines_total(text) or 0.0
        with open(logs / f"f{files - 1:05d}.log", "a", encoding="utf-8") as f:
            f.write("line 1\n")
        appended = time.monotonic()
        while lines_total(get(port, "/metrics") or b"") != before + 1:
            if time.monotonic() - appended > 300:
                raise RuntimeError("the new line was not counted within 300 s")
            time.sleep(0.01)
        counted = time.monotonic() - appended
        t = time.monotonic()
        get(port, "/")
        status_page = time.monotonic() - t
        time.sleep(2)  # the end of start-up work (the first commits)
        fds_busy = open_fds(proc.pid)
        cpu = cpu_seconds(proc.pid)
        time.sleep(idle)
        idle_cpu = (cpu_seconds(proc.pid) - cpu) / idle
        fds_idle = 0
        if fds:
            time.sleep(62)  # quiet files are closed after 60 s
            fds_idle = open_fds(proc.pid)
        t = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=300)
        stop = time.monotonic() - t
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Start(ready=answered - started, first_scrape=answered - asked, scrape_bytes=len(text),
                 counted=counted, status_page=status_page, idle_cpu=idle_cpu, stop=stop,
                 saved=code == 0, fds_busy=fds_busy, fds_idle=fds_idle)


def report(name: str, starts: list[Start], fds: bool) -> str:
    def med(attribute: str) -> float:
        return statistics.median(getattr(s, attribute) for s in starts)

    text = (f"  {name:<8} ready {med('ready'):6.2f} s (first /metrics {med('first_scrape') * 1000:6.0f} ms, "
            f"{med('scrape_bytes') / 1000:,.0f} kB)  new line counted {med('counted'):5.2f} s  "
            f"status page {med('status_page') * 1000:5.0f} ms  idle CPU {med('idle_cpu') * 100:4.1f}%  "
            f"stop {med('stop'):5.2f} s (slowest {max(s.stop for s in starts):.2f} s, "
            f"saved {sum(s.saved for s in starts)}/{len(starts)})")
    if fds:
        text += f"  descriptors {med('fds_busy'):,.0f}, {med('fds_idle'):,.0f} after a minute of quiet"
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5000, help="quiet logs to follow (default 5000)")
    parser.add_argument("--runs", type=int, default=3, help="runs to take medians of (default 3)")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of quiet to measure CPU over")
    parser.add_argument("--fds", action="store_true",
                        help="also wait a minute and count descriptors after quiet files are closed")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="logmetrics-many-"))
    first: list[Start] = []
    restart: list[Start] = []
    try:
        (work / "logs").mkdir()
        (work / "progs").mkdir()
        (work / "progs" / "count.mtail").write_text(PROGRAM, encoding="utf-8")
        for i in range(args.files):
            (work / "logs" / f"f{i:05d}.log").write_text("old line\n", encoding="utf-8")
        for _ in range(args.runs):
            shutil.rmtree(work / "state", ignore_errors=True)
            first.append(one_start(work, args.files, args.idle, args.fds))
            restart.append(one_start(work, args.files, args.idle, args.fds))
    finally:
        shutil.rmtree(work)
    print(f"{args.files:,} files, medians of {args.runs} runs:")
    print(report("first", first, args.fds))
    print(report("restart", restart, args.fds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
