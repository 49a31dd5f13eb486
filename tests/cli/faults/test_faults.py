"""Fault tests: the real console script under real logrotate, kills, a full disk, bad paths.

Each scenario ends with the scraped counters equal to the lines written,
exactly, and with the problem reported on stderr rather than a crash.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.test_daemon import Daemon, Writer, layout, wait_for

SBIN_LOGROTATE = Path("/usr/sbin/logrotate")  # not on a non-root PATH
LOGROTATE = shutil.which("logrotate") or (str(SBIN_LOGROTATE) if SBIN_LOGROTATE.exists() else None)


def assert_counted(daemon: Daemon, written: int) -> None:
    wait_for(lambda: daemon.samples().get("lines_total") == float(written), timeout=30)
    samples = daemon.samples()
    print(f"lines written {written:,}, counted {samples.get('lines_total'):,.0f}")  # shown with -s
    assert (samples.get("lines_total"), samples.get("number_sum_total")) == (
        float(written), float(written * (written - 1) // 2)
    ), daemon.log()[-3000:]


class FastWriter(Writer):
    """About 5,000 lines/s."""

    def run(self) -> None:
        while self.running:
            with self.lock:
                for _ in range(50):
                    self.f.write(f"line {self.count}\n")
                    self.count += 1
            time.sleep(0.01)


@pytest.mark.skipif(LOGROTATE is None, reason="logrotate is not installed")
@pytest.mark.parametrize("mode", ["create", "copytruncate"])
def test_real_logrotate_under_load_with_kills(tmp_path, mode):
    progs, logs, log = layout(tmp_path)
    config = tmp_path / "logrotate.conf"
    # create: rename, then a new file; the writer reopens it as a server's postrotate would.
    config.write_text(f"{log} {{\n  rotate 5\n  {mode}\n  missingok\n  nocompress\n}}\n", encoding="utf-8")
    writer = FastWriter(log)
    writer.start()
    daemon = Daemon(tmp_path, progs, str(logs / "*.log"), "--from", "beginning")
    for i in range(3):
        time.sleep(0.7)
        if mode == "copytruncate":
            with writer.lock:  # logrotate's own window between copy and truncate, kept closed
                subprocess.run([LOGROTATE, "-f", "-s", str(tmp_path / "status"), str(config)], check=True)
        else:
            subprocess.run([LOGROTATE, "-f", "-s", str(tmp_path / "status"), str(config)], check=True)
            time.sleep(0.2)
            writer.reopen()
        if i == 1:
            daemon.proc.kill()
            daemon.proc.wait(timeout=10)
            daemon.stderr.close()
            daemon = Daemon(tmp_path, progs, str(logs / "*.log"), "--from", "beginning")
    time.sleep(0.5)
    written = writer.finish()
    assert written > 10_000
    assert len(list(logs.glob("app.log.*"))) == 3
    try:
        assert_counted(daemon, written)
    finally:
        daemon.stop()


def test_a_full_state_disk_is_reported_and_retried(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(state)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        progs, logs, log = layout(tmp_path)
        writer = Writer(log)
        writer.start()
        daemon = Daemon(tmp_path, progs, str(logs / "*.log"), "--from", "beginning")
        time.sleep(0.5)
        filler = state / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:  # fill the disk
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        time.sleep(1.5)
        assert wait_for(lambda: "No space left on device" in daemon.log(), timeout=10)
        filler.unlink()  # free it again
        time.sleep(1.5)
        written = writer.finish()
        assert_counted(daemon, written)
        assert daemon.stop() == 0
        # The checkpoint written after the disk was freed resumes exactly.
        daemon = Daemon(tmp_path, progs, str(logs / "*.log"), "--from", "beginning")
        assert_counted(daemon, written)
        daemon.stop()
    finally:
        subprocess.run(["umount", str(state)], capture_output=True)


def test_a_log_path_that_becomes_a_directory_then_a_file_again(tmp_path):
    progs, logs, log = layout(tmp_path)
    log.write_text("line 0\nline 1\n", encoding="utf-8")
    daemon = Daemon(tmp_path, progs, str(log), "--from", "beginning")
    try:
        assert wait_for(lambda: daemon.samples().get("lines_total") == 2.0)
        os.rename(log, logs / "app.log.1")
        log.mkdir()
        assert wait_for(lambda: "not a regular file" in daemon.log(), timeout=10)
        log.rmdir()
        log.write_text("line 2\n", encoding="utf-8")
        assert_counted(daemon, 3)
        assert daemon.log().count("not a regular file") == 1  # reported once, not per poll
        assert daemon.proc.poll() is None
    finally:
        daemon.stop()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_log_then_fixed(tmp_path):
    progs, _logs, log = layout(tmp_path)
    log.write_text("line 0\n", encoding="utf-8")
    log.chmod(0)
    daemon = Daemon(tmp_path, progs, str(log), "--from", "beginning")
    try:
        assert wait_for(lambda: "permission denied" in daemon.log(), timeout=10)
        log.chmod(0o644)
        assert_counted(daemon, 1)
    finally:
        daemon.stop()
