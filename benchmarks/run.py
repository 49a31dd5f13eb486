"""Run every benchmark: ``python benchmarks/run.py [--repeat N]``.

Each prints lines/s (wall and per CPU-second), peak RSS, and ratios against a
baseline measured in the same run; the machines are shared and noisy, so
compare ratios, not absolute figures.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["bench_dryrun.py", "bench_read_path.py", "bench_scrape_load.py", "bench_status_page.py",
              "bench_backfill.py", "bench_site_counters.py", "bench_http_abuse.py"]


def main() -> int:
    status = 0
    for name in BENCHMARKS:
        script = HERE / name
        if not script.exists():
            continue
        print(f"== {name}", flush=True)
        status |= subprocess.call([sys.executable, str(script), *sys.argv[1:]], cwd=HERE)
    return status


if __name__ == "__main__":
    sys.exit(main())
