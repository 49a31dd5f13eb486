"""``logmetrics playground``: the installed command, driven in a real headless browser."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.cli.browser import browser, screenshot  # noqa: F401 - the fixture
from tests.cli.test_daemon import free_port

SCRIPT = Path(sys.executable).with_name("logmetrics")
pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="the logmetrics console script is not installed")

# Line 5 refers to a capture that does not exist: a compile error at 5:27.
BROKEN = """\
counter requests_total by method, status
counter bytes_total

/^%{IPORHOST:client} \\S+ \\S+ \\[%{HTTPDATE:when}\\] "%{WORD:method} \\S+ \\S+" \
%{NUMBER:status:int} (?P<size>\\d+)$/ {
  requests_total[$method][$stauts]++
  bytes_total += $size
}
/^never matches$/ {
  bytes_total += 0
}
"""
FIXED = BROKEN.replace("$stauts", "$status")
SAMPLE = """\
192.0.2.10 - - [28/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 5120
192.0.2.11 - - [28/Nov/2026:10:00:02 +0000] "GET /missing HTTP/1.1" 404 512
not an access log line
192.0.2.12 - - [28/Nov/2026:10:00:03 +0000] "POST /login HTTP/1.1" 302 0
"""


class Playground:
    def __init__(self, tmp: Path, *args: str) -> None:
        self.port = free_port()
        self.stderr = open(tmp / "playground.err", "w+b")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([str(SCRIPT), "playground", *args, "--listen", f"127.0.0.1:{self.port}"],
                                     stderr=self.stderr, cwd=tmp)
        self.url = f"http://127.0.0.1:{self.port}/"
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    self.html = r.read().decode()
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"playground did not start: {self.log()}") from None
                time.sleep(0.05)

    def log(self) -> str:
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def post(self, path: str, body: dict, token: str | None = None, host: str | None = None) -> dict:
        if token is None:
            token = self.html.split('name="playground-token" content="', 1)[1].split('"', 1)[0]
        request = urllib.request.Request(self.url.rstrip("/") + path, data=json.dumps(body).encode(),
                                         headers={"X-Playground-Token": token,
                                                  "Content-Type": "application/json"})
        if host:
            request.add_header("Host", host)
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return {"status": exc.code, **json.loads(exc.read())}

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.stderr.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "web.mtail").write_text(BROKEN, encoding="utf-8")
    (tmp_path / "sample.log").write_text(SAMPLE, encoding="utf-8")
    return tmp_path


def _wait(driver, condition, timeout: float = 10.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def _type(driver, element_id: str, text: str) -> None:
    """Replace a textarea's text as typing would (an input event follows)."""
    driver.execute_script("const a = document.getElementById(arguments[0]); a.value = arguments[1];"
                           "a.dispatchEvent(new Event('input'));", element_id, text)


def test_playground_from_error_to_saved_test_case(folder, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    play = Playground(folder, "--progs", "web.mtail", "sample.log")
    try:
        browser.get(play.url)
        # The program as given does not compile: the error is shown at its line, and marked there.
        error = _wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#errors li"))[0]
        assert error.text.startswith("5:27: ") and "stauts" in error.text
        gutter = browser.find_element(By.CSS_SELECTOR, "#program-gutter span.err")
        assert gutter.text == "5"
        assert "error" in browser.find_element(By.ID, "compile-status").text
        for width in (1280, 390):
            screenshot(browser, "playground-error", width, folder)

        # Fixed, it shows the metrics of the sample.
        _type(browser, "program", FIXED)
        _wait(browser, lambda b: b.find_element(By.ID, "compile-status").text == "compiled")
        metrics = browser.find_element(By.ID, "metrics").text
        assert 'requests_total{method="GET",status="200"} 1' in metrics
        assert 'requests_total{method="POST",status="302"} 1' in metrics
        assert "bytes_total 5632" in metrics
        assert not browser.find_elements(By.CSS_SELECTOR, "#errors li")
        lines = browser.find_elements(By.CSS_SELECTOR, "#trace li")
        assert [li.get_attribute("class") for li in lines] == ["hit", "hit", "miss", "hit"]
        assert browser.find_element(By.ID, "trace-status").text.startswith("3 of 4 matched")
        assert [li.find_element(By.CLASS_NAME, "mark").text for li in lines] == ["✓ :4", "✓ :4", "—", "✓ :4"]
        assert browser.find_element(By.ID, "sites-status").text == "2 pattern sites, 1 never matched"

        # A chosen line shows the pattern site that matched it, and its captures as the program reads them.
        lines[1].click()
        _wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#detail tr[data-capture]"))
        detail = browser.find_element(By.ID, "detail")
        assert "web.mtail:4 matched" in detail.text and "Line 2" in detail.text
        captures = {row.get_attribute("data-capture"): row.text.split()
                    for row in detail.find_elements(By.CSS_SELECTOR, "tr[data-capture]")}
        assert captures == {"method": ["$method", "GET", "string"],
                            "status": ["$status", "404", "int", "404"],
                            "size": ["$size", "512", "int", "512"]}
        assert browser.find_element(By.CSS_SELECTOR, '#trace li[data-line="1"]').get_attribute(
            "aria-selected") == "true"

        # Save, with a test case that `logmetrics test` passes.
        browser.find_element(By.ID, "save-case").click()
        browser.find_element(By.ID, "save").click()
        status = _wait(browser, lambda b: b.find_element(By.ID, "save-status").text.startswith("saved")
                       and b.find_element(By.ID, "save-status"))
        assert "web.playground.prom" in status.text
        assert (folder / "web.mtail").read_text(encoding="utf-8") == FIXED
        assert (folder / "web.playground.log").read_text(encoding="utf-8") == SAMPLE
        for width in (1280, 390):
            screenshot(browser, "playground", width, folder)
    finally:
        play.stop()
    result = subprocess.run([str(SCRIPT), "test", "--progs", str(folder / "web.mtail"), str(folder)],
                            capture_output=True, text=True, cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "web.playground" in result.stdout + result.stderr


def test_the_api_refuses_other_pages_and_bounds_its_input(folder):
    play = Playground(folder, "--progs", "web.mtail")
    try:
        assert play.post("/api/run", {"program": FIXED, "sample": SAMPLE}, token="guessed")["status"] == 400
        refused = play.post("/api/run", {"program": FIXED, "sample": SAMPLE}, host="evil.example:80")
        assert refused["status"] == 400 and "host" in refused["message"]
        huge = play.post("/api/run", {"program": FIXED, "sample": "x\n" * 20_000})
        assert huge["status"] == 400 and "10,000" in huge["message"]
        # A case name cannot leave the program's folder.
        away = play.post("/api/save", {"program": FIXED, "sample": SAMPLE, "case": "../../x"})
        assert away["status"] == 400
        assert sorted(p.name for p in folder.iterdir()) == ["playground.err", "sample.log", "web.mtail"]
        # A runaway regex costs its time budget, not the playground.
        runaway = "counter n\n/^(a|aa)+$/ { n++ }\n"
        slow = play.post("/api/run", {"program": runaway, "sample": "a" * 30 + "!\n"})
        assert slow["ok"] and slow["lines"][0]["e"] and "Timeout" in slow["lines"][0]["e"]
        # Without a program file to save to, nothing is written.
        assert play.post("/api/run", {"program": FIXED, "sample": SAMPLE})["matched"] == 3
    finally:
        play.stop()
    assert (folder / "web.mtail").read_text(encoding="utf-8") == BROKEN
