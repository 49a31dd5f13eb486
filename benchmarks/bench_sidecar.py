"""The sidecar's cost: logmetrics and mtail side by side, following a log as a web server writes it.

``python benchmarks/bench_sidecar.py [--repeat N] [--seconds S] [--only CASES]``

Both daemons run the same program on the same kind of log, one after the
other (interleaved run by run, so that the machine's noise hits both alike);
a separate writer process appends lines at a fixed rate. Cases:

- ``follow``: mtail's own ``apache_combined.mtail`` on combined-format lines,
  written one ``write()`` per line (as Apache and nginx write) or in batches
  every 5 ms, at 1,000, 10,000 and 50,000 lines/s. Figures: CPU of the
  daemon (% of one core, over the writing window), RSS at the end, and the
  append-to-scrape latency (one more line written after the writer stops,
  until /metrics counts it).
- ``cardinality``: a program labelling each request by its path, at 50,000
  lines/s in batches, with 1,000, 10,000 and 100,000 distinct paths.
- ``scrape``: the same program; a block of lines appended at once is read
  alone, then again with one client scraping /metrics back to back; the
  reading rate, the scrapes served per second, and the time of a single
  scrape that renders (made 1.5 s after the last one): as a plain client
  asks (text format) and as Prometheus asks (OpenMetrics, gzip).
- ``startup``: from process start to the first /metrics answer, on an empty
  state directory and started again on it (its programs then come from the
  compile cache, see docs/state.md); ``--help``,
  ``run --help`` and an argument error (``run --bogus``) of the installed
  console script beside ``python3 -c pass`` (medians of 15 runs); a one-line
  dry-run (mtail: ``--one_shot``), its programs compiled before and not.

Every figure is the median of ``--repeat`` runs; the ratio column is
logmetrics / mtail (below 1 means logmetrics is cheaper). Without mtail on the
PATH, only logmetrics is measured.
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
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common import CHILD_ENV, logmetrics_argv, mtail_binary

MTAIL_EXAMPLES = Path("/usr/share/doc/mtail/examples")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
RATES = (1_000, 10_000, 50_000)
LABEL_SETS = (1_000, 10_000, 100_000)

#: mtail's apache_combined.mtail, used when mtail's examples are not installed.
COMBINED_PROGRAM = textwrap.dedent(r"""
    counter apache_http_requests_total by request_method, http_version, request_status
    counter apache_http_bytes_total by request_method, http_version, request_status
    /^(?P<hostname>[0-9A-Za-z\.:-]+) (?P<remote_logname>[0-9A-Za-z-]+) (?P<remote_username>[0-9A-Za-z-]+) / +
    /\[(?P<timestamp>\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} (\+|-)\d{4})\] / +
    /"(?P<request_method>[A-Z]+) (?P<URI>\S+) (?P<http_version>HTTP\/[0-9\.]+)" / +
    /(?P<request_status>\d{3}) ((?P<response_size>\d+)|-) / +
    /"(?P<referer>\S+)" "(?P<user_agent>[[:print:]]+)"$/ {
      apache_http_requests_total[$request_method][$http_version][$request_status]++
      $response_size > 0 {
        apache_http_bytes_total[$request_method][$http_version][$request_status] += $response_size
      }
    }
""")

PATHS_PROGRAM = textwrap.dedent(r"""
    counter apache_http_requests_total by path
    /"GET (?P<path>\S+) HTTP/ {
      apache_http_requests_total[$path]++
    }
