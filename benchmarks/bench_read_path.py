"""The daemon's read path and its append-to-scrape latency.

1. Read path: lines/s of the follower reading a 1,000,000-line file (a copy
   of the real Apache log, repeated) from start to end, no programs; with
   pygtail's own iterator over the same file as the baseline, in the same run.
2. Latency: a running ``logmetrics run`` with a counting program; a line is
   appended, and /metrics is scraped until the counter shows it. Median and
   worst of 20 appends.
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
import textwrap
import time
import urllib.request
from pathlib import Path

from common import APACHE_LOG_GZ, REPO, Result, measure, plain_copy

READER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    from logmetrics.sources.follow import Follower
    f = Follower([sys.argv[1]], from_end=False)
    f.start()
    n = 0
    while n < int(sys.argv[2]):
        for _path, lines in f.poll():
            n += len(lines)
    f.stop()
""")
PYGTAIL = textwrap.dedent("""
    import sys, tempfile, os
    from pygtail import Pygtail
    n = sum(1 for _ in Pygtail(sys.argv[1], offset_file=os.path.join(tempfile.mkdtemp(), "o"),
                               encoding="utf-8"))
    assert n == int(sys.argv[2]), n
""")


def read_path(repeat: int) -> None:
    log, lines = plain_copy(APACHE_LOG_GZ, lines=1_000_000)
    pygtail = measure("pygtail iterator (baseline)", [sys.executable, "-c", PYGTAIL, str(log), str(lines)],
                      lines, repeat)
    ours = measure("logmetrics follower", [sys.executable, "-c", READER.format(repo=str(REPO)), str(log),
                                           str(lines)], lines, repeat)
    print(f"# read path: {lines:,} lines ({log.stat().st_size / 1e6:.0f} MB), median of {repeat} runs")
    for result in (pygtail, ours):
        print(result.line(pygtail))
    shutil.rmtree(log.parent)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape_count(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("lines_total "):
                return float(line.split()[1])
    return -1.0


def latency(samples: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="logmetrics-latency-"))
    (tmp / "count.mtail").write_text("counter lines_total\n/./ {\n  lines_total++\n}\n")
    log = tmp / "app.log"
    log.write_text("")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "logmetrics", "run", "--progs", str(tmp / "count.mtail"),
                             "--logs", str(log), "--listen", f"127.0.0.1:{port}", "--state-dir",
                             str(tmp / "state"), "--log-level", "warning"], cwd=REPO)
    try:
        while True:
            try:
                scrape_count(port)
                break
            except OSError:
                time.sleep(0.05)
        delays = []
        with open(log, "a", buffering=1) as f:
            for i in range(samples):
                start = time.perf_counter()
                f.write(f"line {i}\n")
                while scrape_count(port) < i + 1:
                    time.sleep(0.002)
                delays.append(time.perf_counter() - start)
                time.sleep(0.1)
        median = statistics.median(delays) * 1000
        print(f"# append-to-scrape latency over {samples} appends: median {median:.0f} ms, "
              f"worst {max(delays) * 1000:.0f} ms")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(tmp)


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (default 5)")
    args = parser.parse_args(argv)
    read_path(args.repeat)
    latency(20)
    return []


if __name__ == "__main__":
    os.chdir(Path(__file__).parent)
    main()
