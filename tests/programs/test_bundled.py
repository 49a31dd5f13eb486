"""The bundled nginx and error-log programs, and ``logmetrics test`` on every bundled program.

The sample logs in examples/ are real server output (Apache 2.4 and nginx 1.22 on loopback);
the full logs in ../shared/data are checked against counts made without any regex.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from logmetrics.resources import bundled_program_names, bundled_programs_dir
from logmetrics.runtime.engine import Runtime
from logmetrics.runtime.program import Program
from logmetrics.sources.static import read_batches
from tests.helpers import REPO, SHARED_DATA, library

SCRIPT = Path(sys.executable).with_name("logmetrics")
EXAMPLES = REPO / "examples"
METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "PROPFIND",
           "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK"}


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def load_bundled(name: str) -> Program:
    return Program.load(bundled_programs_dir() / f"{name}.mtail", library())


def run_bundled(name: str, source: Path) -> Program:
    program = load_bundled(name)
    runtime = Runtime([program])
    for batch in read_batches(str(source)):
        runtime.process(batch, str(source))
    return program


def gz_lines(path: Path):
    """The lines of a gzipped log, as text."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        yield from f


def shared(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is not here")
    return path


def test_every_bundled_program_has_passing_cases():
    names = bundled_program_names()
    assert {"apache_access", "apache_error", "nginx_access", "nginx_error"} <= set(names)
    result = cli("test", str(EXAMPLES))
    assert result.returncode == 0, result.stdout + result.stderr
    for name in names:
        assert f"PASS {name}.mtail" in result.stdout, f"{name} has no passing case in examples/"
    assert "FAIL" not in result.stdout


def _nginx_counts(path: Path) -> tuple[Counter, Counter, Counter]:
    """Requests, bytes and timed lines per (method, status), by splitting on quotes."""
    requests: Counter = Counter()
    sent: Counter = Counter()
    timed: Counter = Counter()
    for line in gz_lines(path):
        parts = line.split('"')
        request, status_bytes = parts[1], parts[2].split()
        method = request.split(" ", 1)[0] if " " in request else ""
        key = (method if method in METHODS else "other", status_bytes[0])
        requests[key] += 1
        sent[key] += int(status_bytes[1])
        if " rt=" in line:
            timed[key] += 1
    return requests, sent, timed


@pytest.mark.parametrize("log", ["nginx/access_combined.log.gz", "nginx/access_timed.log.gz"])
def test_nginx_access_counts_every_line_of_a_real_log(log):
    path = shared(log)
    program = run_bundled("nginx_access", path)
    requests, sent, timed = _nginx_counts(path)
    assert dict(program.metrics["nginx_http_requests_total"].values) == dict(requests)
    assert dict(program.metrics["nginx_http_response_bytes_total"].values) == dict(sent)
    assert program.metrics["nginx_log_lines_unparsed_total"].values.get((), 0) == 0
    histogram = program.metrics["nginx_http_request_duration_seconds"].values
    assert {key: sum(value[:-1]) for key, value in histogram.items()} == dict(timed)
    if log.endswith("timed.log.gz"):
        assert sum(timed.values()) == sum(requests.values())


def test_nginx_access_reads_a_bare_request_time_and_escape_json():
    lines = [
        '10.0.0.1 - - [25/Nov/2026:02:13:36 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl/8.5.0" 0.250',
        '10.0.0.1 - - [25/Nov/2026:02:13:36 +0000] "POST /b HTTP/1.1" 201 7 "-" "ua \\"q\\"" '
        'request_time=1.500 upstream=x',
        '10.0.0.1 - - [25/Nov/2026:02:13:36 +0000] "" 400 0 "-" "-"',
        "not an access log line",
    ]
    program = load_bundled("nginx_access")
    program.run(lines, "t.log")
    assert dict(program.metrics["nginx_http_requests_total"].values) == {
        ("GET", "200"): 1, ("POST", "201"): 1, ("other", "400"): 1}
    histogram = program.metrics["nginx_http_request_duration_seconds"].values
    assert histogram[("GET", "200")][-1] == pytest.approx(0.25)
    assert histogram[("POST", "201")][-1] == pytest.approx(1.5)
    assert ("other", "400") not in histogram
    assert program.metrics["nginx_log_lines_unparsed_total"].values[()] == 1


def test_apache_error_counts_by_module_and_level_on_a_real_log():
    path = shared("apache/error.log.gz")
    program = run_bundled("apache_error", path)
    expected: Counter = Counter()
    codes: Counter = Counter()
    for line in gz_lines(path):
        module, level = line.split("] [", 2)[1].split(":")
        expected[(module, level)] += 1
        codes[(line.split("] ")[-1].split(":")[0], level)] += 1
    assert dict(program.metrics["apache_error_log_messages_total"].values) == dict(expected)
    assert dict(program.metrics["apache_error_log_codes_total"].values) == dict(codes)
    assert program.metrics["apache_error_log_codes_unparsed_total"].values[()] == 0


def test_apache_error_reads_apache_22_lines_and_counts_strays():
    program = load_bundled("apache_error")
    program.run([
        "[Wed Oct 11 14:32:52 2000] [error] [client 127.0.0.1] client denied by server configuration",
        "[Wed Nov 25 07:11:28.436449 2026] [ssl:warn] [pid 1:tid 1] AH01909: server certificate "
        "does not include an ID which matches the server name",
        "PHP Warning:  something written straight to stderr",
    ], "error.log")
    assert dict(program.metrics["apache_error_log_messages_total"].values) == {
        ("unknown", "error"): 1, ("ssl", "warn"): 1}
    assert dict(program.metrics["apache_error_log_codes_total"].values) == {("AH01909", "warn"): 1}
    assert program.metrics["apache_error_log_lines_unparsed_total"].values[()] == 1


def test_nginx_error_counts_levels_and_causes_on_a_real_log():
    path = shared("nginx/error.log.gz")
    program = run_bundled("nginx_error", path)
    levels: Counter = Counter()
    causes: Counter = Counter()
    for line in gz_lines(path):
        levels[line.split("[", 1)[1].split("]", 1)[0]] += 1
        if "(2: No such file or directory)" in line:
            causes["not_found"] += 1
        if "access forbidden by rule" in line or ("directory index of" in line
                                                  and "is forbidden" in line):
            causes["forbidden"] += 1
    metrics = program.metrics
    assert dict(metrics["nginx_error_log_messages_total"].values) == {(k,): v for k, v in levels.items()}
    assert dict(metrics["nginx_error_log_causes_total"].values) == {(k,): v for k, v in causes.items()}
    assert sum(levels.values()) == 20000


def test_logmetrics_test_reports_a_diff_and_update_writes_the_expected_file(tmp_path):
    (tmp_path / "count.mtail").write_text(
        "counter hits_total by word\n/^hit (?P<word>\\w+)$/ {\n  hits_total[$word]++\n}\n")
    (tmp_path / "count.log").write_text("hit a\nhit b\nhit a\nmiss\n")
    (tmp_path / "count.other.log").write_text("hit c\n")
    (tmp_path / "unrelated.log").write_text("ignored: no program is called unrelated\n")
    missing = cli("test", "--progs", str(tmp_path / "count.mtail"))
    assert missing.returncode == 1
    assert "no expected metrics in" in missing.stdout and "--update" in missing.stdout

    updated = cli("test", "--progs", str(tmp_path / "count.mtail"), "--update")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "2 updated" in updated.stdout
    assert 'hits_total{word="a"} 2.0' in (tmp_path / "count.prom").read_text()
    assert 'hits_total{word="c"} 1.0' in (tmp_path / "count.other.prom").read_text()

    passing = cli("test", "--progs", str(tmp_path / "count.mtail"), str(tmp_path))
    assert passing.returncode == 0, passing.stdout
    assert "PASS count.mtail" in passing.stdout and "(4 lines, 1 unmatched)" in passing.stdout
    assert "unrelated" not in passing.stdout

    with (tmp_path / "count.log").open("a") as f:
        f.write("hit a\nhit z\n")
    failing = cli("test", "--progs", str(tmp_path / "count.mtail"), str(tmp_path / "count.log"))
    assert failing.returncode == 1
    assert '-hits_total{word="a"} 2' in failing.stdout
    assert '+hits_total{word="a"} 3' in failing.stdout
    assert '+hits_total{word="z"} 1' in failing.stdout
    assert "1 failed" in failing.stdout and "failed" in failing.stderr


def test_logmetrics_test_binds_a_log_to_a_program_and_names_bad_paths(tmp_path):
    sample = tmp_path / "today.txt"
    sample.write_bytes((EXAMPLES / "nginx_error.log").read_bytes())
    (tmp_path / "today.prom").write_text((EXAMPLES / "nginx_error.prom").read_text())
    bound = cli("test", "--progs", "nginx_error", f"nginx_error={sample}")
    assert bound.returncode == 0, bound.stdout + bound.stderr
    assert "PASS nginx_error.mtail" in bound.stdout

    unnamed = cli("test", "--progs", "nginx_error", str(sample))
    assert unnamed.returncode == 1
    assert "no loaded program is named after this file" in unnamed.stderr
    absent = cli("test", str(tmp_path / "absent.log"))
    assert absent.returncode == 1 and "no such sample log" in absent.stderr
    empty = cli("test", str(tmp_path / "nothing-here"))
    assert empty.returncode == 1


def test_cookbook_programs_pass_their_cases():
    cookbook = EXAMPLES / "cookbook"
    result = cli("test", "--progs", str(cookbook))
    assert result.returncode == 0, result.stdout + result.stderr
    programs = sorted(p.stem for p in cookbook.glob("*.mtail"))
    assert programs
    for name in programs:
        assert f"PASS {name}.mtail" in result.stdout


def test_logmetrics_test_names_a_malformed_expected_file(tmp_path):
    (tmp_path / "p.mtail").write_text("counter c\n/x/ {\n  c++\n}\n")
    (tmp_path / "p.log").write_text("x\n")
    (tmp_path / "p.prom").write_text("garbage {{{\n")
    result = cli("test", "--progs", str(tmp_path / "p.mtail"))
    assert result.returncode == 1
    assert "p.prom is not in the Prometheus text format" in result.stdout
    assert "Traceback" not in result.stderr
