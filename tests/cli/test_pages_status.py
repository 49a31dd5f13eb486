"""The daemon's status page, inspector and /json: in a real headless browser, against self-metrics."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt
import pytest

from tests.cli.browser import browser, resize, screenshot  # noqa: F401 - the fixture
from tests.cli.test_daemon import Daemon, wait_for

# Two pattern sites; the second never matches the log below.
PROGRAM = (
    "counter lines_total\ncounter number_sum\ncounter errors_total by code\n"
    "/^line (\\d+)$/ {\n  lines_total++\n  number_sum += $1\n}\n"
    "/^ERROR (?P<code>E\\d+)$/ {\n  errors_total[$code]++\n}\n"
)
LOG = "".join(f"line {i}\n" for i in range(1, 8)) + "junk one\nline 8\njunk two\n"


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    progs = tmp_path / "progs"
    progs.mkdir()
    (progs / "count.mtail").write_text(PROGRAM, encoding="utf-8")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text(LOG, encoding="utf-8")
    (logs / "other.log").write_text("line 100\n", encoding="utf-8")
    return progs, logs


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("status")
    progs, logs = _setup(tmp)
    d = Daemon(tmp, progs, str(logs / "*.log"), "--from", "beginning", "--keep-unmatched", "5")
    assert wait_for(lambda: d.samples().get("logmetrics_lines_total") == 11), d.log()
    d.logs = logs  # type: ignore[attr-defined]
    d.tmp = tmp  # type: ignore[attr-defined]
    yield d
    assert d.stop() == 0


def _field(element, name: str) -> int:
    return int(element.find_element("css selector", f'[data-field="{name}"]').text.replace(",", ""))


def test_status_page_shows_the_self_metrics(daemon, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    samples = daemon.samples()
    browser.get(f"http://127.0.0.1:{daemon.port}/")
    assert browser.title.startswith("Status")
    prog = browser.find_element(By.CSS_SELECTOR, 'tr[data-prog="count.mtail"]')
    assert _field(prog, "matched") == samples["logmetrics_program_lines_matched_total{prog=count.mtail}"] == 9
    assert _field(prog, "errors") == samples["logmetrics_program_runtime_errors_total{prog=count.mtail}"] == 0
    assert _field(prog, "seen") == 11
    lines = browser.find_element(By.ID, "tile-lines")
    assert _field(lines, "lines") == samples["logmetrics_lines_total"] == 11
    for name, count in (("app.log", 10), ("other.log", 1)):
        path = str(daemon.logs / name)
        row = browser.find_element(By.CSS_SELECTOR, f'tr[data-file="{path}"]')
        assert _field(row, "lines") == samples[f"logmetrics_log_lines_total{{file={path}}}"] == count
        assert int(row.find_element(By.CSS_SELECTOR, '[data-field="read-errors"]').text) == \
            samples[f"logmetrics_log_read_errors_total{{file={path}}}"] == 0
    metric = browser.find_element(By.CSS_SELECTOR, 'tr[data-metric="errors_total"]')
    assert "0 / 10,000" in metric.text
    # The stylesheet is the package's own, served by the daemon.
    color = browser.find_element(By.CSS_SELECTOR, "header.top").value_of_css_property("position")
    assert color == "sticky"
    for width in (1280, 390):
        screenshot(browser, "status", width, daemon.tmp)
    # At phone width the tables become cards and nothing scrolls sideways.
    resize(browser, 390)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    resize(browser, 1280)


def test_inspector_names_the_dead_pattern_and_shows_unmatched_lines(daemon, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    browser.get(f"http://127.0.0.1:{daemon.port}/inspect")
    card = browser.find_element(By.CSS_SELECTOR, 'article[data-prog="count.mtail"]')
    sites = card.find_elements(By.CSS_SELECTOR, "li.site")
    where = [s.get_attribute("data-site") for s in sites]
    assert where == [f"{daemon.tmp}/progs/count.mtail:4", f"{daemon.tmp}/progs/count.mtail:8"]
    assert _field(sites[0], "site-matched") == 9
    assert _field(sites[1], "site-matched") == 0
    assert "never matched" in sites[1].text and "never matched" not in sites[0].text
    assert "/^ERROR" in sites[1].text
    unmatched = browser.find_element(By.CSS_SELECTOR, f'details[data-file="{daemon.logs / "app.log"}"]')
    assert [li.find_element(By.TAG_NAME, "code").text for li in unmatched.find_elements(By.TAG_NAME, "li")] \
        == ["junk two", "junk one"]
    for width in (1280, 390):
        screenshot(browser, "inspector", width, daemon.tmp)


def _get(daemon, path: str, accept: str = "*/*", auth: str | None = None):
    request = urllib.request.Request(f"http://127.0.0.1:{daemon.port}{path}", headers={"Accept": accept})
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    return urllib.request.urlopen(request, timeout=5)


def test_plain_text_for_a_terminal(daemon):
    with _get(daemon, "/", "text/plain") as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    assert "lines read 11" in text
    row = next(line for line in text.splitlines() if line.startswith("count.mtail"))
    assert row.split()[1:4] == ["11", "9", "0"]  # seen, matched, errors
    with _get(daemon, "/inspect", "text/plain") as response:
        text = response.read().decode()
    assert "junk one" in text
    dead = next(line for line in text.splitlines() if "count.mtail:8" in line)
    assert dead.split()[1] == "0" and dead.endswith("NEVER MATCHED")
    with _get(daemon, "/") as response:  # what a browser or a bare curl gets
        assert response.headers["Content-Type"].startswith("text/html")
        assert "Content-Security-Policy" in response.headers


def test_json_is_shaped_as_mtails(daemon):
    with _get(daemon, "/json") as response:
        metrics = {m["Name"]: m for m in json.loads(response.read())}
    assert metrics["lines_total"]["Kind"] == 1 and metrics["lines_total"]["Program"] == "count.mtail"
    assert metrics["lines_total"]["LabelValues"] == [{"Value": {"Value": 9}}]
    assert metrics["number_sum"]["LabelValues"][0]["Value"]["Value"] == sum(range(1, 9)) + 100
    assert metrics["errors_total"]["Keys"] == ["code"] and "LabelValues" not in metrics["errors_total"]
    with _get(daemon, "/status.json") as response:
        status = json.loads(response.read())
    assert status["programs"][0]["lines_matched"] == 9


class _AuthDaemon(Daemon):
    """The daemon helper, logging in."""

    def get(self, path: str) -> str:
        with _get(self, path, auth="admin:secret") as response:
            return response.read().decode()


def test_pages_inherit_the_web_config(tmp_path):
    progs, logs = _setup(tmp_path)
    hashed = bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4)).decode()
    config = tmp_path / "web.yml"
    config.write_text(f"basic_auth_users:\n  admin: {hashed}\nhttp_server_config:\n  headers:\n"
                      "    X-Frame-Options: sameorigin\n", encoding="utf-8")
    d = _AuthDaemon(tmp_path, progs, str(logs / "*.log"), "--web-config", str(config))
    try:
        for path in ("/", "/inspect", "/json", "/status.json", "/-/assets/style.css"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                _get(d, path)
            assert refused.value.code == 401, path
            with _get(d, path, auth="admin:secret") as response:
                assert response.status == 200
                assert response.headers.get_all("X-Frame-Options") == ["sameorigin"], path
    finally:
        assert d.stop() == 0


def test_stream_sources_are_listed(tmp_path):
    import socket

    from tests.cli.test_daemon import free_port

    progs, logs = _setup(tmp_path)
    port = free_port()
    source = f"tcp://127.0.0.1:{port}"
    d = Daemon(tmp_path, progs, str(logs / "*.log"), "--logs", source)
    try:
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(b"line 1\nline 2\nnot a line\n")
        assert wait_for(lambda: d.samples().get(f"logmetrics_source_lines_total{{source={source}}}") == 3)
        with _get(d, "/status.json") as response:
            streams = json.loads(response.read())["streams"]
        assert [(s["source"], s["lines"]) for s in streams] == [(source, 3)]
        with _get(d, "/", "text/plain") as response:
            text = response.read().decode()
        assert "STREAMS" in text and source in text
    finally:
        assert d.stop() == 0
