"""Real servers end to end: Apache httpd or nginx writes its access log, a load generator sends a
known mix of requests, logmetrics follows the log, a real Prometheus scrapes logmetrics, and a PromQL
query through Prometheus's HTTP API returns, per status, the requests the client received.

Each server is started by the test on loopback, with its own configuration; a test skips when
apache2, nginx or prometheus is not installed (``.ci/run`` installs them from Debian's packages).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import realservers
from tests.cli.test_daemon import Daemon, wait_for

ROUNDS = 15


def per_status(prometheus: realservers.Prometheus, metric: str) -> dict[str, float]:
    return {r["metric"]["status"]: float(r["value"][1])
            for r in prometheus.query(f"sum by (status) ({metric})")}


def _run(tmp_path: Path, server: realservers.WebServer, program: str, error_program: str,
         prefix: str) -> None:
    realservers.require(realservers.PROMETHEUS, "prometheus")
    daemon = Daemon(tmp_path, Path(program), f"{program}={server.access_log}", "--logs",
                    f"{error_program}={server.error_log}", "--from", "beginning")
    try:
        with realservers.prometheus(tmp_path / "prometheus", f"127.0.0.1:{daemon.port}") as prom:
            sent = realservers.send_mix(server.port, ROUNDS)
            expected = {status: float(n) for status, n in sent.items()}
            requests = f"{prefix}_http_requests_total"
            assert wait_for(lambda: per_status(prom, requests) == expected, timeout=40), (
                per_status(prom, requests), expected)
            # Every line of the access log was a request: nothing unparsed, and the histogram (where
            # the format has a duration) counted each request once.
            unparsed = prom.query(f"{prefix}_log_lines_unparsed_total")
            assert [float(r["value"][1]) for r in unparsed] == [0.0]
            total = sum(sent.values())
            durations = prom.query(f"sum({prefix}_http_request_duration_seconds_count)")
            assert [float(r["value"][1]) for r in durations] == [float(total)]
            # The error log: the denied /private/ requests at error level, reached through Prometheus.
            denied = f'sum({prefix}_error_log_messages_total{{level="error"}})'

            def errors() -> float:
                result = prom.query(denied)
                return float(result[0]["value"][1]) if result else 0.0

            assert wait_for(lambda: errors() >= sent["403"], timeout=20), errors()
            assert prom.query('up{job="logmetrics"} == 1')
    finally:
        assert daemon.stop() == 0


def test_apache_to_logmetrics_to_prometheus(tmp_path):
    with realservers.apache(tmp_path / "apache", log_format="timed") as server:
        _run(tmp_path, server, "apache_access", "apache_error", "apache")


def test_nginx_to_logmetrics_to_prometheus(tmp_path):
    with realservers.nginx(tmp_path / "nginx", timed=True) as server:
        _run(tmp_path, server, "nginx_access", "nginx_error", "nginx")


@pytest.mark.parametrize("which", ["apache", "nginx"])
def test_combined_format_without_durations(tmp_path, which):
    """The predefined combined formats, as most servers run: counts per status, no histogram."""
    realservers.require(realservers.PROMETHEUS, "prometheus")
    start = realservers.apache if which == "apache" else realservers.nginx
    with start(tmp_path / which) as server:
        daemon = Daemon(tmp_path, Path(f"{which}_access"), str(server.access_log), "--from", "beginning")
        try:
            with realservers.prometheus(tmp_path / "prometheus", f"127.0.0.1:{daemon.port}") as prom:
                sent = realservers.send_mix(server.port, 5)
                expected = {status: float(n) for status, n in sent.items()}
                metric = f"{which}_http_requests_total"
                assert wait_for(lambda: per_status(prom, metric) == expected, timeout=40), (
                    per_status(prom, metric), expected)
                assert prom.query(f"{which}_http_request_duration_seconds_count") == []
        finally:
            assert daemon.stop() == 0
