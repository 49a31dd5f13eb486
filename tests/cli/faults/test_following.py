"""Following files through what servers, logrotate and operators do to them, with the real daemon.

Each test ends with the counted lines equal to the lines written (or to what
the test says is decidable), and each failed before the behaviour it checks
was built (see docs/following.md).
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from logmetrics.daemon import checkpoint
from logmetrics.sources.tail import RETIRE_SECONDS
from tests.cli.faults.test_faults import LOGROTATE, assert_counted
from tests.cli.test_daemon import SCRIPT, Daemon, Writer, layout, wait_for


def lines(start: int, count: int) -> str:
    return "".join(f"line {i}\n" for i in range(start, start + count))


def append(path: Path, start: int, count: int) -> int:
    with open(path, "a", encoding="utf-8") as f:
        f.write(lines(start, count))
    return start + count


def kill9(daemon: Daemon) -> None:
    daemon.proc.kill()
    daemon.proc.wait(timeout=10)
    daemon.stderr.close()


def start(tmp_path: Path, where: str = "beginning") -> Daemon:
    """The daemon over the layout's logs/*.log, reading a file it has no position for from ``where``."""
    return Daemon(tmp_path, tmp_path / "progs", str(tmp_path / "logs" / "*.log"), "--from", where)


def started(tmp_path: Path, count: int) -> tuple[Daemon, Path, Path, int]:
    """The layout with ``count`` lines in its log, and the daemon once it has counted them;
    returns the daemon, the logs folder, the log and the lines written."""
    _progs, logs, log = layout(tmp_path)
    n = append(log, 0, count)
    daemon = start(tmp_path)
    try:
        assert_counted(daemon, n)
    except BaseException:
        daemon.stop()
        raise
    return daemon, logs, log, n


def restart_and_count(tmp_path: Path, written: int, where: str = "beginning") -> None:
    """Start the daemon again and check that it counts ``written`` lines in all, then stop it."""
    daemon = start(tmp_path, where)
    try:
        assert_counted(daemon, written)
    finally:
        code = daemon.stop()
    assert code == 0


def with_history(tmp_path: Path) -> tuple[Path, Path]:
    """The layout with 50 lines already in its log, history that ``--from end`` does not count;
    returns the logs folder and the log."""
    _progs, logs, log = layout(tmp_path)
    log.write_text(lines(0, 50), encoding="utf-8")
    return logs, log


def away(daemon: Daemon, how: str) -> None:
    """The daemon goes away: killed (``kill -9``) or stalled (SIGSTOP)."""
    if how == "kill":
        kill9(daemon)
    else:
        daemon.proc.send_signal(signal.SIGSTOP)


def back(tmp_path: Path, daemon: Daemon, how: str) -> Daemon:
    """It comes back: started again after a kill, or SIGCONT after a stall; returns the one running."""
    if how == "kill":
        return start(tmp_path)
    daemon.proc.send_signal(signal.SIGCONT)
    return daemon


def test_a_fifo_at_a_followed_path_or_a_rotated_name_never_blocks(tmp_path):
    _progs, logs, log = layout(tmp_path)
    other = logs / "other.log"
    log.write_text(lines(0, 10), encoding="utf-8")
    other.write_text("", encoding="utf-8")
    daemon = start(tmp_path)
    assert wait_for(lambda: daemon.samples().get("lines_total") == 10.0)
    os.rename(log, logs / "app.log.1")
    os.mkfifo(log)  # a FIFO where the log was: open() on it would wait for a writer for ever
    assert wait_for(lambda: "not a regular file (a FIFO)" in daemon.log(), timeout=10)
    append(other, 10, 5)  # the other file is still read: the loop is not stuck
    assert_counted(daemon, 15)
    assert daemon.samples()[f"logmetrics_log_read_errors_total{{file={log}}}"] >= 1
    assert daemon.stop() == 0

    # A FIFO among the rotated names, looked at when resuming after a rotation while stopped.
    os.unlink(log)
    os.rename(other, logs / "other.log.2")
    os.mkfifo(logs / "other.log.1")
    os.mkfifo(logs / "app.log.2")
    append(other, 15, 5)
    restart_and_count(tmp_path, 20)


def test_from_end_is_for_the_first_start_only(tmp_path):
    logs, log = with_history(tmp_path)  # not counted: --from end, first start
    daemon = start(tmp_path, "end")
    n = append(log, 0, 5)
    assert_counted(daemon, n)
    assert daemon.stop() == 0
    # Written while stopped, to a file the daemon never saw: read from its beginning.
    append(logs / "new.log", n, 500)
    restart_and_count(tmp_path, n + 500, "end")