""")

#: The writer: appends lines at a fixed rate, one write() per line or in batches every 5 ms.
WRITER = textwrap.dedent(r"""
    import os, sys, time
    path, rate, seconds, mode, paths = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], \
        int(sys.argv[5])
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    statuses = ("200", "200", "200", "304", "404", "500")
    def line(i):
        p = f"/item/{i % paths}" if paths else f"/item/{i % 50}"
        return (f'10.0.{i % 250}.{i % 200} - - [28/Nov/2026:10:00:00 +0000] "GET {p} HTTP/1.1" '
                f'{statuses[i % 6]} {512 + i % 1000} "-" "bench/1.0 (x11)"\n').encode()
    tick = 0.005 if mode == "batch" else 0.001
    start = time.monotonic()
    written = 0
    while True:
        now = time.monotonic() - start
        if now >= seconds:
            break
        due = min(int(now * rate), int(seconds * rate)) - written
        if due > 0:
            if mode == "batch":
                os.write(fd, b"".join(line(written + k) for k in range(due)))
            else:
                for k in range(due):
                    os.write(fd, line(written + k))
            written += due
        time.sleep(tick)
    print(written)
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for row in f:
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
    return 0.0


def scrape(port: int, timeout: float = 10.0) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as response:
        return str(response.read().decode("utf-8"))


def requests_counted(port: int) -> float:
    """The sum of apache_http_requests_total over its series; -1 while /metrics does not answer."""
    try:
        text = scrape(port)
    except OSError:
        return -1.0
    total = 0.0
    for row in text.splitlines():
        if row.startswith("apache_http_requests_total{") or row.startswith("apache_http_requests_total "):
            total += float(row.rsplit(" ", 1)[1])
    return total


@dataclass
class Daemon:
    """One running daemon (logmetrics or mtail) following ``log`` with the programs in ``progs``."""

    kind: str
    progs: Path
    log: Path
    work: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    #: More options for logmetrics (e.g. ``--no-checkpoint``).
    extra: tuple[str, ...] = ()

    def start(self) -> float:
        """Start it; returns the seconds until /metrics first answered."""
        if self.kind == "logmetrics":
            argv = logmetrics_argv(
                "run",
                "--progs",
                str(self.progs),
                "--logs",
                str(self.log),
                "--listen",
                f"127.0.0.1:{self.port}",
                "--state-dir",
                str(self.work / "state"),
                "--log-level",
                "warning",
                # mtail caps no metric; 100,000 paths must not meet logmetrics' default cap.
                "--max-label-sets",
                "1000000",
                *self.extra,
            )
        else:
            argv = [
                str(mtail_binary()),
                "--progs",
                str(self.progs),
                "--logs",
                str(self.log),
                "--address",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--emit_prog_label=false",
            ]
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CHILD_ENV, cwd=self.work
        )
        while True:
            try:
                scrape(self.port, timeout=1)
                return time.perf_counter() - started
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit(f"{self.kind} exited with {self.proc.returncode}") from None
                time.sleep(0.002)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def wait_for(self, count: float, timeout: float = 120.0, poll: float = 0.002) -> float:
        """Seconds until /metrics counts ``count`` requests, asking every ``poll`` seconds."""
        started = time.perf_counter()
        while requests_counted(self.port) < count:
            if time.perf_counter() - started > timeout:
                raise SystemExit(f"{self.kind} counted {requests_counted(self.port)} of {count}")
            time.sleep(poll)
        return time.perf_counter() - started


def workspace(program: str) -> tuple[Path, Path, Path]:
    work = Path(tempfile.mkdtemp(prefix="logmetrics-sidecar-"))
    progs = work / "progs"
    progs.mkdir()
    (progs / "bench.mtail").write_text(program, encoding="utf-8")
    log = work / "access.log"
    log.touch()
    return work, progs, log


def combined_program() -> str:
    example = MTAIL_EXAMPLES / "apache_combined.mtail"
    return example.read_text(encoding="utf-8") if example.exists() else COMBINED_PROGRAM


@dataclass
class Figures:
    cpu: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)


