"""backfill end to end: days of real Apache and nginx logs, real promtool blocks, a real Prometheus.

The logs in tests/data/history were written by the real servers under libfaketime (see
tests/cli/history.py). Each access log is cut into rotated generations (.2.gz, .1, current) given
in a shuffled order; the expected counts per hour and status are taken from the lines with plain
string operations, never with the programs' regexes.
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import json
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import realservers
from tests.helpers import REPO

SCRIPT = Path(sys.executable).with_name("logmetrics")
PROMTOOL = shutil.which("promtool")
HISTORY = REPO / "tests" / "data" / "history"
MIXINS = REPO / "examples" / "mixins"
pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="the logmetrics console script is not installed")


def logmetrics(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def history_lines(name: str) -> list[str]:
    with gzip.open(HISTORY / f"{name}.log.gz", "rt", encoding="utf-8") as f:
        return f.read().splitlines()


def rotate(lines: list[str], folder: Path, name: str) -> list[Path]:
    """The lines as a log rotated twice: NAME.2.gz (oldest), NAME.1, NAME (newest)."""
    folder.mkdir(parents=True, exist_ok=True)
    third = len(lines) // 3
    parts = [lines[:third], lines[third:2 * third], lines[2 * third:]]
    oldest = folder / f"{name}.2.gz"
    with gzip.open(oldest, "wt", encoding="utf-8") as f:
        f.write("\n".join(parts[0]) + "\n")
    middle, newest = folder / f"{name}.1", folder / name
    middle.write_text("\n".join(parts[1]) + "\n")
    newest.write_text("\n".join(parts[2]) + "\n")
    return [oldest, middle, newest]


def access_time_and_status(line: str) -> tuple[float, str]:
    """A combined-format line's %t and status, by plain string operations."""
    stamp = line[line.index("[") + 1:line.index("]")]
    when = datetime.datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z").timestamp()
    request_and_rest = line.split('] "', 1)[1]
    status = request_and_rest.split('" ', 1)[1].split(" ", 1)[0]
    return when, status


def counts_by_hour(lines: list[str]) -> dict[int, Counter[str]]:
    hours: dict[int, Counter[str]] = {}
    for line in lines:
        when, status = access_time_and_status(line)
        hours.setdefault(int(when // 3600) * 3600, Counter())[status] += 1
    return hours


class Prom:
    def __init__(self, port: int) -> None:
        self.port = port

    def api(self, path: str, **params: str) -> list[dict]:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=30) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]["result"]


