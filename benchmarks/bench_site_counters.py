"""What do the match inspector's per-pattern-site counters cost on the hot path?

The bundled programs are compiled twice, with the counters and without
(``count_sites=False``, which exists for this measurement), and the same
lines of a real Apache access log go through each, in alternation, several
times; the CPU time per line is compared. The goal: under 5% more.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time

from common import APACHE_LOG_GZ

from logmetrics.grok import PatternLibrary
from logmetrics.lang.compiler import compile_program
from logmetrics.resources import bundled_program

BATCH = 1_000


def cpu_per_line(process, lines: list[str]) -> float:
    started = time.process_time()
    for i in range(0, len(lines), BATCH):
        process(lines[i:i + BATCH], "access.log", None, lambda exc, line: None)
    return (time.process_time() - started) / len(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7, help="runs of each variant (default 7)")
    parser.add_argument("--lines", type=int, default=200_000, help="lines of the log to use")
    args = parser.parse_args()
    with gzip.open(APACHE_LOG_GZ, "rt", encoding="utf-8", errors="replace") as f:
        lines = [line.rstrip("\n") for _, line in zip(range(args.lines), f, strict=False)]
    library = PatternLibrary.load()
    worst = 0.0
    for name in ("apache_access", "nginx_access"):
        path = bundled_program(name)
        assert path is not None
        text = path.read_text(encoding="utf-8")
        timings: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.repeat):
            for counting in (False, True):
                # A fresh compile per run: each starts from empty metrics, as a daemon does.
                program = compile_program(text, str(path), library, count_sites=counting)
                timings[counting].append(cpu_per_line(program.process, lines))
        without, with_ = statistics.median(timings[False]), statistics.median(timings[True])
        cost = (with_ / without - 1) * 100
        worst = max(worst, cost)
        print(f"{name:<14} {len(lines):,} lines: without counters {without * 1e6:.2f} µs/line, "
              f"with {with_ * 1e6:.2f} µs/line: {cost:+.1f}%")
    print(f"worst: {worst:+.1f}% (goal: under +5%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