def follow_once(
    kind: str, program: str, rate: int, seconds: float, mode: str, paths: int, extra: tuple[str, ...] = ()
) -> tuple[float, float, float]:
    """One run: CPU % of a core while the writer writes, RSS at the end, latency of one more line."""
    work, progs, log = workspace(program)
    daemon = Daemon(kind, progs, log, work, extra=extra)
    try:
        daemon.start()
        time.sleep(0.5)  # past start-up
        before, t0 = cpu_seconds(daemon.proc.pid), time.perf_counter()  # type: ignore[union-attr]
        writer = subprocess.run(
            [sys.executable, "-c", WRITER, str(log), str(rate), str(seconds), mode, str(paths)],
            capture_output=True,
            text=True,
            check=True,
        )
        written = int(writer.stdout)
        daemon.wait_for(written)
        cpu = (cpu_seconds(daemon.proc.pid) - before) / (time.perf_counter() - t0)  # type: ignore[union-attr]
        rss = rss_mb(daemon.proc.pid)  # type: ignore[union-attr]
        time.sleep(0.3)
        with open(log, "a", encoding="utf-8") as f:
            f.write('10.0.0.1 - - [28/Nov/2026:10:00:00 +0000] "GET /last HTTP/1.1" 200 1 "-" "bench"\n')
        latency = daemon.wait_for(written + 1)
        return 100 * cpu, rss, latency
    finally:
        daemon.stop()
        shutil.rmtree(work, ignore_errors=True)


def interleaved(
    kinds: list[str], repeat: int, once: Callable[[str], tuple[float, ...]]
) -> dict[str, list[tuple[float, ...]]]:
    runs: dict[str, list[tuple[float, ...]]] = {k: [] for k in kinds}
    for _ in range(repeat):
        for kind in kinds:
            runs[kind].append(once(kind))
    return runs


def median(values: list[tuple[float, ...]], i: int) -> float:
    return statistics.median(v[i] for v in values)


def ratio(ours: float, theirs: float | None) -> str:
    return f"x{ours / theirs:.2f}" if theirs else "-"


def print_follow_table(title: str, rows: list[tuple[str, dict[str, list[tuple[float, ...]]]]]) -> None:
    print(f"\n# {title}")
    print(
        f"{'case':<28} {'logmetrics CPU':>14} {'mtail CPU':>10} {'ratio':>7} "
        f"{'RSS MB (l/m)':>14} {'latency ms (l/m)':>18}"
    )
    for name, runs in rows:
        ours = runs["logmetrics"]
        theirs = runs.get("mtail") or []
        cpu_l, cpu_m = median(ours, 0), (median(theirs, 0) if theirs else None)
        rss = f"{median(ours, 1):.0f}/{median(theirs, 1):.0f}" if theirs else f"{median(ours, 1):.0f}/-"
        lat = (
            f"{1000 * median(ours, 2):.0f}/{1000 * median(theirs, 2):.0f}"
            if theirs
            else f"{1000 * median(ours, 2):.0f}/-"
        )
        cpu_m_text = f"{cpu_m:.1f}%" if cpu_m is not None else "-"
        print(
            f"{name:<28} {cpu_l:>13.1f}% {cpu_m_text:>10} {ratio(cpu_l, cpu_m):>7} {rss:>14} {lat:>18}",
            flush=True,
        )


def case_follow(kinds: list[str], repeat: int, seconds: float) -> None:
    program = combined_program()
    rows = []
    for mode in ("line", "batch"):
        for rate in RATES:
            runs = interleaved(
                kinds, repeat, lambda k, r=rate, m=mode: follow_once(k, program, r, seconds, m, 0)
            )
            rows.append((f"{rate:>6,}/s {'one write/line' if mode == 'line' else 'batch 5 ms'}", runs))
    print_follow_table(
        "follow: apache_combined.mtail, writer one write() per line or batched every 5 ms", rows
    )


def case_cardinality(kinds: list[str], repeat: int, seconds: float) -> None:
    rows = []
    for paths in LABEL_SETS:
        runs = interleaved(
            kinds, repeat, lambda k, p=paths: follow_once(k, PATHS_PROGRAM, 50_000, seconds, "batch", p)
        )
        rows.append((f"{paths:>7,} label sets", runs))
    print_follow_table("cardinality: requests by path at 50,000 lines/s, batched", rows)


#: What Prometheus 2 sends: OpenMetrics first, and gzip.
PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
    "Accept-Encoding": "gzip",
}