def test_kill_9_within_the_first_second_loses_nothing(tmp_path):
    logs, log = with_history(tmp_path)
    n = 0
    for life in range(4):
        daemon = start(tmp_path, "end")  # the default
        n = append(log, n, 1000)
        n = append(logs / f"b{life}.log", n, 250)  # a file created just before the kill
        time.sleep(0.2)
        kill9(daemon)
        n = append(log, n, 500)  # while it is down
    restart_and_count(tmp_path, n, "end")


def test_a_rotated_in_file_that_cannot_be_opened_at_first_is_read_from_its_start(tmp_path):
    logs, log = with_history(tmp_path)
    daemon = start(tmp_path, "end")
    try:
        n = append(log, 0, 100)
        assert wait_for(lambda: daemon.samples().get("lines_total") == 100.0)
        os.rename(log, logs / "app.log.1")
        log.mkdir()  # briefly not a regular file
        assert wait_for(lambda: "not a regular file" in daemon.log(), timeout=10)
        log.rmdir()
        n = append(log, n, 420)
        assert_counted(daemon, n)
    finally:
        daemon.stop()


def _rotate_by_hand(logs: Path, log: Path, compress_older: bool) -> None:
    """What logrotate with ``rotate 5`` and ``delaycompress`` does: shift .1 to .2(.gz), rename, create."""
    one, two = logs / "app.log.1", logs / "app.log.2"
    if one.exists():
        if compress_older:
            with open(one, "rb") as src, gzip.open(logs / "app.log.2.gz", "wb") as dst:
                shutil.copyfileobj(src, dst)
            one.unlink()
        else:
            os.rename(one, two)
    os.rename(log, one)
    log.touch()


@pytest.mark.parametrize("how, compress", [("kill", False), ("kill", True), ("stall", False)],
                         ids=["stopped-plain", "stopped-delaycompress", "stall"])
def test_two_rotations_while_away_read_every_generation(tmp_path, how, compress):
    daemon, logs, log, n = started(tmp_path, 1000)
    try:
        away(daemon, how)
        n = append(log, n, 300)  # after the last checkpoint, before the first rotation
        _rotate_by_hand(logs, log, compress)
        n = append(log, n, 2000)  # the middle generation, never seen by the daemon
        _rotate_by_hand(logs, log, compress)
        n = append(log, n, 700)
        assert (logs / ("app.log.2.gz" if compress else "app.log.2")).exists()
        daemon = back(tmp_path, daemon, how)
        assert_counted(daemon, n)
    finally:
        daemon.stop()


@pytest.mark.parametrize("how", ["kill", "stall"])
def test_an_empty_generation_rotated_again_is_not_taken_for_a_newer_one(tmp_path, how):
    """logrotate's create leaves an empty file that a quiet service never writes before the next
    rotation, while the server wrote to the old file after it was made: the older generation has
    the later time. Generations are ordered by their numbers, not by that time."""
    daemon, logs, log, n = started(tmp_path, 1000)
    other = logs / "other.log"  # written to make checkpoints while app.log stays empty
    try:
        os.rename(log, logs / "app.log.1")
        log.touch()
        assert wait_for(lambda: "rotated (new file at the path)" in daemon.log(), timeout=10)
        n = append(logs / "app.log.1", n, 200)  # the server writes to the old file until it reopens
        assert_counted(daemon, n)
        time.sleep(RETIRE_SECONDS + 0.5)  # the old file is drained and let go
        n = append(other, n, 10)

        def saved() -> set[str]:
            return set(checkpoint.read(tmp_path / "state").positions)

        assert wait_for(lambda: saved() == {str(log), str(other)}), saved()
        away(daemon, how)
        os.rename(logs / "app.log.1", logs / "app.log.2")
        os.rename(log, logs / "app.log.1")  # still empty: its time is older than app.log.2's
        written = os.stat(logs / "app.log.2").st_mtime
        # Created before app.log.2 was last written, though maybe within the same clock tick.
        os.utime(logs / "app.log.1", (written - 1, written - 1))
        n = append(log, n, 300)
        daemon = back(tmp_path, daemon, how)
        assert_counted(daemon, n)
        time.sleep(1.0)  # a generation read twice would show up now
        assert_counted(daemon, n)
    finally:
        daemon.stop()