@contextlib.contextmanager
def prometheus_on(data: Path, workdir: Path, target: str) -> Iterator[Prom]:
    """A real Prometheus over the blocks in ``data`` (kept, however old), scraping ``target``."""
    binary = realservers.require(realservers.PROMETHEUS, "prometheus")
    port = realservers.free_port()
    conf = workdir / "prometheus.yml"
    conf.write_text("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: logmetrics\n"
                    f"    static_configs:\n      - targets: ['{target}']\n")
    with (workdir / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen([binary, f"--config.file={conf}", f"--storage.tsdb.path={data}",
                                 "--storage.tsdb.retention.time=100y",
                                 f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            realservers.wait_until_ready(port, proc, "prometheus")
            yield Prom(port)
        finally:
            realservers._stop(proc)


@contextlib.contextmanager
def daemon(tmp: Path, log: Path) -> Iterator[str]:
    """A logmetrics daemon following ``log`` (for the dashboards' health panels)."""
    port = realservers.free_port()
    with (tmp / "daemon.err").open("wb") as err:
        proc = subprocess.Popen([str(SCRIPT), "run", "--logs", f"apache_access={log}", "--from", "beginning",
                                 "--listen", f"127.0.0.1:{port}", "--state-dir", str(tmp / "state")],
                                stderr=err)
        try:
            realservers.wait_until_listening(port, proc, "logmetrics run")
            yield f"127.0.0.1:{port}"
        finally:
            realservers._stop(proc)


def test_backfilled_history_gives_each_hours_requests_per_status_in_prometheus(tmp_path):
    promtool = realservers.require(PROMTOOL, "promtool")
    apache_lines, nginx_lines = history_lines("apache_access"), history_lines("nginx_access")
    apache = rotate(apache_lines, tmp_path / "apache", "access.log")
    nginx = rotate(nginx_lines, tmp_path / "nginx", "access.log")
    errors = {name: tmp_path / f"{name}.log" for name in ("apache_error", "nginx_error")}
    for name, path in errors.items():
        path.write_text("\n".join(history_lines(name)) + "\n")
    out = tmp_path / "history.om"
    # Generations in a shuffled order: backfill orders them by the lines' time.
    # A 5-minute step keeps promtool's work small; hours are whole steps either way.
    result = logmetrics(
        "backfill", "-o", str(out), "--label", "job=logmetrics", "--step", "5m",
        *(f"apache_access={apache[i]}" for i in (2, 0, 1)), *(f"nginx_access={nginx[i]}" for i in (1, 2, 0)),
        f"apache_error={errors['apache_error']}", f"nginx_error={errors['nginx_error']}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "later than --out-of-order" not in result.stderr, result.stderr  # nothing late: exact counts
    assert f"{len(apache_lines):,} lines matched" in result.stderr
    text = out.read_text()
    assert text.endswith("# EOF\n") and "# TYPE apache_http_requests counter" in text

    data = tmp_path / "data"
    made = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=24h",
                           str(out), str(data)], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr + made.stdout

    live = tmp_path / "live.log"
    live.write_text("\n".join(apache_lines[:50]) + "\n")
    with daemon(tmp_path, live) as target, prometheus_on(data, tmp_path, target) as prom:
        for prefix, lines in (("apache", apache_lines), ("nginx", nginx_lines)):
            hours = counts_by_hour(lines)
            checked = 0
            for hour in sorted(hours)[:-1]:  # the last hour is cut short by the end of the log
                end = hour + 3600
                query = f"sum by (status) (increase({prefix}_http_requests_total[1h]))"
                found = prom.api("query", query=query, time=str(end))
                got = {r["metric"]["status"]: float(r["value"][1]) for r in found}
                want = {status: float(n) for status, n in hours[hour].items()}
                got = {status: n for status, n in got.items() if n or status in want}
                assert got == want, f"{prefix}, hour ending {datetime.datetime.utcfromtimestamp(end)}"
                checked += 1
            assert checked >= 40

        # Every query of every bundled dashboard returns data: history for the programs' panels,
        # the daemon's live series for logmetrics' own health.
        deadline = time.monotonic() + 30
        reading = "rate(logmetrics_log_lines_total[5m])"
        while not prom.api("query", query=reading) and time.monotonic() < deadline:
            time.sleep(0.5)
        first = min(access_time_and_status(apache_lines[0])[0], access_time_and_status(nginx_lines[0])[0])
        start = (int(first) // 600 + 1) * 600  # on whole steps: rate()'s [5m] holds two samples
        empty = []
        for board in sorted(MIXINS.glob("*.dashboard.json")):
            for panel in json.loads(board.read_text())["panels"]:
                for target in panel["targets"]:
                    found = prom.api("query_range", query=target["expr"], start=str(start),
                                     end=str(time.time()), step="600")
                    values = [v[1] for r in found for v in r["values"]]
                    values += [r["value"][1] for r in prom.api("query", query=target["expr"])]  # now
                    if not any(v not in ("NaN", "+Inf", "-Inf") for v in values):
                        empty.append(f"{board.name}: {panel['title']}: {target['expr']}")
        assert not empty, "\n".join(empty)


def test_rules_check_and_their_unit_tests_pass():
    promtool = realservers.require(PROMTOOL, "promtool")
    rules = sorted(MIXINS.glob("*.rules.yml"))
    assert {r.name.split(".")[0] for r in rules} >= {"apache_access", "nginx_access", "apache_error",
                                                     "nginx_error", "logmetrics"}
    checked = subprocess.run([promtool, "check", "rules", *map(str, rules)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for rule_file in rules:
        tests = rule_file.with_suffix(".test.yml")
        alerts = [line.split(":", 1)[1].strip() for line in rule_file.read_text().splitlines()
                  if line.strip().startswith("- alert:")]
        text = tests.read_text()
        for alert in alerts:  # each alert has a case where it fires and one where it stays quiet
            assert f"alertname: {alert}\n" in text, f"{tests.name} does not test {alert}"
        result = subprocess.run([promtool, "test", "rules", tests.name], cwd=MIXINS,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_dashboards_are_generated_from_one_source(tmp_path):
    """The files in examples/mixins are what generate.py writes (no hand edit drifts away)."""
    copy = tmp_path / "mixins"
    shutil.copytree(MIXINS, copy, ignore=shutil.ignore_patterns("*.json", "*.rules.yml"))
    subprocess.run([sys.executable, str(copy / "generate.py")], check=True)
    for made in sorted(copy.glob("*.json")) + sorted(copy.glob("*.rules.yml")):
        assert made.read_text() == (MIXINS / made.name).read_text(), made.name
