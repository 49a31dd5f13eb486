"""Stream sources end to end with real servers: nginx logging to syslog over UDP, Apache piping its
access log into ``logmetrics run --logs -`` (directly, or through util-linux ``logger`` to a unix
socket), and container log files in the CRI and Docker formats written from real nginx output.

Every count is compared with what the client received, never assumed; all on 127.0.0.1 or unix
sockets in the test's folder.
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests import realservers
from tests.cli.test_daemon import SCRIPT, Daemon, free_port, wait_for
from tests.cli.test_end_to_end import per_status

ROUNDS = 5
LOGGER = shutil.which("logger")


def requests_by_status(daemon: Daemon, metric: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in daemon.samples().items():
        if key.startswith(metric + "{"):
            status = key.split("status=", 1)[1].split(",")[0].rstrip("}")
            out[status] = out.get(status, 0.0) + value
    return out


def test_nginx_syslog_udp_access_and_error_logs(tmp_path):
    """nginx sends both logs to one UDP syslog socket; tags route them to the bundled programs."""
    realservers.require(realservers.PROMETHEUS, "prometheus")
    port = free_port()
    source = f"syslog+udp://127.0.0.1:{port}"
    daemon = Daemon(tmp_path, Path("nginx_access"), f"nginx_access={source}?tag=nginx_access",
                    "--logs", f"nginx_error={source}?tag=nginx_error")
    syslog = (f"    access_log syslog:server=127.0.0.1:{port},tag=nginx_access combined;\n"
              f"    error_log syslog:server=127.0.0.1:{port},tag=nginx_error info;\n")
    try:
        with realservers.nginx(tmp_path / "nginx", locations=syslog) as server, \
                realservers.prometheus(tmp_path / "prometheus", f"127.0.0.1:{daemon.port}") as prom:
            sent = realservers.send_mix(server.port, ROUNDS)
            expected = {status: float(n) for status, n in sent.items()}
            assert wait_for(lambda: requests_by_status(daemon, "nginx_http_requests_total") == expected,
                            timeout=30), (requests_by_status(daemon, "nginx_http_requests_total"), expected)
            assert wait_for(lambda: per_status(prom, "nginx_http_requests_total") == expected, timeout=40)
            samples = daemon.samples()
            assert samples["nginx_log_lines_unparsed_total"] == 0
            # The error log through the same socket: the denied /private/ requests, nothing unparsed.
            assert samples['nginx_error_log_messages_total{level=error}'] >= sent["403"]
            assert samples['nginx_error_log_causes_total{cause=forbidden}'] == sent["403"]
            assert samples["nginx_error_log_lines_unparsed_total"] == 0
            assert samples[f"logmetrics_source_malformed_syslog_frames_total{{source={source}}}"] == 0
            assert not server.access_log.exists() or server.access_log.stat().st_size == 0
    finally:
        assert daemon.stop() == 0


def test_apache_piped_log_into_stdin(tmp_path):
    """CustomLog "|logmetrics run --logs - ...": exact counts while Apache runs; when Apache stops,
    logmetrics stops cleanly with its final textfile."""
    port = free_port()
    textfile = tmp_path / "apache.prom"
    state = tmp_path / "state"
    errors = tmp_path / "logmetrics.err"
    # "|$": through a shell, for the redirection; exec, so that Apache's pipe is our stdin alone.
    command = (f"exec {SCRIPT} run --progs apache_access --logs - --listen 127.0.0.1:{port} "
               f"--state-dir {state} --textfile {textfile} 2>>{errors}")
    scrape = Daemon.__new__(Daemon)
    scrape.port = port
    with realservers.apache(tmp_path / "apache", custom_log=f'"|${command}" combined') as server:
        sent = realservers.send_mix(server.port, ROUNDS)
        expected = {status: float(n) for status, n in sent.items()}

        def counts() -> dict[str, float]:
            try:
                return requests_by_status(scrape, "apache_http_requests_total")
            except OSError:
                return {}

        assert wait_for(lambda: counts() == expected, timeout=30), (counts(), expected, errors.read_text())
    # Apache stopped: it terminates its piped loggers (SIGTERM) and closes their input; either way
    # logmetrics stops cleanly and writes the textfile on its way out.
    assert wait_for(lambda: "stopped" in errors.read_text(), timeout=20), errors.read_text()
    assert "Traceback" not in errors.read_text()
    final = textfile.read_text()
    for status, count in sent.items():
        assert sum(float(line.rsplit(" ", 1)[1]) for line in final.splitlines()
                   if line.startswith("apache_http_requests_total{") and f'status="{status}"' in line
                   ) == count


@pytest.mark.skipif(LOGGER is None, reason="util-linux logger is not installed")
def test_apache_through_logger_to_a_unix_syslog_socket(tmp_path):
    """Apache pipes to util-linux logger, which sends RFC 3164 datagrams to our unix socket."""
    sock = tmp_path / "syslog.sock"
    daemon = Daemon(tmp_path, Path("apache_access"), f"apache_access=syslog+unixgram://{sock}?tag=apache_access")
    try:
        command = f"{LOGGER} --rfc3164 -t apache_access -u {sock}"  # "|": Apache runs it without a shell
        with realservers.apache(tmp_path / "apache", custom_log=f'"|{command}" combined') as server:
            sent = realservers.send_mix(server.port, ROUNDS)
            expected = {status: float(n) for status, n in sent.items()}
            assert wait_for(lambda: requests_by_status(daemon, "apache_http_requests_total") == expected,
                            timeout=30), (requests_by_status(daemon, "apache_http_requests_total"), expected)
            assert daemon.samples()["apache_log_lines_unparsed_total"] == 0
    finally:
        assert daemon.stop() == 0


POD_PROGRAM = (
    "counter container_lines_total by namespace, pod, container\n"
    "// {\n  container_lines_total[pod_namespace()][pod_name()][container_name()]++\n}\n"
)


def _to_cri(lines: list[str], rng: random.Random, stream: str = "stdout") -> list[str]:
    """CRI lines as containerd writes them; every third line is cut into P parts."""
    out = []
    for i, line in enumerate(lines):
        stamp = f"2026-11-28T10:00:{i % 60:02d}.{i:09d}Z"
        if i % 3 == 0 and len(line) > 3:
            cuts = sorted(rng.sample(range(1, len(line)), 2))
            parts = [line[:cuts[0]], line[cuts[0]:cuts[1]], line[cuts[1]:]]
            out += [f"{stamp} {stream} P {p}" for p in parts[:-1]] + [f"{stamp} {stream} F {parts[-1]}"]
        else:
            out.append(f"{stamp} {stream} F {line}")
    return out


def _to_docker(lines: list[str], rng: random.Random, stream: str = "stdout") -> list[str]:
    """Docker json-file entries; every third line is split as the daemon splits long lines."""
    out = []
    for i, line in enumerate(lines):
        stamp = f"2026-11-28T10:00:{i % 60:02d}.{i:09d}Z"
        if i % 3 == 0 and len(line) > 2:
            cut = rng.randrange(1, len(line))
            out.append(json.dumps({"log": line[:cut], "stream": stream, "time": stamp}))
            out.append(json.dumps({"log": line[cut:] + "\n", "stream": stream, "time": stamp}))
        else:
            out.append(json.dumps({"log": line + "\n", "stream": stream, "time": stamp}))
    return out


def _metrics_of(tmp_path: Path, name: str, logs: str, *extra: str) -> dict[str, float]:
    """The nginx_* and container_* samples a daemon gives for ``logs``, read from the beginning."""
    folder = tmp_path / name
    folder.mkdir()
    daemon = Daemon(folder, Path("nginx_access"), logs, "--from", "beginning", *extra)
    try:
        wait_for(lambda: daemon.samples().get("logmetrics_lines_total", 0) > 0, timeout=20)
        time.sleep(1.5)  # the whole file is read in one poll or two; let the last ones land
        return {k: v for k, v in daemon.samples().items() if k.startswith(("nginx_", "container_"))}
    finally:
        assert daemon.stop() == 0


@pytest.mark.parametrize("fmt", ["cri", "docker"])
def test_container_logs_give_the_raw_logs_metrics(tmp_path, fmt):
    with realservers.nginx(tmp_path / "nginx", timed=True) as server:
        realservers.send_mix(server.port, ROUNDS)
        assert wait_for(lambda: server.access_log.read_text().count("\n") == ROUNDS * 13, timeout=10)
    raw = server.access_log.read_text().splitlines()
    rng = random.Random(7)
    pods = tmp_path / "var/log/pods"
    log_dir = pods / "shop_web-6f7d9-x2x4z_0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b" / "nginx"
    log_dir.mkdir(parents=True)
    wrapped = _to_cri(raw, rng) if fmt == "cri" else _to_docker(raw, rng)
    (log_dir / "0.log").write_text("\n".join(wrapped) + "\n")
    progs = tmp_path / "pods.mtail"
    progs.write_text(POD_PROGRAM)

    from_raw = _metrics_of(tmp_path, "raw", f"nginx_access={server.access_log}")
    from_container = _metrics_of(tmp_path, fmt, f"nginx_access={fmt}://{pods}/*/*/*.log",
                                 "--progs", str(progs), "--logs", f"pods={fmt}://{pods}/*/*/*.log")
    pod_lines = from_container.pop(
        "container_lines_total{container=nginx,namespace=shop,pod=web-6f7d9-x2x4z}")
    assert pod_lines == len(raw)
    assert from_raw == from_container
    assert from_raw["nginx_log_lines_unparsed_total"] == 0
    assert sum(v for k, v in from_raw.items() if k.startswith("nginx_http_requests_total")) == len(raw)


def _interleave(first: list[str], second: list[str], rng: random.Random) -> list[str]:
    """The two lists merged at random places, each in its own order (as a container writes)."""
    out, i, j = [], 0, 0
    while i < len(first) or j < len(second):
        if j == len(second) or (i < len(first) and rng.random() < 0.6):
            out.append(first[i])
            i += 1
        else:
            out.append(second[j])
            j += 1
    return out


@pytest.mark.parametrize("fmt", ["cri", "docker"])
def test_container_stream_filter_sends_stdout_and_stderr_to_their_programs(tmp_path, fmt):
    """The official nginx image: access log on stdout, error log on stderr, in one file. With
    ?stream= each bundled program reads its own stream and the metrics are the raw logs' metrics."""
    with realservers.nginx(tmp_path / "nginx") as server:
        sent = realservers.send_mix(server.port, ROUNDS)
        assert wait_for(lambda: server.access_log.read_text().count("\n") == ROUNDS * 13, timeout=10)
    access, error = server.access_log.read_text().splitlines(), server.error_log.read_text().splitlines()
    assert len(error) > ROUNDS  # every 403 and 404 is in the error log, with nginx's notices
    rng = random.Random(11)
    wrap = _to_cri if fmt == "cri" else _to_docker
    log_dir = tmp_path / "pods" / "web_nginx-1_0f1e2d3c" / "nginx"
    log_dir.mkdir(parents=True)
    (log_dir / "0.log").write_text(
        "\n".join(_interleave(wrap(access, rng, "stdout"), wrap(error, rng, "stderr"), rng)) + "\n")
    url = f"{fmt}://{tmp_path}/pods/*/*/*.log"

    from_raw = _metrics_of(tmp_path, "raw", f"nginx_access={server.access_log}",
                           "--progs", "nginx_error", "--logs", f"nginx_error={server.error_log}")
    from_container = _metrics_of(tmp_path, fmt, f"nginx_access={url}?stream=stdout",
                                 "--progs", "nginx_error", "--logs", f"nginx_error={url}?stream=stderr")
    assert from_raw == from_container
    assert from_raw["nginx_log_lines_unparsed_total"] == 0
    assert from_raw["nginx_error_log_lines_unparsed_total"] == 0
    assert sum(v for k, v in from_raw.items() if k.startswith("nginx_http_requests_total")) == len(access)
    assert from_raw["nginx_error_log_causes_total{cause=forbidden}"] == sent["403"]
    # Without the filter each program reads the other's stream and counts it as unparsed.
    mixed = _metrics_of(tmp_path, f"{fmt}-mixed", f"nginx_access={url}",
                        "--progs", "nginx_error", "--logs", f"nginx_error={url}")
    assert mixed["nginx_log_lines_unparsed_total"] == len(error)
    assert mixed["nginx_error_log_lines_unparsed_total"] == len(access)


