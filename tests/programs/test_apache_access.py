"""The bundled Apache program on real Apache logs, checked against an independent count."""

from __future__ import annotations

import gzip
from collections import Counter

import pytest

from logmetrics.resources import bundled_programs_dir
from logmetrics.runtime.program import Program
from tests.helpers import REPO, SHARED_DATA, library

REAL_LOG = SHARED_DATA / "apache" / "access_combined.log.gz"
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
                 "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK"}


def quoted_fields(line: str) -> tuple[list[str], list[str]] | None:
    """Split a log line into bare words and quoted strings, honouring backslash escapes.

    A deliberately different method from the program's regex: a character scanner.
    """
    words: list[str] = []
    quoted: list[str] = []
    i, n = 0, len(line)
    while i < n:
        if line[i] == " ":
            i += 1
        elif line[i] == '"':
            j, buf = i + 1, []
            while j < n and line[j] != '"':
                if line[j] == "\\" and j + 1 < n:
                    buf.append(line[j + 1])
                    j += 2
                else:
                    buf.append(line[j])
                    j += 1
            if j >= n:
                return None
            quoted.append("".join(buf))
            words.append("\0q")
            i = j + 1
        elif line[i] == "[":
            j = line.find("]", i)
            if j < 0:
                return None
            words.append(line[i : j + 1])
            i = j + 1
        else:
            j = line.find(" ", i)
            j = n if j < 0 else j
            words.append(line[i:j])
            i = j
    return words, quoted


def independent_count(lines):
    """Requests and bytes by (method, status), and unparsed lines, without any regex."""
    requests: Counter = Counter()
    sent: Counter = Counter()
    unparsed = 0
    for line in lines:
        split = quoted_fields(line)
        if split is None:
            unparsed += 1
            continue
        words, quoted = split
        try:
            q = words.index("\0q")
            status, size = words[q + 1], words[q + 2]
        except (ValueError, IndexError):
            unparsed += 1
            continue
        if not (len(status) == 3 and status.isdigit()) or q < 4 or not words[q - 1].startswith("["):
            unparsed += 1
            continue
        parts = quoted[0].split(" ")
        method = parts[0] if len(parts) > 1 and parts[0] in KNOWN_METHODS else "other"
        requests[(method, status)] += 1
        if size != "-":
            sent[(method, status)] += int(size)
    return requests, sent, unparsed


def apache_program() -> Program:
    return Program.load(bundled_programs_dir() / "apache_access.mtail", library())


def run_program(lines: list[str]) -> Program:
    program = apache_program()
    for start in range(0, len(lines), 4096):
        program.run(lines[start : start + 4096], "access.log")
    return program


@pytest.mark.skipif(not REAL_LOG.exists(), reason="shared test data is not present")
def test_every_line_of_the_real_combined_log_is_counted_exactly():
    with gzip.open(REAL_LOG, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert len(lines) == 345_562
    program = run_program(lines)
    requests, sent, unparsed = independent_count(lines)
    assert dict(program.metrics["apache_http_requests_total"].values) == dict(requests)
    assert dict(program.metrics["apache_http_response_bytes_total"].values) == dict(sent)
    assert program.metrics["apache_log_lines_unparsed_total"].values[()] == unparsed == 0
    assert sum(program.metrics["apache_http_requests_total"].values.values()) == len(lines)
    assert program.stats.runtime_errors == 0
    assert program.stats.lines_matched == len(lines)


def test_real_world_oddities_from_a_real_apache():
    """examples/apache_access.log holds real Apache 2.4 output: IPv6 clients, garbage
    request lines logged with 400, a client that sent nothing ("-" 408), an unknown
    method (501), escaped quotes in the request and the user agent, "-" bytes, and an
    error-log line that does not belong there."""
    lines = (REPO / "examples" / "apache_access.log").read_text(encoding="utf-8").splitlines()
    program = run_program(lines)
    requests = program.metrics["apache_http_requests_total"].values
    expected, sent, unparsed = independent_count(lines)
    assert dict(requests) == dict(expected)
    assert dict(program.metrics["apache_http_response_bytes_total"].values) == dict(sent)
    assert requests[("other", "400")] == 2  # "GARBAGE" and a TLS handshake sent to port 80
    assert requests[("other", "408")] == 1  # "-": the client sent nothing
    assert requests[("other", "501")] == 1  # FOO / HTTP/1.1
    assert requests[("PUT", "405")] >= 1  # from ::1
    assert program.metrics["apache_log_lines_unparsed_total"].values[()] == unparsed == 1
    assert program.stats.runtime_errors == 0


def test_latency_histogram_from_percent_d():
    lines = (REPO / "examples" / "apache_access.duration.log").read_text(encoding="utf-8").splitlines()
    program = run_program(lines)
    histogram = program.metrics["apache_http_request_duration_seconds"]
    micros = [int(line.rsplit(" ", 1)[1]) for line in lines]
    total_count = sum(sum(v[:-1]) for v in histogram.values.values())
    total_sum = sum(v[-1] for v in histogram.values.values())
    assert total_count == len(lines)
    assert total_sum == pytest.approx(sum(micros) / 1e6)
    assert program.metrics["apache_log_lines_unparsed_total"].values[()] == 0


def test_vhost_prefix_and_common_format_and_t_slash_d():
    lines = [
        'www.example.org:443 2001:db8::1 - bob [25/Nov/2026:04:32:49 +0000] "GET / HTTP/2.0" 200 6 "-" "x"',
        '192.0.2.1 - - [25/Nov/2026:04:32:49 +0000] "POST /f HTTP/1.1" 201 -',
        '192.0.2.1 - - [25/Nov/2026:04:32:49 +0000] "GET /slow HTTP/1.1" 200 10 "-" "y" 2/2500000',
    ]
    program = run_program(lines)
    assert dict(program.metrics["apache_http_requests_total"].values) == {
        ("GET", "200"): 2, ("POST", "201"): 1,
    }
    histogram = program.metrics["apache_http_request_duration_seconds"].values[("GET", "200")]
    assert histogram[-1] == pytest.approx(2.5)


@pytest.mark.skipif(not REAL_LOG.exists(), reason="shared test data is not present")
def test_the_grok_version_counts_the_same_on_the_real_log():
    with gzip.open(REAL_LOG, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    program = Program.load(REPO / "examples" / "apache_grok.mtail", library())
    for start in range(0, len(lines), 4096):
        program.run(lines[start : start + 4096], "access.log")
    requests, sent, _ = independent_count(lines)
    assert dict(program.metrics["apache_http_requests_total"].values) == dict(requests)
    assert dict(program.metrics["apache_http_response_bytes_total"].values) == dict(sent)
