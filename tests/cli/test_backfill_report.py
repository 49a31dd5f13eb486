"""report end to end: days of real Apache logs to one HTML page, opened in a real headless browser."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import REPO

SCRIPT = Path(sys.executable).with_name("logmetrics")
HISTORY = REPO / "tests" / "data" / "history"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="the logmetrics console script is not installed")

LOGS = [f"{name}={HISTORY / (name + '.log.gz')}"
        for name in ("apache_access", "apache_error", "nginx_access")]


def dry_run_totals(tmp_path: Path) -> dict[str, float]:
    """Each counter summed over its label sets, and each histogram's count, as dry-run prints them."""
    result = subprocess.run([str(SCRIPT), "dry-run", "-q", *LOGS], capture_output=True, text=True,
                            cwd=tmp_path, check=True)
    totals: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(result.stdout):
        for sample in family.samples:
            if family.type == "counter" and sample.name.endswith("_total"):
                totals[sample.name] += sample.value
            elif family.type == "histogram" and sample.name.endswith("_count"):
                totals[sample.name.removesuffix("_count")] += sample.value
    return dict(totals)


def make_report(tmp_path: Path) -> Path:
    page = tmp_path / "report.html"
    result = subprocess.run([str(SCRIPT), "report", "-o", str(page), *LOGS], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return page


def test_report_is_one_self_contained_page(tmp_path):
    text = make_report(tmp_path).read_text()
    # Nothing fetched from anywhere: no script, no link, no source, no url().
    for outside in ("<script", "<link", "src=", "url(", "http://", "https://", "@import"):
        assert outside not in text.replace("http_", ""), outside
    for program in ("apache_access.mtail", "apache_error.mtail", "nginx_access.mtail"):
        assert f'data-program="{program}"' in text


def test_report_charts_in_a_real_browser_show_dry_runs_totals(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("chromium and chromedriver are not installed")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    page = make_report(tmp_path)
    want = dry_run_totals(tmp_path)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1000,3000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.get(page.as_uri())
        charts = driver.find_elements(By.CSS_SELECTOR, "figure.chart[data-total]")
        shown = {c.get_attribute("data-metric"): float(c.get_attribute("data-total") or "nan")
                 for c in charts}
        assert shown == {name: want[name] for name in shown}
        assert {"apache_http_requests_total", "apache_http_request_duration_seconds",
                "nginx_http_requests_total", "apache_error_log_messages_total"} <= set(shown)
        assert want["apache_http_requests_total"] > 1000
        # The figure shows its total as text too, and draws lines a person can see.
        requests = driver.find_element(By.CSS_SELECTOR, 'figure[data-metric="apache_http_requests_total"]')
        assert f"total {int(want['apache_http_requests_total']):,}" in requests.text
        lines = requests.find_elements(By.CSS_SELECTOR, "polyline")
        assert lines and all(line.size["width"] > 100 for line in lines)
        assert driver.find_element(By.CSS_SELECTOR, "svg").size["width"] > 500
        shot = tmp_path / "report.png"
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    finally:
        driver.quit()
