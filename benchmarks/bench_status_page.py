"""How fast do the status pages answer on a big sidecar? The daemon runs 50 programs over 5,000
files (each read to its end first); then each page is fetched over loopback, one request at a
time, and the median and slowest answer times are printed. The goal: the status page under 100 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PROGRAMS = 50
FILES = 5_000
PAGES = [("/", "text/html"), ("/", "text/plain"), ("/?files=all", "text/html"), ("/inspect", "text/html"),
         ("/json", "*/*"), ("/status.json", "*/*")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def program(i: int) -> str:
    return (f"counter p{i}_requests_total by method, code\ncounter p{i}_bytes_total\n"
            f"/^(?P<method>[A-Z]+) \\S+ (?P<code>\\d{{3}}) (?P<size>\\d+)$/ {{\n"
            f"  p{i}_requests_total[$method][$code]++\n  p{i}_bytes_total += $size\n}}\n"
            f"/^never {i}$/ {{\n  p{i}_bytes_total += 0\n}}\n")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get(url: str, accept: str) -> tuple[float, int]:
    started = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": accept}), timeout=30) as r:
        size = len(r.read())
    return time.perf_counter() - started, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20, help="requests per page (default 20)")
    args = parser.parse_args()
    script = Path(sys.executable).with_name("logmetrics")
    if not script.exists():
        script = Path(shutil.which("logmetrics") or "logmetrics")
    tmp = Path(tempfile.mkdtemp(prefix="bench-status-"))
    try:
        progs, logs = tmp / "progs", tmp / "logs"
        progs.mkdir()
        logs.mkdir()
        for i in range(PROGRAMS):
            (progs / f"prog{i:02d}.mtail").write_text(program(i), encoding="utf-8")
        for i in range(FILES):
            lines = "".join(f"GET /x {200 + (i + j) % 5} {j}\n" for j in range(4)) + "garbage\n"
            (logs / f"app{i:04d}.log").write_text(lines, encoding="utf-8")
        port = free_port()
        proc = subprocess.Popen([str(script), "run", "--progs", str(progs), "--logs", str(logs / "*.log"),
                                 "--from", "beginning", "--listen", f"127.0.0.1:{port}", "--state-dir",
                                 str(tmp / "state"), "--no-checkpoint", "--keep-unmatched", "5",
                                 "--log-level", "warning"])
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 300
            while True:
                try:
                    text = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
                    if f"logmetrics_lines_total {FILES * 5}.0" in text:
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    print("the daemon did not read every file", file=sys.stderr)
                    return 1
                time.sleep(0.5)
            # What the daemon spends with no request (following 5,000 files), taken off each page's CPU.
            idle_started, idle_cpu = time.monotonic(), cpu_seconds(proc.pid)
            time.sleep(5)
            background = (cpu_seconds(proc.pid) - idle_cpu) / (time.monotonic() - idle_started)
            print(f"{PROGRAMS} programs, {FILES:,} files, {FILES * 5:,} lines read; the daemon idles at "
                  f"{background * 100:.0f}% of a CPU. Per page: answer time (wall), and the daemon's CPU "
                  "time per request above idle (the first answer reads the files' statistics afresh, "
                  "the next ones reuse them for 2 s)")
            for path, accept in PAGES:
                time.sleep(2.5)  # past the reuse of the files' statistics: the first answer reads them afresh
                first, _ = get(base + path, accept)
                times, size = [], 0
                cpu_before, started = cpu_seconds(proc.pid), time.monotonic()
                for _ in range(args.repeat):
                    took, size = get(base + path, accept)
                    times.append(took)
                spent = cpu_seconds(proc.pid) - cpu_before - background * (time.monotonic() - started)
                cpu = max(0.0, spent) / args.repeat
                print(f"  GET {path:<13} {accept:<10} {size / 1000:>7,.0f} kB  first {first * 1000:6.1f} ms  "
                      f"median {statistics.median(times) * 1000:6.1f} ms  "
                      f"slowest {max(times) * 1000:6.1f} ms  "
                      f"CPU {cpu * 1000:6.1f} ms")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                print("the daemon took over 2 minutes to stop; killed", file=sys.stderr)
                proc.kill()
                proc.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
