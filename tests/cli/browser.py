"""A real headless browser for the page tests: Debian's chromium driven through chromedriver.

Tests using the ``browser`` fixture skip where chromium, chromedriver or
selenium is missing. :func:`screenshot` saves a whole page at a given width;
with ``LOGMETRICS_UPDATE_SCREENSHOTS=1`` it also replaces the copy kept under
``docs/screenshots/`` (shown in docs/status.md and the README).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = REPO / "docs" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for the module's tests."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("chromium and chromedriver are not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--force-device-scale-factor=1", "--disable-dev-shm-usage", "--lang=en-US"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(1280, 900)
    try:
        yield driver
    finally:
        driver.quit()


def resize(driver: Any, width: int, height: int = 900) -> None:
    """Resize the window and wait until the page has its new width (resizing is asynchronous)."""
    driver.set_window_size(width, height)
    deadline = time.monotonic() + 10
    while driver.execute_script("return window.innerWidth") != width and time.monotonic() < deadline:
        time.sleep(0.05)
    driver.execute_script("return document.body.offsetHeight")  # a layout at the new width


def screenshot(driver: Any, name: str, width: int, out_dir: Path) -> Path:
    """The whole page at ``width`` px as ``out_dir/NAME-WIDTH.png`` (and under docs/ when updating)."""
    resize(driver, width)
    height, chrome = driver.execute_script(
        "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]")
    driver.set_window_size(width, min(max(height, 600), 3200) + chrome)
    time.sleep(0.3)  # the taller window's paint
    path = out_dir / f"{name}-{width}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000, f"{path} looks empty"
    if os.environ.get("LOGMETRICS_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / path.name)
    resize(driver, 1280)
    return path
