"""LogWatcher: new files at once, writes coalesced, wake-ups from anywhere."""

from __future__ import annotations

import os
import threading
import time

from logmetrics.sources.watch import COALESCE, LogWatcher


def test_writes_one_line_per_write_wake_the_reader_at_most_once_per_interval(tmp_path):
    log = tmp_path / "a.log"
    log.touch()
    watcher = LogWatcher([str(tmp_path / "*.log")])
    watcher.start()
    try:
        assert watcher.files() == [str(log)]
        watcher.take_changes()
        stop = threading.Event()

        def write() -> None:
            fd = os.open(log, os.O_WRONLY | os.O_APPEND)
            while not stop.is_set():
                os.write(fd, b"one line\n")
                time.sleep(0.0005)
            os.close(fd)

        writer = threading.Thread(target=write)
        writer.start()
        started = time.monotonic()
        wakes, seen = 0, set()
        while time.monotonic() - started < 0.5:
            if watcher.wait(0.25):
                wakes += 1
            seen |= watcher.take_changes().paths
        elapsed = time.monotonic() - started
        stop.set()
        writer.join()
        assert str(log) in seen
        # Hundreds of writes; a look at most once per COALESCE (plus the first).
        assert 1 <= wakes <= elapsed / COALESCE + 2
    finally:
        watcher.stop()


def test_a_new_file_and_an_explicit_wake_are_not_delayed(tmp_path):
    watcher = LogWatcher([str(tmp_path / "*.log")])
    watcher.start()
    try:
        watcher.files()
        watcher.take_changes()
        (tmp_path / "new.log").write_text("x\n", encoding="utf-8")
        assert watcher.wait(10.0)
        assert watcher.take_changes().created
        watcher.wake()
        assert watcher.wait(10.0)
    finally:
        watcher.stop()


def test_writes_in_a_folder_that_appears_later_are_seen(tmp_path):
    watcher = LogWatcher([str(tmp_path / "*" / "*.log")])
    watcher.start()
    try:
        folder = tmp_path / "site"
        folder.mkdir()
        log = folder / "a.log"
        log.write_text("", encoding="utf-8")
        watcher.wait(10.0)
        watcher.refresh_watches()
        assert watcher.files() == [str(log)]
        watcher.take_changes()
        with open(log, "a", encoding="utf-8") as f:
            f.write("x\n")
        deadline = time.monotonic() + 10
        seen: set[str] = set()
        while str(log) not in seen and time.monotonic() < deadline:
            watcher.wait(0.25)
            seen |= watcher.take_changes().paths
        assert str(log) in seen
    finally:
        watcher.stop()


def test_writes_are_reported_unless_a_followed_file_is_a_symbolic_link(tmp_path):
    """A write through a link is reported in its target's folder: such files need looking at."""
    (tmp_path / "a.log").touch()
    watcher = LogWatcher([str(tmp_path / "*.log")])
    watcher.start()
    try:
        watcher.files()
        assert watcher.writes_reported
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        (elsewhere / "real.log").touch()
        (tmp_path / "b.log").symlink_to(elsewhere / "real.log")
        assert str(tmp_path / "b.log") in watcher.files()
        assert not watcher.writes_reported
    finally:
        watcher.stop()
    polling = LogWatcher([str(tmp_path / "a.log")], poll=True)
    polling.files()
    assert not polling.writes_reported
