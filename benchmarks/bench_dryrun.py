"""Dry-run throughput on the real Apache combined log, with baselines in the same run.

Measures (median of --repeat runs, each a fresh process):
  - the hand-written loop baseline (benchmarks/baseline_loop.py),
  - logmetrics dry-run of the bundled apache_access.mtail,
  - the same counts written with %{HTTPD_COMBINEDLOG} (examples/apache_grok.mtail),
  - logmetrics dry-run of mtail's own apache_combined.mtail (when mtail's examples are installed),
  - mtail --one_shot on apache_combined.mtail (when the mtail binary is installed),
  - all bundled programs at once, each on its own log (Apache and nginx access and error logs),
    and all of them on every line of the Apache log (mtail's way: every program reads every line),
  - the bundled program on 100,000 and 1,000,000 lines: peak RSS must stay flat,
  - the bundled program on the same lines with a new second on every line (what strptime costs
    when its time cache never hits).
"""

from __future__ import annotations

import argparse
import datetime
import re
from pathlib import Path

from common import (
    APACHE_LOG_GZ,
    REPO,
    SHARED_DATA,
    Result,
    logmetrics_argv,
    measure,
    mtail_binary,
    plain_copy,
)

MTAIL_APACHE = Path("/usr/share/doc/mtail/examples/apache_combined.mtail")


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (default 5)")
    args = parser.parse_args(argv)
    if not APACHE_LOG_GZ.exists():
        raise SystemExit(f"missing test data: {APACHE_LOG_GZ}")
    log, lines = plain_copy(APACHE_LOG_GZ)
    results = []
    baseline = measure("hand-written re loop (baseline)",
                       [*logmetrics_argv()[:1], str(REPO / "benchmarks" / "baseline_loop.py"), str(log)],
                       lines, args.repeat)
    results.append(baseline)
    bundled = REPO / "programs" / "apache_access.mtail"
    results.append(measure("logmetrics dry-run apache_access.mtail",
                           logmetrics_argv("dry-run", "-q", "--progs", str(bundled), str(log)),
                           lines, args.repeat))
    grok = REPO / "examples" / "apache_grok.mtail"
    results.append(measure("logmetrics dry-run apache_grok.mtail (grok)",
                           logmetrics_argv("dry-run", "-q", "--progs", str(grok), str(log)),
                           lines, args.repeat))
    if MTAIL_APACHE.exists():
        results.append(measure("logmetrics dry-run mtail apache_combined.mtail",
                               logmetrics_argv("dry-run", "-q", "--progs", str(MTAIL_APACHE), str(log)),
                               lines, args.repeat))
        mtail = mtail_binary()
        if mtail:
            results.append(measure("mtail --one_shot apache_combined.mtail",
                                   [mtail, "--one_shot", "--one_shot_format=prometheus",
                                    "--progs", str(MTAIL_APACHE), "--logs", str(log)],
                                   lines, args.repeat))
    results.extend(all_programs(log, lines, args.repeat))
    seconds = every_second(log)
    results.append(measure("logmetrics dry-run apache_access.mtail, a new second on every line",
                           logmetrics_argv("dry-run", "-q", "--progs", str(bundled), str(seconds)),
                           lines, args.repeat))
    seconds.unlink()
    flat = []
    for size in (100_000, 1_000_000):
        sized, count = plain_copy(APACHE_LOG_GZ, lines=size)
        flat.append(measure(f"logmetrics dry-run apache_access.mtail, {count:,} lines",
                            logmetrics_argv("dry-run", "-q", "--progs", str(bundled), str(sized)),
                            count, args.repeat))
        sized.unlink()
    print(f"# dry-run on {APACHE_LOG_GZ.name}: {lines:,} lines, median of {args.repeat} runs")
    for result in results:
        print(result.line(baseline))
    for result in flat:
        print(result.line())
    print(f"# peak RSS, 1,000,000 lines vs 100,000 lines: x{flat[1].peak_rss_mb / flat[0].peak_rss_mb:.2f}")
    by_name = {r.name: r for r in results}
    mtail_result = by_name.get("mtail --one_shot apache_combined.mtail")
    if mtail_result is not None:
        for name in ("logmetrics dry-run mtail apache_combined.mtail",
                     "logmetrics dry-run apache_grok.mtail (grok)"):
            ratio = by_name[name].lines_per_cpu_s / mtail_result.lines_per_cpu_s
            print(f"# {name}: x{ratio:.2f} mtail's lines per CPU-second")
    log.unlink()
    return results


def every_second(log: Path) -> Path:
    """A copy of ``log`` whose times ([01/Nov/2026:00:00:00 +0000] on) go up by a second a line."""
    copy = log.with_name("every_second.log")
    stamp = re.compile(r"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]")
    start = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
    with open(log, encoding="utf-8") as lines, open(copy, "w", encoding="utf-8") as out:
        for number, line in enumerate(lines):
            when = start + datetime.timedelta(seconds=number)
            out.write(stamp.sub(when.strftime("[%d/%b/%Y:%H:%M:%S +0000]"), line, count=1))
    return copy


def all_programs(apache_log: Path, apache_lines: int, repeat: int) -> list[Result]:
    """Every bundled program at once: each bound to its own log, then all on every Apache line."""
    sources = {"apache_error": SHARED_DATA / "apache" / "error.log.gz",
               "nginx_access": SHARED_DATA / "nginx" / "access_combined.log.gz",
               "nginx_error": SHARED_DATA / "nginx" / "error.log.gz"}
    if not all(path.exists() for path in sources.values()):
        return []
    copies = {name: plain_copy(path) for name, path in sources.items()}
    bound = [f"apache_access={apache_log}"] + [f"{name}={path}" for name, (path, _) in copies.items()]
    total = apache_lines + sum(count for _, count in copies.values())
    results = [
        measure("logmetrics dry-run, all bundled programs, each on its own log",
                logmetrics_argv("dry-run", "-q", *bound), total, repeat),
        measure("logmetrics dry-run, all bundled programs on every Apache line",
                logmetrics_argv("dry-run", "-q", "--progs", str(REPO / "programs"), str(apache_log)),
                apache_lines, repeat),
    ]
    for path, _ in copies.values():
        path.unlink()
    return results


if __name__ == "__main__":
    main()
