"""dry-run and check end to end through the installed console script."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

SCRIPT = Path(sys.executable).with_name("logmetrics")
EXAMPLE = REPO / "examples" / "apache_access.log"
APACHE = REPO / "programs" / "apache_access.mtail"

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="the logmetrics console script is not installed")


def cli(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], input=stdin, capture_output=True, cwd=cwd, timeout=120)


def test_help_is_complete():
    top = cli("--help")
    assert top.returncode == 0
    for command in (b"check", b"dry-run", b"test", b"run"):
        assert command in top.stdout
    dry = cli("dry-run", "--help").stdout.decode()
    for option in ("--progs", "--patterns", "--format", "--prog-label", "--show-unmatched", "--progress",
                   "PROGRAM=FILE"):
        assert option in dry
    test = cli("test", "--help").stdout.decode()
    for option in ("--progs", "--patterns", "--update", "PROGRAM[.CASE].prom"):
        assert option in test
    run = cli("run", "--help").stdout.decode()
    for option in ("--logs", "PROGRAM=GLOB", "--listen", "--textfile", "--textfile-interval", "--web-config",
                   "--state-dir", "--from", "--no-checkpoint", "--poll", "--max-label-sets"):
        assert option in run
    for name in ("apache_access", "apache_error", "nginx_access", "nginx_error"):
        assert name.encode() in top.stdout  # the bundled programs are listed


def test_dry_run_bundled_example_matches_the_expected_output(tmp_path):
    # From another directory, to prove the bundled programs are found from anywhere.
    result = cli("dry-run", str(EXAMPLE), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected = (REPO / "examples" / "apache_access.prom").read_text(encoding="utf-8")
    assert result.stdout.decode() == expected
    report = result.stderr.decode()
    assert "80 lines from 1 file(s)" in report
    assert "apache_access.mtail: 79 lines matched" in report
    assert "matched by no program: 1 lines" in report
    assert f"{EXAMPLE}:80: [Wed Nov 25" in report


def test_dry_run_reads_stdin_and_gzip(tmp_path):
    data = EXAMPLE.read_bytes()
    gz = tmp_path / "access.log.gz"
    gz.write_bytes(gzip.compress(data))
    from_stdin = cli("dry-run", "--progs", str(APACHE), "-", stdin=data)
    from_gz = cli("dry-run", "--progs", str(APACHE), str(gz))
    plain = cli("dry-run", "--progs", str(APACHE), str(EXAMPLE))
    assert from_stdin.returncode == from_gz.returncode == plain.returncode == 0
    assert from_stdin.stdout == from_gz.stdout == plain.stdout
    assert b"<stdin>" not in from_gz.stderr and b"80 lines" in from_stdin.stderr


def test_dry_run_formats(tmp_path):
    as_json = json.loads(cli("dry-run", "--format", "json", "-q", str(EXAMPLE)).stdout)
    requests = next(m for m in as_json if m["name"] == "apache_http_requests_total")
    assert sum(s["value"] for s in requests["series"]) == 79
    om = cli("dry-run", "--format", "openmetrics", "-q", str(EXAMPLE)).stdout.decode()
    assert om.endswith("# EOF\n") and "apache_http_requests_total{" in om
    labelled = cli("dry-run", "--prog-label", "-q", str(EXAMPLE)).stdout.decode()
    assert 'prog="apache_access.mtail"' in labelled


def test_dry_run_progress_on_request(tmp_path):
    big = tmp_path / "big.log"
    big.write_bytes(EXAMPLE.read_bytes() * 4000)
    result = cli("dry-run", "--progress", "always", "-q", str(big))
    assert result.returncode == 0
    assert b"lines/s" in result.stderr and b"MB" in result.stderr


def test_dry_run_missing_file_is_a_clear_error():
    result = cli("dry-run", "/nonexistent/access.log")
    assert result.returncode == 1
    assert b"/nonexistent/access.log" in result.stderr
    assert b"Traceback" not in result.stderr


def test_check_ok_and_errors(tmp_path):
    ok = cli("check", "--progs", str(APACHE))
    assert ok.returncode == 0 and b"apache_access.mtail: ok" in ok.stdout
    bad = tmp_path / "bad.mtail"
    bad.write_text(
        "counter c by a\n"
        "/(?P<x>\\d+)/ {\n  c[$x][$x]++\n  d++\n}\n"
        "/%{NOSUCHPATTERN:y}/ {\n  c[$y]++\n}\n"
        "/(unclosed/ {\n}\n",
        encoding="utf-8",
    )
    result = cli("check", "--progs", str(bad))
    assert result.returncode == 1
    errors = result.stderr.decode().splitlines()
    assert errors[0].startswith(f"{bad}:3:3: 'c' has 1 label(s)")
    assert errors[1].startswith(f"{bad}:4:3: unknown metric or variable 'd'")
    assert errors[2].startswith(f"{bad}:6:") and "NOSUCHPATTERN" in errors[2]
    assert errors[3].startswith(f"{bad}:9:") and "bad regex" in errors[3]
    assert "Traceback" not in result.stderr.decode()


def test_check_a_folder_and_patterns_dir(tmp_path):
    progs = tmp_path / "progs"
    progs.mkdir()
    shutil.copy(APACHE, progs)
    patterns = tmp_path / "patterns"
    patterns.mkdir()
    (patterns / "mine").write_text("MYWORD [a-z]+\n", encoding="utf-8")
    (progs / "mine.mtail").write_text("counter w by w\n/%{MYWORD:w}/ {\n  w[$w]++\n}\n", encoding="utf-8")
    result = cli("check", "--progs", str(progs), "--patterns", str(patterns))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(b": ok") == 2
    missing = cli("check", "--progs", str(progs))
    assert missing.returncode == 1 and b"MYWORD" in missing.stderr


def test_dry_run_cardinality_guard(tmp_path):
    prog = tmp_path / "paths.mtail"
    prog.write_text("counter hits by path\n/\"\\S+ (?P<path>\\S+)/ {\n  hits[$path]++\n}\n", encoding="utf-8")
    result = cli("dry-run", "--progs", str(prog), "--max-label-sets", "3", str(EXAMPLE))
    assert result.returncode == 0
    assert result.stdout.decode().count("hits_total{") == 3
    assert b"new label sets refused (more than 3" in result.stderr
