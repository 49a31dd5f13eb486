"""Measuring commands: wall and CPU time, peak RSS, medians of several runs.

Each measured run is a fresh subprocess, reaped with ``os.wait4`` so that its
own CPU time and peak RSS are read, not those of the benchmark driver.
"""

from __future__ import annotations

import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Beside the repository, or beside a folder of worktrees that holds it.
SHARED_DATA = next((folder / "shared" / "data" for folder in REPO.parents
                    if (folder / "shared" / "data").is_dir()), REPO.parent / "shared" / "data")
APACHE_LOG_GZ = SHARED_DATA / "apache" / "access_combined.log.gz"


@dataclass
class Run:
    wall: float
    cpu: float
    peak_rss_mb: float


@dataclass
class Result:
    name: str
    lines: int
    runs: list[Run]

    @property
    def lines_per_s(self) -> float:
        return self.lines / statistics.median(r.wall for r in self.runs)

    @property
    def lines_per_cpu_s(self) -> float:
        return self.lines / statistics.median(r.cpu for r in self.runs)

    @property
    def peak_rss_mb(self) -> float:
        return statistics.median(r.peak_rss_mb for r in self.runs)

    def line(self, baseline: Result | None = None) -> str:
        text = (f"{self.name:<48} {self.lines_per_s:>12,.0f} lines/s  "
                f"{self.lines_per_cpu_s:>12,.0f} lines/CPU-s  {self.peak_rss_mb:>7.1f} MB peak RSS")
        if baseline is not None and baseline is not self:
            text += f"  x{self.lines_per_cpu_s / baseline.lines_per_cpu_s:.2f} vs {baseline.name}"
        return text


#: The measured commands run as an installed package does: with its bytecode cached (pip compiles
#: it at install). An environment with PYTHONDONTWRITEBYTECODE set would make every run compile
#: logmetrics' modules from source again, about 40 ms of a dry-run's start-up.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(name: str, argv: list[str], lines: int, repeat: int) -> Result:
    """Run ``argv`` once unmeasured (bytecode and page cache warm), then ``repeat`` times measured;
    its stdout is discarded."""
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CHILD_ENV, check=False)
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=CHILD_ENV)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err = proc.stderr.read().decode() if proc.stderr else ""
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{name}: {' '.join(argv)} failed ({proc.returncode}):\n{err}")
        runs.append(Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024))
    return Result(name, lines, runs)


def plain_copy(gz_path: Path, lines: int | None = None) -> tuple[Path, int]:
    """Decompress a log into a temporary file (every tool then reads the same plain file).

    With ``lines``, the log is repeated or cut to that many lines. Streamed, so
    that the driver stays small: a forked child starts with the driver's memory,
    which would show in its peak RSS.
    """
    tmp = Path(tempfile.mkdtemp(prefix="logmetrics-bench-")) / gz_path.name.removesuffix(".gz")
    written = 0
    with open(tmp, "w", encoding="utf-8") as out:
        while lines is None or written < lines:
            with gzip.open(gz_path, "rt", encoding="utf-8") as f:
                for line in f:
                    if lines is not None and written >= lines:
                        break
                    out.write(line)
                    written += 1
            if lines is None:
                break
    return tmp, written


def logmetrics_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "logmetrics", *args]


def mtail_binary() -> str | None:
    return shutil.which("mtail")
