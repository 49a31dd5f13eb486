"""backfill's rules on small logs: time order across rotated files, the out-of-order window,
the first increment kept, --since/--until, --label, and the errors a user can meet."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("logmetrics")
pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="the logmetrics console script is not installed")

START = 1793491200  # 2026-11-01T00:00:00Z


def line(seconds: int, status: int = 200, path: str = "/") -> str:
    """An Apache combined line at START + seconds (written with plain formatting)."""
    import time

    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(START + seconds))
    return f'127.0.0.1 - - [{stamp}] "GET {path} HTTP/1.1" {status} 10 "-" "curl/8"'


def backfill(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), "backfill", *args], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)


def samples(out: Path, name: str) -> list[tuple[str, float, int]]:
    """(labels, value, time) of every sample of ``name`` in an OpenMetrics file."""
    found = []
    for text in out.read_text().splitlines():
        m = re.fullmatch(rf"{re.escape(name)}(\{{[^}}]*\}})? (\S+) (\d+)", text)
        if m:
            found.append((m.group(1) or "", float(m.group(2)), int(m.group(3))))
    return found


def test_rotated_generations_in_any_order_give_one_history_in_time_order(tmp_path):
    # Three generations; within each, a line up to 4 minutes late (written when its request ended).
    old = [line(0), line(30), line(90), line(70, 404)]          # 00:00 - 00:01:30
    middle = [line(125), line(180, 500), line(150)]             # 00:02 - 00:03
    current = [line(241), line(300), line(230)]                 # 00:04 - 00:05, one read 70 s late
    with gzip.open(tmp_path / "access.log.2.gz", "wt") as f:
        f.write("\n".join(old) + "\n")
    (tmp_path / "access.log.1").write_text("\n".join(middle) + "\n")
    (tmp_path / "access.log").write_text("\n".join(current) + "\n")
    out = tmp_path / "out.om"
    result = backfill(tmp_path, "--progs", "apache_access", "access.log", "access.log.1", "access.log.2.gz",
                      "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "10 lines from 3 file(s)" in result.stderr and "later than" not in result.stderr
    ok = [s for s in samples(out, "apache_http_requests_total") if 'status="200"' in s[0]]
    # One sample per minute from the first line's minute to the one after the last, cumulative,
    # and a 0 one step before the label set's first line.
    assert [(t - START, v) for _, v, t in ok] == [(0, 0), (60, 2), (120, 3), (180, 5), (240, 6), (300, 7),
                                                   (360, 8)]
    late = [(t - START, v) for labels, v, t in samples(out, "apache_http_requests_total") if "404" in labels]
    assert late[:2] == [(60, 0), (120, 1)]  # the 00:01:10 line, read after 00:01:30, in its own minute
    text = out.read_text()
    assert text.endswith("# EOF\n")
    assert text.count("# TYPE apache_http_requests counter\n") == 1


def test_a_line_later_than_the_window_counts_in_the_oldest_open_step_and_is_reported(tmp_path):
    # Longer than one read (64 KiB), so that the first minutes are done when the late line comes.
    log = tmp_path / "access.log"
    log.write_text("\n".join([*(line(s, path="/" + "x" * 100) for s in range(3000)), line(5)]) + "\n")
    out = tmp_path / "out.om"
    result = backfill(tmp_path, "--progs", "apache_access", str(log), "-o", str(out), "--out-of-order", "1m")
    assert result.returncode == 0, result.stderr
    assert "1 lines came later than --out-of-order allows" in result.stderr
    final = samples(out, "apache_http_requests_total")[-1]
    assert final[1] == 3001  # counted, never dropped


def test_since_until_and_labels(tmp_path):
    log = tmp_path / "access.log"
    log.write_text("\n".join(line(s) for s in range(0, 3600, 60)) + "\n")
    out = tmp_path / "out.om"
    result = backfill(tmp_path, "--progs", "apache_access", str(log), "-o", str(out), "--step", "10m",
                      "--since", "2026-11-01T00:10:00Z", "--until", "2026-11-01T00:40:00Z",
                      "--label", "job=web", "--label", "instance=host:9090")
    assert result.returncode == 0, result.stderr
    assert "30 lines skipped" in result.stderr
    got = samples(out, "apache_http_requests_total")
    assert all('instance="host:9090"' in labels and 'job="web"' in labels for labels, _, _ in got)
    assert [(t - START, v) for _, v, t in got] == [(600, 0), (1200, 10), (1800, 20), (2400, 30)]


def test_a_program_that_reads_no_time_is_refused_with_what_to_do(tmp_path):
    program = tmp_path / "hits.mtail"
    program.write_text("counter hits\n/GET/ {\n  hits++\n}\n")
    (tmp_path / "access.log").write_text(line(0) + "\n")
    result = backfill(tmp_path, "--progs", str(program), "access.log", "-o", "out.om")
    assert result.returncode == 1
    assert f"{program}: reads no time from its lines" in result.stderr
    assert "strptime(" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.om").exists()


def test_missing_log_bad_options_and_no_time_at_all(tmp_path):
    result = backfill(tmp_path, "--progs", "apache_access", "nope.log", "-o", "out.om")
    assert result.returncode == 1 and "nope.log: no such file" in result.stderr
    assert list(tmp_path.iterdir()) == []  # no output, no scratch left behind
    result = backfill(tmp_path, "--progs", "apache_access", "x.log", "-o", "out.om", "--step", "soon")
    assert result.returncode == 2 and "'soon' is not a duration" in result.stderr
    (tmp_path / "garbage.log").write_text("no time here\n")
    result = backfill(tmp_path, "--progs", "apache_access", "garbage.log", "-o", "out.om")
    assert result.returncode == 1 and "no line with a time was read" in result.stderr
    result = backfill(tmp_path, "--progs", "apache_access", "garbage.log", "-o", "missing/out.om")
    assert result.returncode == 1 and "its folder does not exist" in result.stderr