@pytest.mark.parametrize("then_renamed", [False, True], ids=["stays", "then-renamed"])
@pytest.mark.parametrize("how", ["kill", "stall"])
def test_copytruncate_of_a_file_last_seen_empty_reads_the_copy(tmp_path, how, then_renamed):
    """A file seen empty has no first bytes to be known by: copied and truncated before the next
    look (a stall, or while the daemon is down), it looks as if only appended to. The copy is
    the rotated file newer than every one there was when it was opened; renamed away after
    that, the file has the copy between it and the older generation saved with it."""
    daemon, logs, log, n = started(tmp_path, 1000)
    other = logs / "other.log"
    try:
        os.rename(log, logs / "app.log.1")
        log.touch()
        assert wait_for(lambda: "rotated (new file at the path)" in daemon.log(), timeout=10)
        n = append(other, n, 10)  # a checkpoint taken after the empty file was seen
        assert wait_for(lambda: str(other) in checkpoint.read(tmp_path / "state").positions)
        away(daemon, how)
        n = append(log, n, 200)  # never read before the rotation: only in the copy
        os.rename(logs / "app.log.1", logs / "app.log.2")
        shutil.copyfile(log, logs / "app.log.1")
        with open(log, "r+") as f:
            f.truncate(0)
        n = append(log, n, 300)
        if then_renamed:
            for k in (2, 1):
                os.rename(logs / f"app.log.{k}", logs / f"app.log.{k + 1}")
            os.rename(log, logs / "app.log.1")
            n = append(log, n, 50)
        daemon = back(tmp_path, daemon, how)
        assert_counted(daemon, n)
    finally:
        daemon.stop()


def test_a_copy_read_then_the_emptied_file_renamed_while_down_is_not_read_again(tmp_path):
    """copytruncate seen while running (the copy's rest read), the emptied file saved before a
    line came, then written and renamed while the daemon is down: the copy is not read again."""
    daemon, logs, log, n = started(tmp_path, 1000)
    other = logs / "other.log"
    try:
        os.rename(log, logs / "app.log.1")
        n = append(log, n, 100)
        assert_counted(daemon, n)
        os.rename(logs / "app.log.1", logs / "app.log.2")
        shutil.copyfile(log, logs / "app.log.1")
        with open(log, "r+") as f:
            f.truncate(0)
        assert wait_for(lambda: "truncated (copytruncate)" in daemon.log(), timeout=10)
        n = append(other, n, 10)
        assert wait_for(lambda: str(other) in checkpoint.read(tmp_path / "state").positions)
        kill9(daemon)
        n = append(log, n, 200)
        for k in (2, 1):
            os.rename(logs / f"app.log.{k}", logs / f"app.log.{k + 1}")
        os.rename(log, logs / "app.log.1")
        n = append(log, n, 300)
        daemon = start(tmp_path)
        assert_counted(daemon, n)
        time.sleep(1.0)  # a generation read twice would show up now
        assert_counted(daemon, n)
    finally:
        daemon.stop()


def test_a_log_renamed_away_and_not_created_again_while_down_is_read_to_its_end(tmp_path):
    """The path is missing at start (renamed, the server has not created it again): what was
    written to the file before the rename is still read, under its rotated name."""
    daemon, logs, log, n = started(tmp_path, 1000)
    kill9(daemon)
    n = append(log, n, 100)
    os.rename(log, logs / "app.log.1")
    restart_and_count(tmp_path, n)


def test_a_generation_that_is_truly_gone_is_reported_and_counted(tmp_path):
    daemon, _logs, log, n = started(tmp_path, 100)
    assert daemon.stop() == 0
    append(log, n, 50)  # written, then the file is deleted while the daemon is down
    log.unlink()
    n = append(log, n + 50, 10)
    daemon = start(tmp_path)
    try:
        lost = f"logmetrics_log_generations_lost_total{{file={log}}}"
        assert wait_for(lambda: daemon.samples().get(lost) == 1)
        assert "is gone" in daemon.log()
        wait_for(lambda: daemon.samples().get("lines_total") == 110.0)
        assert daemon.samples()["lines_total"] == 110.0  # the 50 lines of the deleted file are gone
    finally:
        daemon.stop()


def test_a_file_created_written_and_renamed_away_within_the_rescan_is_read(tmp_path):
    _progs, logs, _log = layout(tmp_path)
    daemon = start(tmp_path)
    try:
        n = 0
        for i in range(5):
            short = logs / f"short{i}.log"
            n = append(short, n, 100)
            time.sleep(0.3)
            os.rename(short, logs / f"short{i}.log.done")
            time.sleep(0.4)
        assert_counted(daemon, n)
    finally:
        daemon.stop()


