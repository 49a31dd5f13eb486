"""The daemon end to end: the real console script, real files rotated under it, real scrapes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import wait_for

SCRIPT = Path(sys.executable).with_name("logmetrics")
pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="the logmetrics console script is not installed")

COUNTING = (
    "counter lines_total\ncounter number_sum\n"
    "/^line (\\d+)$/ {\n  lines_total++\n  number_sum += $1\n}\n"
)
FAILING = "logmetrics_program_load_failing{prog=count.mtail}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, tmp: Path, progs: Path, logs: str, *extra: str) -> None:
        self.port = free_port()
        self.stderr = open(tmp / f"daemon-{self.port}.err", "w+b")  # noqa: SIM115 - closed in stop()
        self.final_log = ""
        self.proc = subprocess.Popen(
            [str(SCRIPT), "run", "--progs", str(progs), "--logs", logs, "--listen", f"127.0.0.1:{self.port}",
             "--state-dir", str(tmp / "state"), "--log-level", "debug", *extra],
            stderr=self.stderr,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                self.get("/-/healthy")
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"daemon did not start: {self.log()}") from None
                time.sleep(0.05)

    def get(self, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
            return r.read().decode()

    def samples(self) -> dict[str, float]:
        out = {}
        for family in text_string_to_metric_families(self.get("/metrics")):
            for s in family.samples:
                key = s.name + ("{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}"
                                if s.labels else "")
                out[key] = s.value
        return out

    def log(self) -> str:
        """Everything the daemon has logged so far (after stop(), all it logged)."""
        if self.stderr.closed:
            return self.final_log
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def events(self, last: int = 12) -> str:
        """The daemon's last log lines other than request logs: what to show when a test fails."""
        return "\n".join([line for line in self.log().splitlines() if '"GET ' not in line][-last:])

    def wait_lines(self, count: float, timeout: float = 15.0) -> None:
        """Wait until the counting program's lines_total is ``count``; fail, showing the daemon's
        recent log, if it never is."""
        assert wait_for(lambda: self.samples().get("lines_total") == float(count), timeout), self.events(40)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send ``sig`` (SIGKILL: no chance to save anything) and wait; the exit status. The log
        stays readable."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a test that stalled it (SIGSTOP) and failed
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self.final_log = self.log()
        self.stderr.close()
        return code


def counting_progs(tmp_path: Path) -> Path:
    """A programs folder holding the counting program."""
    progs = tmp_path / "progs"
    progs.mkdir()
    (progs / "count.mtail").write_text(COUNTING, encoding="utf-8")
    return progs


