"""Many quiet files: start-up, time to count a new line, idle CPU and descriptors of the daemon.

    python benchmarks/stress_many_files.py              # 5,000 files
    python benchmarks/stress_many_files.py --files 10000

Creates ``--files`` logs of one line each, starts ``logmetrics run`` on them
(the installed console script), and prints: seconds until it answers, seconds
until a line appended to one of them is counted, the daemon's CPU use over
``--idle`` seconds of quiet (as a share of one core), and its open descriptors
before and after quiet files are given back.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("logmetrics")
PROGRAM = "counter lines_total\n/^line/ {\n  lines_total++\n}\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def get(port: int, path: str) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as r:
            return r.read().decode()
    except OSError:
        return None


def lines_total(port: int) -> float | None:
    text = get(port, "/metrics") or ""
    for line in text.splitlines():
        if line.startswith("lines_total "):
            return float(line.split()[1])
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of quiet to measure CPU over")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="logmetrics-many-"))
    try:
        logs = work / "logs"
        logs.mkdir()
        (work / "progs").mkdir()
        (work / "progs" / "count.mtail").write_text(PROGRAM, encoding="utf-8")
        for i in range(args.files):
            (logs / f"f{i:05d}.log").write_text("old line\n", encoding="utf-8")
        port = free_port()
        started = time.monotonic()
        proc = subprocess.Popen([str(SCRIPT), "run", "--progs", str(work / "progs"), "--logs",
                                 str(logs / "*.log"), "--listen", f"127.0.0.1:{port}",
                                 "--state-dir", str(work / "state")], stderr=subprocess.DEVNULL)
        try:
            while get(port, "/-/healthy") is None:
                if proc.poll() is not None or time.monotonic() - started > 120:
                    print("the daemon did not start", file=sys.stderr)
                    return 1
                time.sleep(0.02)
            ready = time.monotonic() - started
            target = logs / f"f{random.randrange(args.files):05d}.log"
            with open(target, "a", encoding="utf-8") as f:
                f.write("line 1\n")
            appended = time.monotonic()
            while lines_total(port) != 1.0:
                if time.monotonic() - appended > 60:
                    print("the new line was not counted within 60 s", file=sys.stderr)
                    return 1
                time.sleep(0.02)
            counted = time.monotonic() - appended
            time.sleep(2)  # the first commit and the end of start-up work
            fds_busy = open_fds(proc.pid)
            before = cpu_seconds(proc.pid)
            time.sleep(args.idle)
            idle_cpu = (cpu_seconds(proc.pid) - before) / args.idle
            time.sleep(max(0.0, 62 - args.idle))  # quiet files are closed after 60 s
            fds_idle = open_fds(proc.pid)
            print(f"{args.files:,} files: answering after {ready:.2f} s since start; "
                  f"a new line counted after {counted:.2f} s; idle CPU {idle_cpu * 100:.1f}% of a core; "
                  f"open descriptors {fds_busy:,}, {fds_idle:,} after a minute of quiet")
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    finally:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