def timed_scrape(port: int, headers: dict[str, str] | None = None) -> float:
    """Seconds for one whole scrape, the body read to its end."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers=headers or {})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    return time.perf_counter() - started


def scrape_once(kind: str, paths: int, lines: int, scraping: bool) -> tuple[float, float, float, float]:
    """Lines/s reading a block appended at once (alone, or with one client scraping back to back),
    scrapes served per second, and the time of one scrape as a plain client and as Prometheus asks."""
    work, progs, log = workspace(PATHS_PROGRAM)
    daemon = Daemon(kind, progs, log, work)

    def block(count: int) -> str:
        return "".join(
            f'10.0.0.{i % 200} - - [28/Nov/2026:10:00:00 +0000] '
            f'"GET /item/{i % paths} HTTP/1.1" 200 5 "-" "b"\n'
            for i in range(count)
        )

    try:
        daemon.start()
        # First every label set once, so that each scrape renders ``paths`` series from the start.
        with open(log, "a", encoding="utf-8") as f:
            f.write(block(paths))
        daemon.wait_for(paths, timeout=600, poll=0.1)
        # A scrape that renders (logmetrics reuses a body for as long as its render took).
        time.sleep(1.5)
        plain = timed_scrape(daemon.port)
        time.sleep(1.5)
        prometheus = timed_scrape(daemon.port, PROMETHEUS_HEADERS)
        stop = threading.Event()
        scrapes = 0

        def scraper() -> None:
            nonlocal scrapes
            while not stop.is_set():
                try:
                    timed_scrape(daemon.port)
                except OSError:
                    continue
                scrapes += 1

        thread = threading.Thread(target=scraper, daemon=True)
        appended = block(lines)
        if scraping:
            thread.start()
        started = time.perf_counter()
        with open(log, "a", encoding="utf-8") as f:
            f.write(appended)
        daemon.wait_for(paths + lines, timeout=600, poll=0.1)
        elapsed = time.perf_counter() - started
        stop.set()
        if scraping:
            thread.join(timeout=60)
        return lines / elapsed, scrapes / elapsed if scraping else 0.0, plain, prometheus
    finally:
        daemon.stop()
        shutil.rmtree(work, ignore_errors=True)


def case_scrape(kinds: list[str], repeat: int) -> None:
    print("\n# scrape load: reading 200,000 appended lines alone and with one client scraping back to back;")
    print("# one scrape: a plain client (text format), and as Prometheus asks (OpenMetrics, gzip)")
    print(
        f"{'case':<24} {'daemon':<11} {'alone lines/s':>14} {'scraped lines/s':>16} {'kept':>6} "
        f"{'scrapes/s':>10} {'one scrape ms':>14} {'as Prometheus ms':>17}"
    )
    for paths in LABEL_SETS:
        for kind in kinds:
            alone = [scrape_once(kind, paths, 200_000, False) for _ in range(repeat)]
            loaded = [scrape_once(kind, paths, 200_000, True) for _ in range(repeat)]
            a, b = median(alone, 0), median(loaded, 0)
            both = alone + loaded
            print(
                f"{paths:>7,} label sets{'':<5} {kind:<11} {a:>14,.0f} {b:>16,.0f} {100 * b / a:>5.0f}% "
                f"{median(loaded, 1):>10.1f} {1000 * median(both, 2):>14.0f} {1000 * median(both, 3):>17.0f}",
                flush=True,
            )


def timed(argv: list[str], cwd: Path, env: dict[str, str] = CHILD_ENV) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd, check=False)
    return time.perf_counter() - started


#: Runs behind each figure of a look at the usage (a few tens of milliseconds each).
USAGE_RUNS = 15


def case_usage(cwd: Path) -> None:
    """``--help`` and an argument error as a user meets them: the installed console script (which
    imports ``re`` before logmetrics), output to a pipe, so at 80 columns (COLUMNS unset). Medians of
    USAGE_RUNS runs interleaved with an empty Python, the floor on this machine."""
    script = Path(sys.executable).with_name("logmetrics")
    command = [str(script)] if script.exists() else logmetrics_argv()
    env = {k: v for k, v in CHILD_ENV.items() if k != "COLUMNS"}
    commands = {
        "python3 -c pass": [sys.executable, "-c", "pass"],
        "logmetrics --help": [*command, "--help"],
        "logmetrics run --help": [*command, "run", "--help"],
        "logmetrics run --bogus (exit 2)": [*command, "run", "--bogus"],
    }
    runs: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(USAGE_RUNS):
        for name, argv in commands.items():
            runs[name].append(timed(argv, cwd, env))
    for name, times in runs.items():
        print(f"{name:<41}{1000 * statistics.median(times):>8.0f} ms", flush=True)


def case_startup(kinds: list[str], repeat: int) -> None:
    print("\n# start-up (median wall time)")
    work, progs, log = workspace(combined_program())
    log.write_text(
        '10.0.0.1 - - [28/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "b"\n', encoding="utf-8"
    )
    try:
        for kind in kinds:
            first: list[float] = []
            again: list[float] = []  # logmetrics started again on its state dir: programs compiled before
            for _ in range(repeat):
                for times in (first, again) if kind == "logmetrics" else (first,):
                    daemon = Daemon(kind, progs, log, work)
                    try:
                        times.append(daemon.start())
                    finally:
                        daemon.stop()
                shutil.rmtree(work / "state", ignore_errors=True)
            uncached: list[float] = []
            if kind == "logmetrics":
                one_line = logmetrics_argv("dry-run", "--progs", str(progs), str(log), "-q")
                case_usage(work)
                # Dry-runs keep compiled programs in the user's cache folder: one of the bench's own,
                # empty for each run of the "nothing compiled before" figure.
                for run in range(repeat):
                    cache = work / f"cache-{run}"
                    uncached.append(timed(one_line, work, {**CHILD_ENV, "XDG_CACHE_HOME": str(cache)}))
                    shutil.rmtree(cache, ignore_errors=True)
                env = {**CHILD_ENV, "XDG_CACHE_HOME": str(work / "cache")}
                timed(one_line, work, env)  # compiled and kept
            else:
                one_line = [
                    str(mtail_binary()),
                    "--progs",
                    str(progs),
                    "--logs",
                    str(log),
                    "--one_shot",
                    "--one_shot_format",
                    "prometheus",
                ]
                env = CHILD_ENV
            dry = [timed(one_line, work, env) for _ in range(repeat)]
            print(f"{kind:<10} first /metrics answer          {1000 * statistics.median(first):>8.0f} ms")
            if again:
                print(f"{kind:<10}   started again (compiled)     {1000 * statistics.median(again):>8.0f} ms")
            print(f"{kind:<10} one-line dry-run / one_shot    {1000 * statistics.median(dry):>8.0f} ms")
            if uncached:
                ms = 1000 * statistics.median(uncached)
                print(f"{kind:<10}   nothing compiled before      {ms:>8.0f} ms")
            sys.stdout.flush()
    finally:
        shutil.rmtree(work, ignore_errors=True)


CASES = ("follow", "cardinality", "scrape", "startup")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (default 3)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the writer writes (default 5)")
    parser.add_argument(
        "--only", default=",".join(CASES), help=f"comma-separated cases (default all: {','.join(CASES)})"
    )
    args = parser.parse_args(argv)
    kinds = ["logmetrics"] + (["mtail"] if mtail_binary() else [])
    if len(kinds) == 1:
        print("mtail is not on the PATH: measuring logmetrics alone", file=sys.stderr)
    print(f"# medians of {args.repeat} runs; {os.cpu_count()} cores; ratio = logmetrics / mtail")
    chosen = args.only.split(",")
    if "startup" in chosen:
        case_startup(kinds, args.repeat)
    if "follow" in chosen:
        case_follow(kinds, args.repeat, args.seconds)
    if "cardinality" in chosen:
        case_cardinality(kinds, args.repeat, args.seconds)
    if "scrape" in chosen:
        case_scrape(kinds, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