def layout(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A programs folder with the counting program, a logs folder, and the log's path."""
    progs = counting_progs(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    return progs, logs, logs / "app.log"


def follow_one_log(tmp_path: Path, text: str, *extra: str) -> tuple[Daemon, Path, Path]:
    """The counting program over one log holding ``text``: a daemon following it (given the
    ``extra`` options), the programs folder, and the log's path."""
    progs, _logs, log = layout(tmp_path)
    log.write_text(text, encoding="utf-8")
    return Daemon(tmp_path, progs, str(log), *extra), progs, log


def append(path: Path, text: str) -> None:
    """Append ``text`` to the log at ``path``, as a server writes: opened, written, closed."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


class Writer(threading.Thread):
    """Appends numbered lines, holding its file open like a server does: ``batch`` lines every
    10 ms (a subclass sets another pace)."""

    batch = 20  # about 2,000 lines/s

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.count = 0
        self.lock = threading.Lock()  # held while a rotation needs the writer to pause
        self.running = True
        self.f = open(path, "a", buffering=1)  # noqa: SIM115 - the writer's long-lived handle

    def run(self) -> None:
        while self.running:
            with self.lock:
                for _ in range(self.batch):
                    self.f.write(f"line {self.count}\n")
                    self.count += 1
            time.sleep(0.01)

    def reopen(self) -> None:
        """What a server does on SIGHUP/graceful after a rename rotation."""
        with self.lock:
            self.f.close()
            self.f = open(self.path, "a", buffering=1)  # noqa: SIM115

    def finish(self) -> int:
        self.running = False
        self.join()
        self.f.close()
        return self.count


def test_rotations_and_restarts_lose_and_repeat_nothing(tmp_path):
    progs, logs, log = layout(tmp_path)
    writer = Writer(log)
    writer.start()
    daemon = Daemon(tmp_path, progs, str(logs / "*.log"), "--from", "beginning")
    time.sleep(1.0)

    # rename + create: the writer keeps writing to the renamed file for a moment.
    os.rename(log, logs / "app.log.1")
    time.sleep(0.3)
    writer.reopen()
    time.sleep(1.0)

    # copytruncate, as logrotate does it: copy, then truncate in place.
    with writer.lock:
        shutil.copyfile(log, logs / "app.log.2")
        with open(log, "r+") as f:
            f.truncate(0)
    time.sleep(1.0)

    # Stop, rotate while it is down, start again.
    assert daemon.stop() == 0, daemon.log()
    time.sleep(0.3)
    os.rename(log, logs / "app.log.3")
    writer.reopen()
    time.sleep(0.5)
    daemon = Daemon(tmp_path, progs, str(logs / "*.log"), "--from", "beginning")
    time.sleep(1.0)

    # delete + recreate.
    with writer.lock:
        os.unlink(log)
    writer.reopen()
    time.sleep(1.0)

    written = writer.finish()
    expected = {"lines_total": float(written), "number_sum_total": float(written * (written - 1) // 2)}

    def done() -> bool:
        s = daemon.samples()
        return s.get("lines_total") == expected["lines_total"]

    wait_for(done)
    samples = daemon.samples()
    got = {"lines_total": samples.get("lines_total"), "number_sum_total": samples.get("number_sum_total")}
    log_text = daemon.log()
    assert daemon.stop() == 0
    assert written > 5000
    assert got == expected, log_text[-3000:]
    assert samples[f"logmetrics_log_rotations_total{{file={log}}}"] >= 1


def test_self_metrics_pages_and_openmetrics(tmp_path):
    daemon, _progs, log = follow_one_log(tmp_path, "line 1\nline 2\nnot a line\n", "--from", "beginning")
    try:
        daemon.wait_lines(2)
        samples = daemon.samples()
        assert samples[f"logmetrics_log_lines_total{{file={log}}}"] == 3
        assert samples["logmetrics_program_lines_matched_total{prog=count.mtail}"] == 2
        assert samples[f"logmetrics_log_lag_bytes{{file={log}}}"] == 0
        assert any(k.startswith("logmetrics_build_info") for k in samples)
        assert "logmetrics" in daemon.get("/")
        request = urllib.request.Request(f"http://127.0.0.1:{daemon.port}/metrics",
                                         headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        with urllib.request.urlopen(request, timeout=5) as r:
            assert "openmetrics" in r.headers["Content-Type"]
            assert r.read().decode().endswith("# EOF\n")
        with pytest.raises(urllib.error.HTTPError) as info:
            daemon.get("/nope")
        assert info.value.code == 404
    finally:
        daemon.stop()


def test_reload_on_change_keeps_values_and_survives_a_broken_program(tmp_path):
    daemon, progs, log = follow_one_log(tmp_path, "")
    program = progs / "count.mtail"
    try:
        append(log, "line 1\nline 2\n")
        daemon.wait_lines(2)

        # A changed program: lines_total is declared the same, so it keeps its value.
        changed = COUNTING + "counter other_total\n/^other/ {\n  other_total++\n}\n"
        program.write_text(changed, encoding="utf-8")
        assert wait_for(lambda: "other_total" in daemon.samples())
        append(log, "line 3\nother\n")
        assert wait_for(lambda: daemon.samples().get("other_total") == 1.0)
        assert daemon.samples()["lines_total"] == 3.0

        # A broken program: the running version stays, and the failure is visible.
        program.write_text("counter broken by x\n/(?P<y>.)/ {\n  broken[$y]++\n", encoding="utf-8")
        assert wait_for(lambda: daemon.samples().get(FAILING) == 1.0)
        append(log, "line 4\n")
        daemon.wait_lines(4)

        # Fixed again, reloaded by SIGHUP as well.
        program.write_text(COUNTING, encoding="utf-8")
        daemon.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: daemon.samples().get(FAILING) == 0.0)
        assert "count.mtail" in daemon.log()
    finally:
        assert daemon.stop() == 0


def test_missing_log_and_bad_state_dir_are_reported(tmp_path):
    progs = counting_progs(tmp_path)
    log = tmp_path / "later" / "app.log"
    daemon = Daemon(tmp_path, progs, str(log))
    try:
        log.parent.mkdir()
        log.write_text("line 1\n", encoding="utf-8")  # appears after start: read from its beginning
        daemon.wait_lines(1)
    finally:
        daemon.stop()
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    result = subprocess.run([str(SCRIPT), "run", "--progs", str(progs), "--logs", str(log),
                             "--state-dir", str(blocker / "sub"), "--listen", f"127.0.0.1:{free_port()}"],
                            capture_output=True, timeout=30)
    assert result.returncode == 1
    assert b"state directory" in result.stderr and b"Traceback" not in result.stderr


def test_kill_9_at_random_moments_counts_every_line_once(tmp_path):
    import random

    progs, logs, log = layout(tmp_path)
    writer = Writer(log)
    writer.start()
    rng = random.Random(7)
    daemon = Daemon(tmp_path, progs, str(logs / "*.log"), "--from", "beginning")
    for round_ in range(4):
        time.sleep(rng.uniform(0.3, 1.5))
        if round_ == 1:
            os.rename(log, logs / "app.log.1")
            writer.reopen()
            time.sleep(rng.uniform(0.0, 0.5))
        daemon.stop(signal.SIGKILL)
        time.sleep(rng.uniform(0.0, 0.5))
        daemon = Daemon(tmp_path, progs, str(logs / "*.log"), "--from", "beginning")
    time.sleep(0.5)
    written = writer.finish()
    expected = float(written)
    wait_for(lambda: daemon.samples().get("lines_total") == expected)
    samples = daemon.samples()
    assert daemon.stop() == 0
    assert (samples.get("lines_total"), samples.get("number_sum_total")) == (
        expected, float(written * (written - 1) // 2)
    )


def test_no_checkpoint_starts_counters_at_zero(tmp_path):
    daemon, progs, log = follow_one_log(tmp_path, "line 1\n", "--from", "beginning", "--no-checkpoint")
    daemon.wait_lines(1)
    assert daemon.stop() == 0
    append(log, "line 2\n")
    daemon = Daemon(tmp_path, progs, str(log), "--from", "beginning", "--no-checkpoint")
    try:
        daemon.wait_lines(1)  # only the new line
        time.sleep(0.5)
        assert daemon.samples()["lines_total"] == 1.0
    finally:
        daemon.stop()


def test_bad_input_is_counted_and_skipped_never_fatal(tmp_path):
    daemon, _progs, log = follow_one_log(tmp_path, "")
    try:
        import random

        rng = random.Random(3)
        with open(log, "ab") as f:
            f.write(b"line 1\r\n")  # CRLF
            f.write(bytes(rng.randrange(256) for _ in range(5000)).replace(b"\n", b" ") + b"\n")
            f.write(b"\xff\xfe invalid utf-8\n")
            f.write(b"with \x00 nul\n")
            f.write(b"line 2\n")
            chunk = b"x" * (1 << 20)
            for _ in range(100):  # a single 100 MB line
                f.write(chunk)
            f.write(b"\nline 3\n")
        key = f"{{file={log}}}"
        daemon.wait_lines(3, timeout=60)
        samples = daemon.samples()
        assert samples[f"logmetrics_log_overlong_lines_total{key}"] == 1
        assert samples[f"logmetrics_log_invalid_utf8_lines_total{key}"] >= 2
        assert samples[f"logmetrics_log_nul_lines_total{key}"] >= 1
        assert samples["number_sum_total"] == 6.0
        with open(f"/proc/{daemon.proc.pid}/status") as status:
            peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
        assert peak_kb < 200 * 1024, "memory must stay bounded by the read size, not the line"
    finally:
        assert daemon.stop() == 0


def test_debug_log_in_a_watched_folder_does_not_feed_on_itself(tmp_path):
    """--log-level debug is logmetrics' own: with stderr written into the followed folder, the
    daemon's idle log stays quiet (a library logging each inotify event would log its own writes)."""
    progs = counting_progs(tmp_path)
    log = tmp_path / "a.log"
    log.write_text("", encoding="utf-8")
    daemon = Daemon(tmp_path, progs, str(tmp_path / "*.log"))
    try:
        append(log, "line 1\n")
        daemon.wait_lines(1)
        time.sleep(1.0)
        before = len(daemon.log())
        time.sleep(2.0)
        grown = daemon.log()[before:]
        assert len(grown) < 2000, grown[:2000]
    finally:
        assert daemon.stop() == 0


def test_a_program_file_caught_mid_write_is_not_loaded(tmp_path):
    """An editor truncates a program, then writes it: the empty file in between is never loaded
    (it would compile, and replace the running program with one that counts nothing)."""
    daemon, progs, log = follow_one_log(tmp_path, "")
    program = progs / "count.mtail"
    try:
        for _ in range(3):
            with open(program, "w", encoding="utf-8") as f:
                f.flush()
                time.sleep(0.05)
                f.write(COUNTING + "# edited\n")
            time.sleep(0.5)
        append(log, "line 1\n")
        daemon.wait_lines(1)
        assert "(0 metrics)" not in daemon.log()
    finally:
        assert daemon.stop() == 0


def test_an_emptied_program_file_keeps_the_running_version(tmp_path):
    """Truncated and not written yet (a writer that stalls, or an editor): the running program
    stays; the file's next version is loaded as usual."""
    daemon, progs, log = follow_one_log(tmp_path, "")
    program = progs / "count.mtail"
    try:
        program.write_text("", encoding="utf-8")
        assert wait_for(lambda: "is empty" in daemon.log()), daemon.events()
        append(log, "line 1\n")
        daemon.wait_lines(1)
        program.write_text(COUNTING + "counter other_total\n", encoding="utf-8")
        assert wait_for(lambda: "other_total" in daemon.samples()), daemon.events()
        assert daemon.samples()["lines_total"] == 1.0
    finally:
        assert daemon.stop() == 0
