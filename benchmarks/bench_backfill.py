"""backfill's cost next to dry-run's, in the same run, on the same lines.

Measures (median of --repeat runs, each a fresh process) the bundled apache_access.mtail over:
  - the real Apache combined log as it is (345,562 lines written within seconds: one step),
  - the same lines with their %t spread evenly over three days (4,320 one-minute steps, about
    80 lines each), which is what backfill is for: every series is written at every step.
Each backfill is given next to dry-run on the same file (goal: backfill at most 1.5x dry-run's CPU).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from common import APACHE_LOG_GZ, REPO, Result, logmetrics_argv, measure, plain_copy

DAYS = 3


def spread_over_days(log: Path, lines: int) -> Path:
    """A copy of ``log`` whose lines' %t run evenly over DAYS days (in order)."""
    out = log.with_name("spread_" + log.name)
    start = time.mktime((2026, 11, 1, 0, 0, 0, 0, 0, -1))
    every = DAYS * 86400 / max(1, lines)
    with log.open(encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            head, bracket, rest = line.partition("[")
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(start + i * every))
            dst.write(head + bracket + stamp + rest[rest.index("]"):] if bracket else line)
    return out


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (default 5)")
    args = parser.parse_args(argv)
    if not APACHE_LOG_GZ.exists():
        raise SystemExit(f"missing test data: {APACHE_LOG_GZ}")
    log, lines = plain_copy(APACHE_LOG_GZ)
    spread = spread_over_days(log, lines)
    bundled = str(REPO / "programs" / "apache_access.mtail")
    out = Path(tempfile.mkdtemp(prefix="logmetrics-bench-")) / "history.om"
    pairs = []
    for name, path in (("as written (seconds)", log), (f"spread over {DAYS} days", spread)):
        dry = measure(f"dry-run, {name}", logmetrics_argv("dry-run", "-q", "--progs", bundled, str(path)),
                      lines, args.repeat)
        back = measure(f"backfill, {name}",
                       logmetrics_argv("backfill", "-q", "--progs", bundled, str(path), "-o", str(out)),
                       lines, args.repeat)
        pairs.append((dry, back, out.stat().st_size))
    print(f"# backfill vs dry-run on {APACHE_LOG_GZ.name}: {lines:,} lines, median of {args.repeat} runs")
    for dry, back, size in pairs:
        print(dry.line())
        print(back.line(dry) + f"  ({size / 1e6:,.1f} MB written)")
    for dry, back, _size in pairs:
        print(f"# {back.name}: x{dry.lines_per_cpu_s / back.lines_per_cpu_s:.2f} dry-run's CPU (goal <= 1.5)")
    shutil.rmtree(log.parent, ignore_errors=True)  # the copies and the spread log
    shutil.rmtree(out.parent, ignore_errors=True)
    return [r for dry, back, _ in pairs for r in (dry, back)]


if __name__ == "__main__":
    main()
