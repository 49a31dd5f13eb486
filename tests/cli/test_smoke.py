"""Every subcommand of the installed ``logmetrics``, once, on real input, from a folder outside the
checkout, as a user runs them after ``pip install .``: none may end in a traceback.

The inputs are copied out of the checkout first (real Apache output from examples/, grok_exporter's
own example configuration), so that nothing can depend on the current folder being the source tree.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from logmetrics.cmdline import build_parser
from tests.helpers import REPO, SCRIPT

#: Each subcommand and how it is run here (run and playground serve, and are run as servers below).
COMMANDS = ("check", "dry-run", "test", "run", "convert", "playground", "backfill", "report")


def logmetrics(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A folder outside the checkout holding copies of the real inputs."""
    folder = tmp_path_factory.mktemp("smoke")
    assert not folder.resolve().is_relative_to(REPO)
    shutil.copy(REPO / "examples" / "apache_access.duration.log", folder / "access.log")
    shutil.copy(REPO / "examples" / "apache_error.log", folder / "error.log")
    shutil.copy(REPO / "tests" / "data" / "grok_exporter" / "example_config_v2.yml", folder / "config.yml")
    shutil.copy(REPO / "tests" / "data" / "grok_exporter" / "exim-rejected-RCPT-examples.log",
                folder / "exim.log")
    return folder


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(action.choices)


def test_every_subcommand_is_smoke_tested():
    assert sorted(COMMANDS) == subcommands(), "a new subcommand needs its run in this file"


@pytest.mark.parametrize("command", ["--version", "--help", *(f"{c} --help" for c in COMMANDS)])
def test_help(work, command):
    result = logmetrics(*command.split(), cwd=work)
    assert result.returncode == 0 and result.stdout


def test_check(work):
    result = logmetrics("check", cwd=work)
    assert result.returncode == 0
    assert "apache_access.mtail: ok" in result.stdout and "nginx_error.mtail: ok" in result.stdout


def test_dry_run(work):
    result = logmetrics("dry-run", "access.log", "apache_error=error.log", cwd=work)
    assert result.returncode == 0
    assert 'apache_http_request_duration_seconds_bucket{le="1",method="GET",status="200"}' in result.stdout
    assert 'apache_error_log_codes_total{code="AH00036",level="error"} 1.0' in result.stdout
    assert "# dry-run: " in result.stderr


def test_test(work):
    result = logmetrics("test", cwd=work)
    assert result.returncode == 0
    assert "FAIL" not in result.stdout and "PASS apache_error.mtail" in result.stdout


def test_convert_grok_exporter(work):
    result = logmetrics("convert", "grok-exporter", "config.yml", "-o", "exim.mtail", cwd=work)
    assert result.returncode == 0
    result = logmetrics("dry-run", "-q", "--progs", "exim.mtail", "exim.log", cwd=work)
    assert result.returncode == 0
    assert 'error_message="relay not permitted"' in result.stdout


def test_backfill_and_report(work):
    result = logmetrics("backfill", "-q", "-o", "history.om", "access.log", cwd=work)
    assert result.returncode == 0
    assert (work / "history.om").read_text(encoding="utf-8").endswith("# EOF\n")
    result = logmetrics("report", "-q", "-o", "report.html", "access.log", cwd=work)
    assert result.returncode == 0
    assert "<html" in (work / "report.html").read_text(encoding="utf-8")


def serve(work: Path, *args: str, ready: str) -> tuple[subprocess.Popen, Path]:
    """Start a serving subcommand; returns it and its stderr's file once ``ready`` answers."""
    err = work / f"{args[0]}.err"
    proc = subprocess.Popen([str(SCRIPT), *args], cwd=work, stdout=subprocess.DEVNULL,
                            stderr=err.open("wb"))
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(ready, timeout=5):
                return proc, err
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(err.read_text(errors="replace")) from None
            time.sleep(0.1)


def stop(proc: subprocess.Popen, err: Path, sig: int = signal.SIGTERM, status: int = 0) -> str:
    proc.send_signal(sig)
    assert proc.wait(timeout=20) == status
    text = err.read_text(errors="replace")
    assert "Traceback" not in text, text
    return text


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_up_to_a_scrape(work):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc, err = serve(work, "run", "--logs", "access.log", "--logs", "apache_error=error.log",
                      "--from", "beginning", "--listen", f"127.0.0.1:{port}", "--state-dir", "state",
                      ready=f"{url}/-/healthy")
    try:
        deadline = time.monotonic() + 30
        while True:
            with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
                text = response.read().decode()
            if "apache_error_log_codes_total" in text and "apache_http_requests_total{" in text:
                break
            assert time.monotonic() < deadline, text
            time.sleep(0.2)
        assert 'apache_http_request_duration_seconds_bucket{le="1",method="GET",status="200"}' in text
        assert 'logmetrics_log_glob_files{glob="access.log"} 1.0' in text
    finally:
        stop(proc, err)


def test_playground_serves_its_page(work):
    port = free_port()
    proc, err = serve(work, "playground", "--progs", "apache_error", "error.log", "--listen",
                      f"127.0.0.1:{port}", ready=f"http://127.0.0.1:{port}/")
    log = stop(proc, err, signal.SIGINT)  # an interactive tool, stopped with Ctrl-C
    assert "playground stopped (received SIGINT)" in log, log


def test_playground_stops_cleanly_on_sigterm(work):
    """A service manager or a closing terminal sends SIGTERM: the server is closed, status 0."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc, err = serve(work, "playground", "--progs", "apache_access", "access.log", "--listen",
                      f"127.0.0.1:{port}", ready=url)
    with urllib.request.urlopen(url, timeout=5) as page:
        assert page.status == 200
    log = stop(proc, err, signal.SIGTERM)
    assert log.rstrip().endswith("playground stopped (received SIGTERM)"), log
    with pytest.raises(OSError):  # nothing listens there any more
        urllib.request.urlopen(url, timeout=5)