def test_container_stream_filter_bad_value_is_a_clear_error(tmp_path):
    for value, says in [("cri:///var/log/pods/*/*/*.log?stream=both",
                         "?stream=both: a container log's stream is stdout or stderr"),
                        ("syslog+udp://127.0.0.1:5140?stream=stdout",
                         "?stream= chooses a container log's stream"),
                        ("docker:///x/*.log?tag=nginx", "?tag= filters syslog messages, not container logs")]:
        done = subprocess.run([str(SCRIPT), "run", "--progs", "nginx_access", "--logs", value,
                               "--state-dir", str(tmp_path / "state"), "--listen", "127.0.0.1:0"],
                              capture_output=True, text=True, timeout=30, cwd=tmp_path)
        assert done.returncode != 0 and says in done.stderr, (value, done.returncode, done.stderr)


def _dry_run(folder: Path, *files: str) -> tuple[str, str]:
    """(metrics, report) of the installed dry-run over ``files``, run from ``folder``."""
    done = subprocess.run([str(SCRIPT), "dry-run", *files], capture_output=True, text=True, timeout=120,
                          cwd=folder)
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def _matched(report: str) -> list[str]:
    """The report's per-program lines (matched lines, runtime errors) and the unmatched count."""
    return [line.split(" (")[0] for line in report.splitlines() if "matched" in line and ":" in line[:40]]


