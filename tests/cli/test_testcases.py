"""``logmetrics test`` through the installed console script, run from a folder outside the checkout."""

from __future__ import annotations

import subprocess
from pathlib import Path

from logmetrics.resources import bundled_program_names
from tests.helpers import SCRIPT

COUNTING = "counter lines_total\n/./ {\n  lines_total++\n}\n"


def logmetrics_test(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), "test", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_a_differing_case_with_integer_values_shows_its_diff(tmp_path):
    """Expected values written as integers ("3", as dry-run's own output can be edited to) are
    compared as numbers, and a difference is a diff, not a traceback."""
    (tmp_path / "count.mtail").write_text(COUNTING, encoding="utf-8")
    (tmp_path / "count.log").write_text("a\nb\n", encoding="utf-8")
    (tmp_path / "count.prom").write_text("# TYPE lines_total counter\nlines_total 3\n", encoding="utf-8")
    result = logmetrics_test("--progs", "count.mtail", ".", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "FAIL count.mtail" in result.stdout
    assert "-lines_total 3" in result.stdout and "+lines_total 2" in result.stdout

    (tmp_path / "count.prom").write_text("# TYPE lines_total counter\nlines_total 2\n", encoding="utf-8")
    result = logmetrics_test("--progs", "count.mtail", ".", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS count.mtail" in result.stdout


def test_plain_test_after_install_tests_the_bundled_programs(tmp_path):
    """The bundled programs' cases ship with them: no argument needed, from any folder."""
    result = logmetrics_test(cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in bundled_program_names():
        assert f"PASS {name}.mtail" in result.stdout
    assert "FAIL" not in result.stdout


def test_no_case_found_says_what_to_pass(tmp_path):
    (tmp_path / "count.mtail").write_text(COUNTING, encoding="utf-8")
    result = logmetrics_test("--progs", "count.mtail", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "no test cases found in .:" in result.stderr  # the program's folder, as given
    assert "logmetrics test --progs PROGRAM FOLDER" in result.stderr
