"""``run --textfile``: the metrics in a file for node_exporter, replaced atomically; read by a real
node_exporter where it is installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cli.test_daemon import Daemon, layout, wait_for
from tests.realservers import free_port, wait_until_listening

SCRIPT = Path(sys.executable).with_name("logmetrics")
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="the logmetrics console script is not installed")


def values(text: str) -> dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name + str(sorted(s.labels.items()))] = s.value
    return out


def test_textfile_matches_the_scrape_and_is_never_seen_half_written(tmp_path):
    progs, _logs, log = layout(tmp_path)
    log.write_text("".join(f"line {i}\n" for i in range(1000)))
    out = tmp_path / "textfile" / "logmetrics.prom"
    out.parent.mkdir()
    daemon = Daemon(tmp_path, progs, str(log), "--from", "beginning", "--textfile", str(out),
                    "--textfile-interval", "0.02", "--emit-metric-timestamp")
    reads, torn = 0, []
    stop = threading.Event()

    def reader() -> None:
        nonlocal reads
        while not stop.is_set():
            try:
                text = out.read_text()
            except FileNotFoundError:
                continue
            reads += 1
            if not text.endswith("\n") or "logmetrics_build_info" not in text:
                torn.append(text[-200:])

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        with log.open("a") as f:
            for i in range(1000, 3000):
                f.write(f"line {i}\n")
                if i % 100 == 0:
                    f.flush()
                    time.sleep(0.02)
        assert wait_for(lambda: out.exists() and values(out.read_text()).get("lines_total[]") == 3000)
        time.sleep(0.2)
    finally:
        stop.set()
        thread.join()
        assert daemon.stop() == 0
    assert reads > 20 and not torn
    text = out.read_text()
    written = values(text)
    assert written["number_sum_total[]"] == sum(range(3000))
    assert written['logmetrics_log_lines_total[(\'file\', \'' + str(log) + '\')]'] == 3000
    # No client-side timestamps (node_exporter refuses them), no stray temporary files, readable by all.
    assert all(len(line.split()) == 2 for line in text.splitlines() if not line.startswith("#"))
    assert [p.name for p in out.parent.iterdir()] == ["logmetrics.prom"]
    assert out.stat().st_mode & 0o777 == 0o644


def test_listen_none_needs_a_textfile(tmp_path):
    result = subprocess.run([str(SCRIPT), "run", "--logs", str(tmp_path / "x.log"), "--listen", "none",
                             "--state-dir", str(tmp_path / "state")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "--listen none needs --textfile" in result.stderr
    typo = subprocess.run([str(SCRIPT), "run", "--logs", str(tmp_path / "x.log"), "--listen", "none",
                           "--textfile", str(tmp_path / "no-such-dir" / "x.prom"),
                           "--state-dir", str(tmp_path / "state")],
                          capture_output=True, text=True, timeout=60)
    assert typo.returncode == 1
    assert "no-such-dir" in typo.stderr and "textfile" in typo.stderr


@pytest.mark.skipif(NODE_EXPORTER is None, reason="node_exporter is not installed")
def test_a_real_node_exporter_serves_the_textfile(tmp_path):
    progs, _logs, log = layout(tmp_path)
    log.write_text("".join(f"line {i}\n" for i in range(500)))
    folder = tmp_path / "textfile"
    folder.mkdir()
    folder.chmod(0o755)
    proc = subprocess.Popen(
        [str(SCRIPT), "run", "--progs", str(progs), "--logs", str(log), "--from", "beginning",
         "--listen", "none", "--textfile", str(folder / "logmetrics.prom"), "--textfile-interval", "0.2",
         "--state-dir", str(tmp_path / "state")], stderr=subprocess.PIPE)
    port = free_port()
    node = subprocess.Popen(
        [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
         "--collector.textfile", f"--collector.textfile.directory={folder}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_listening(port, node, "node_exporter")

        def scraped() -> dict[str, float]:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                return values(r.read().decode())

        assert wait_for(lambda: scraped().get("lines_total[]") == 500), scraped()
        metrics = scraped()
        assert metrics["number_sum_total[]"] == sum(range(500))
        assert metrics["node_textfile_scrape_error[]"] == 0
    finally:
        node.terminate()
        node.wait(timeout=10)
        proc.terminate()
        assert proc.wait(timeout=20) == 0