def test_lines_written_to_the_old_file_during_a_stall_survive_a_kill(tmp_path):
    _progs, logs, log = layout(tmp_path)
    writer = Writer(log)
    writer.start()
    daemon = start(tmp_path)
    time.sleep(1.0)
    os.rename(log, logs / "app.log.1")  # the writer goes on writing to the renamed file
    log.write_text("", encoding="utf-8")
    assert wait_for(lambda: "rotated (new file at the path)" in daemon.log(), timeout=10)
    time.sleep(1.5)  # a checkpoint that knows the new file
    daemon.proc.send_signal(signal.SIGSTOP)
    time.sleep(1.0)  # lines written to the old file that the daemon has not read
    kill9(daemon)
    writer.reopen()
    time.sleep(0.5)
    restart_and_count(tmp_path, writer.finish())


def test_copytruncate_during_a_stall_with_more_new_bytes_than_the_old_offset(tmp_path):
    daemon, logs, log, n = started(tmp_path, 1000)
    try:
        away(daemon, "stall")
        n = append(log, n, 100)  # not read before the rotation: they are only in the copy
        shutil.copyfile(log, logs / "app.log.1")
        with open(log, "r+") as f:
            f.truncate(0)
        n = append(log, n, 1500)  # longer than the old offset
        daemon = back(tmp_path, daemon, "stall")
        assert_counted(daemon, n)
    finally:
        daemon.stop()


def test_a_rotated_file_overwritten_in_place_while_drained_is_not_counted(tmp_path):
    daemon, logs, log, n = started(tmp_path, 500)
    try:
        os.rename(log, logs / "app.log.1")
        n = append(log, n, 10)
        assert wait_for(lambda: "rotated (new file at the path)" in daemon.log(), timeout=10)
        assert_counted(daemon, n)
        fd = os.open(logs / "app.log.1", os.O_WRONLY)  # same inode, other content, longer
        os.pwrite(fd, lines(5000, 900).encode(), 0)
        os.close(fd)
        assert wait_for(lambda: "overwritten while being read" in daemon.log(), timeout=10)
        n = append(log, n, 10)
        assert_counted(daemon, n)
    finally:
        daemon.stop()


def test_a_file_cut_in_place_and_appended_does_not_count_kept_lines_again(tmp_path):
    daemon, _logs, log, n = started(tmp_path, 1000)
    try:
        with open(log, "r+") as f:
            f.truncate(len(lines(0, 500)))  # the first 500 lines stay
        assert wait_for(lambda: "cut in place" in daemon.log(), timeout=10)
        append(log, n, 100)
        wait_for(lambda: daemon.samples().get("lines_total") == 1100.0)
        assert daemon.samples()["lines_total"] == 1100.0
    finally:
        daemon.stop()


@pytest.mark.skipif(LOGROTATE is None, reason="logrotate is not installed")
def test_real_logrotate_delaycompress_twice_while_stopped(tmp_path):
    _progs, logs, log = layout(tmp_path)
    config = tmp_path / "logrotate.conf"
    config.write_text(f"{log} {{\n  rotate 5\n  create\n  compress\n  delaycompress\n}}\n", encoding="utf-8")
    state = tmp_path / "logrotate.status"
    n = append(log, 0, 1000)
    daemon = start(tmp_path)
    assert_counted(daemon, n)
    kill9(daemon)
    for _ in range(3):
        n = append(log, n, 400)
        subprocess.run([str(LOGROTATE), "-f", "-s", str(state), str(config)], check=True)
    n = append(log, n, 100)
    assert (logs / "app.log.2.gz").exists() and (logs / "app.log.1").exists()
    restart_and_count(tmp_path, n)



#: Runs a command as its only child and prints its exit status and peak RSS in KiB.
PEAK_RSS = ("import resource, subprocess, sys\n"
            "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
            "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")


def test_dry_run_streams_a_100_mb_line_in_bounded_memory(tmp_path):
    progs, _logs, log = layout(tmp_path)
    with open(log, "wb") as f:
        f.write(b"line 0\n")
        chunk = b"x" * (1 << 20)
        for _ in range(100):
            f.write(chunk)
        f.write(b"\nline 1\n")
    command = [str(SCRIPT), "dry-run", "--progs", str(progs), str(log)]
    out = subprocess.run([sys.executable, "-c", PEAK_RSS, *command],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    code, peak_kib = map(int, out.split())
    assert code == 0
    assert peak_kib <= 64 * 1024, f"peak RSS {peak_kib / 1024:.0f} MB"
