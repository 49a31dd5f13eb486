"""Does scraping slow line processing? The daemon reads a large log from its
beginning, alone and while 50 concurrent clients scrape /metrics (each once a
second, in another process); the time to count every line is compared.
"""

from __future__ import annotations

import argparse
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

from common import APACHE_LOG_GZ, REPO, plain_copy

SCRAPERS = textwrap.dedent("""
    import sys, threading, time, urllib.request
    url, stop_after = sys.argv[1], float(sys.argv[2])
    def scrape():
        end = time.monotonic() + stop_after
        while time.monotonic() < end:
            try:
                urllib.request.urlopen(url, timeout=5).read()
            except OSError:
                pass
            time.sleep(1.0)
    threads = [threading.Thread(target=scrape) for _ in range(50)]
    for t in threads: t.start()
    for t in threads: t.join()
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lines_counted(port: int) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("logmetrics_lines_total "):
                    return float(line.split()[1])
    except OSError:
        pass
    return -1.0


def one_run(log: Path, lines: int, with_scrapers: bool) -> float:
    tmp = Path(tempfile.mkdtemp(prefix="logmetrics-scrape-"))
    port = free_port()
    scrapers = None
    proc = subprocess.Popen([sys.executable, "-m", "logmetrics", "run", "--progs",
                             str(REPO / "programs"), "--logs", str(log), "--from", "beginning",
                             "--listen", f"127.0.0.1:{port}", "--state-dir", str(tmp),
                             "--log-level", "warning", "--no-checkpoint"], cwd=REPO)
    try:
        started = time.perf_counter()
        if with_scrapers:
            scrapers = subprocess.Popen([sys.executable, "-c", SCRAPERS,
                                         f"http://127.0.0.1:{port}/metrics", "600"])
        while lines_counted(port) < lines:
            time.sleep(0.05)
        return time.perf_counter() - started
    finally:
        if scrapers is not None:
            scrapers.kill()
            scrapers.wait()
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(tmp)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (default 5)")
    args = parser.parse_args(argv)
    log, lines = plain_copy(APACHE_LOG_GZ, lines=700_000)
    alone, loaded = [], []
    for _ in range(args.repeat):  # interleaved, so that machine noise hits both alike
        alone.append(one_run(log, lines, with_scrapers=False))
        loaded.append(one_run(log, lines, with_scrapers=True))
    a, b = statistics.median(alone), statistics.median(loaded)
    print(f"# daemon, {lines:,} lines of the bundled Apache program, median of {args.repeat} runs")
    print(f"alone                                  {lines / a:>12,.0f} lines/s")
    print(f"with 50 clients scraping once a second {lines / b:>12,.0f} lines/s  "
          f"slowdown {100 * (b / a - 1):.1f}%")
    shutil.rmtree(log.parent)


if __name__ == "__main__":
    main()
