"""What ``logmetrics run`` imports to start and serve /metrics over plain HTTP.

prometheus-client's package imports http.server, wsgiref, urllib.request, email
and ssl: about 0.1 s of every start, more than the rest of the daemon's own
imports. The daemon writes its metrics and answers HTTP without them (ssl only
for a TLS web config). The installed console script is run with Python's
import profiling switched on (``PYTHONPROFILEIMPORTTIME``), which lists on
stderr every module imported for as long as the process lives: at start and
while it serves the scrapes below.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.cli.test_daemon import COUNTING, SCRIPT, free_port, pytestmark  # noqa: F401 - skips without it

#: Modules the daemon's start and scrapes must not import (a package, or any module under it).
NOT_IMPORTED = ("prometheus_client", "http.server", "http.client", "wsgiref", "urllib.request", "email",
                "ssl")


def imported(stderr: str) -> set[str]:
    """The modules named in ``-X importtime``'s lines (``import time: self | cumulative | name``)."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_a_plain_http_daemon_imports_neither_prometheus_client_nor_http_server(tmp_path: Path) -> None:
    progs = tmp_path / "progs"
    progs.mkdir()
    (progs / "count.mtail").write_text(COUNTING, encoding="utf-8")
    log = tmp_path / "app.log"
    log.write_text("line 1\nline 2\n", encoding="utf-8")
    port = free_port()
    err = tmp_path / "stderr"
    with open(err, "wb") as stderr:
        proc = subprocess.Popen(
            [str(SCRIPT), "run", "--progs", str(progs), "--logs", str(log), "--listen", f"127.0.0.1:{port}",
             "--state-dir", str(tmp_path / "state"), "--from", "beginning"],
            stderr=stderr, env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/metrics", timeout=5) as r:
                    text = r.read().decode()
                if "lines_total 2.0" in text:
                    break
            except OSError:
                pass
            alive = proc.poll() is None and time.monotonic() < deadline
            assert alive, err.read_text(errors="replace")[-3000:]
            time.sleep(0.05)
        # Every way /metrics answers: text, OpenMetrics gzipped, filtered by name.
        names = {f.name for f in text_string_to_metric_families(text)}
        assert {"lines", "logmetrics_lines", "logmetrics_build_info"} <= names
        prometheus = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,text/plain;q=0.2"
        asked = urllib.request.Request(f"{base}/metrics", headers={"Accept": prometheus,
                                                                   "Accept-Encoding": "gzip"})
        with urllib.request.urlopen(asked, timeout=5) as r:
            assert r.headers["Content-Encoding"] == "gzip"
            openmetrics = gzip.decompress(r.read()).decode()
        assert "lines_total 2.0" in openmetrics and openmetrics.endswith("# EOF\n")
        with urllib.request.urlopen(f"{base}/metrics?name[]=logmetrics_lines_total", timeout=5) as r:
            assert r.read().decode().splitlines()[-1] == "logmetrics_lines_total 2.0"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    modules = imported(err.read_text(errors="replace"))
    assert "logmetrics.daemon.daemon" in modules  # the profile is there, and covers the daemon
    assert "logmetrics.exposition.server" in modules
    unwanted = sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in NOT_IMPORTED))
    assert unwanted == []
