"""``logmetrics dry-run --explain N``: the per-line trace on a terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("logmetrics")
pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="the logmetrics console script is not installed")

PROGRAM = """\
counter requests_total by method
counter bytes_total

/^(?P<method>[A-Z]+) %{URIPATH:path} %{NUMBER:size:int}$/ {
  requests_total[$method]++
  bytes_total += $size
}
/^never$/ {
  bytes_total += 0
}
"""
LOG = "GET /a 100\nnoise\nPOST /b 20\nGET /c 3\n"


def _dry_run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "web.mtail").write_text(PROGRAM, encoding="utf-8")
    (tmp_path / "app.log").write_text(LOG, encoding="utf-8")
    return subprocess.run([str(SCRIPT), "dry-run", "--progs", "web.mtail", *extra, "app.log"],
                          capture_output=True, text=True, cwd=tmp_path, check=True)


def test_explain_traces_the_first_lines(tmp_path):
    explained = _dry_run(tmp_path, "--explain", "2")
    plain = _dry_run(tmp_path)
    assert explained.stdout == plain.stdout  # explaining changes no metric
    trace = [line for line in explained.stderr.splitlines() if line.startswith("# explain ")]
    assert trace == [
        "# explain app.log:1: GET /a 100",
        "# explain   web.mtail: web.mtail:4 matched  "
        "/^(?P<method>[A-Z]+) %{URIPATH:path} %{NUMBER:size:int}$/ {",
        "# explain       $method = 'GET'",
        "# explain       $size = '100' -> int 100",
        "# explain app.log:2: noise",
        "# explain   web.mtail: no pattern matched",
    ]