@pytest.mark.parametrize("fmt", ["cri", "docker"])
def test_dry_run_unwraps_container_logs_as_run_does(tmp_path, fmt):
    """A saved container log (nginx's two logs in one file, cut lines, a gzip copy as the kubelet
    keeps them) gives dry-run the raw logs' metrics and counts, stream by stream."""
    with realservers.nginx(tmp_path / "nginx") as server:
        realservers.send_mix(server.port, ROUNDS)
        assert wait_for(lambda: server.access_log.read_text().count("\n") == ROUNDS * 13, timeout=10)
    access, error = server.access_log.read_text().splitlines(), server.error_log.read_text().splitlines()
    rng = random.Random(5)
    wrap = _to_cri if fmt == "cri" else _to_docker
    saved = tmp_path / "0.log"
    saved.write_text("\n".join(_interleave(wrap(access, rng, "stdout"), wrap(error, rng, "stderr"), rng))
                     + "\nnot a container line\n")
    with gzip.open(tmp_path / "0.log.gz", "wt") as packed:
        packed.write(saved.read_text())

    raw_metrics, raw_report = _dry_run(tmp_path, f"nginx_access={server.access_log}",
                                       f"nginx_error={server.error_log}")
    assert f"# dry-run: {len(access) + len(error):,} lines from 2 file(s)" in raw_report
    for path in (saved, tmp_path / "0.log.gz"):
        metrics, report = _dry_run(tmp_path, f"nginx_access={fmt}://{path}?stream=stdout",
                                   f"nginx_error={fmt}://{path}?stream=stderr")
        assert metrics == raw_metrics
        assert _matched(report) == _matched(raw_report) and len(_matched(report)) == 3
        assert f"# dry-run: {len(access) + len(error):,} lines from 1 file(s)" in report  # read once
        assert f"#   {path}: 1 lines not in the container log format, skipped" in report
    # Unfiltered, each program sees every line of the file: the other stream's lines are unmatched.
    _metrics, mixed = _dry_run(tmp_path, "--progs", "nginx_access", f"{fmt}://{saved}")
    assert f"matched by no program: {len(error):,} lines" in mixed


def test_dry_run_explains_unwrapped_lines_and_refuses_sockets(tmp_path):
    log = tmp_path / "0.log"
    line = '127.0.0.1 - - [28/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 615 "-" "curl/8.0"'
    log.write_text(f"2026-11-28T10:00:00Z stdout P {line[:20]}\n"
                   f"2026-11-28T10:00:00Z stderr F an error line\n"
                   f"2026-11-28T10:00:00Z stdout F {line[20:]}\n")
    done = subprocess.run([str(SCRIPT), "dry-run", "--progs", "nginx_access", "--explain", "5", "-q",
                           f"nginx_access=cri://{log}?stream=stdout"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"# explain {log}[stdout]:1: {line}" in done.stderr, done.stderr
    assert "an error line" not in done.stderr
    assert 'nginx_http_requests_total{method="GET",status="200"} 1' in done.stdout
    refused = subprocess.run([str(SCRIPT), "dry-run", "syslog+udp://127.0.0.1:5140"],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert refused.returncode == 1
    assert "syslog+udp://127.0.0.1:5140: dry-run reads files and standard input, not" in refused.stderr
