"""Following files, below the daemon: generations in order, identity, descriptors, bounded work."""

from __future__ import annotations

import gzip
import os
import shutil
import time
from pathlib import Path

from logmetrics.sources import tail
from logmetrics.sources.follow import Follower
from logmetrics.sources.generations import Generation, locate, open_generation, rotated_files
from logmetrics.sources.positions import head_matches
from logmetrics.sources.tail import FileTailer


def numbered(start: int, count: int) -> bytes:
    return "".join(f"line {i}\n" for i in range(start, start + count)).encode()


def read_all(tailer: FileTailer) -> list[str]:
    out: list[str] = []
    for _ in range(50):
        out += tailer.read()
        if not tailer.busy:
            break
    return out


def following(folder: Path, count: int = 100) -> tuple[Path, FileTailer, list[str]]:
    """``app.log`` in ``folder`` written with ``count`` lines, and a tailer that read them all."""
    log = folder / "app.log"
    log.write_bytes(numbered(0, count))
    tailer = FileTailer(str(log), None, start_at_end=False)
    return log, tailer, read_all(tailer)


def read_and_stop(log, count: int):
    """``log`` written with ``count`` lines, read whole by a tailer that then stops: its positions."""
    log.write_bytes(numbered(0, count))
    tailer = FileTailer(str(log), None, start_at_end=False)
    assert len(read_all(tailer)) == count
    saved = tailer.positions()
    tailer.close()
    return saved


def open_fds_to(folder: Path) -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(str(folder)):
                count += 1
        except OSError:
            pass
    return count


def test_rotated_names_in_order_compressed_and_dated_and_fifos_skipped(tmp_path):
    log = tmp_path / "access.log"
    for name in ("access.log.3.gz", "access.log.2.gz", "access.log.1"):
        (tmp_path / name).write_bytes(b"x\n")
    os.mkfifo(tmp_path / "access.log.4")
    (tmp_path / "access.log.zst").write_bytes(b"not readable here")
    (tmp_path / "access.logger").write_bytes(b"another log")
    assert [Path(r.path).name for r in rotated_files(str(log))] == [
        "access.log.3.gz", "access.log.2.gz", "access.log.1"]
    dated = tmp_path / "dated"
    dated.mkdir()
    for name in ("app.log-20240103", "app.log-20231231", "app.log-20240101.gz"):
        (dated / name).write_bytes(b"x\n")
        stamp = int(name[8:16]) * 10**9  # each written on its day
        os.utime(dated / name, ns=(stamp, stamp))
    assert [Path(r.path).name for r in rotated_files(str(dated / "app.log"))] == [
        "app.log-20231231", "app.log-20240101.gz", "app.log-20240103"]


def test_names_given_upwards_by_hand_yield_to_modification_times(tmp_path):
    log = tmp_path / "app.log"
    for i, name in enumerate(("app.log.1", "app.log.2", "app.log.3")):
        (tmp_path / name).write_bytes(b"x\n")
        os.utime(tmp_path / name, ns=(10**18 + i, 10**18 + i))  # .1 oldest, .3 newest
    assert [Path(r.path).name for r in rotated_files(str(log))] == ["app.log.1", "app.log.2", "app.log.3"]


def _three_generations(folder: Path) -> Path:
    log = folder / "app.log"
    (folder / "app.log.2").write_bytes(numbered(0, 100))
    (folder / "app.log.1").write_bytes(numbered(100, 100))
    log.write_bytes(numbered(200, 100))
    return log


def _rotate(log: Path, start: int) -> None:
    """Shift every generation (``.2`` -> ``.3``, ``.1`` -> ``.2``, the log -> ``.1``) and write a new log."""
    folder = log.parent
    os.rename(folder / "app.log.2", folder / "app.log.3")
    os.rename(folder / "app.log.1", folder / "app.log.2")
    os.rename(log, folder / "app.log.1")
    log.write_bytes(numbered(start, 100))


def test_a_rotation_while_the_rotated_names_are_listed_misses_and_repeats_nothing(tmp_path, monkeypatch):
    log = _three_generations(tmp_path)
    inodes = [os.stat(tmp_path / name).st_ino for name in ("app.log.2", "app.log.1", "app.log")]
    real_listdir = os.listdir
    rotated: list[bool] = []

    def listdir_then_rotate(folder):
        names = real_listdir(folder)
        if not rotated:  # once, between listing the names and looking at each
            rotated.append(True)
            _rotate(log, 300)
        return names

    monkeypatch.setattr(os, "listdir", listdir_then_rotate)
    found = rotated_files(str(log))
    assert [Path(r.path).name for r in found] == ["app.log.3", "app.log.2", "app.log.1"]
    assert [r.st.st_ino for r in found] == inodes


def test_a_generation_renamed_between_listing_and_opening_is_opened_by_identity(tmp_path):
    log = _three_generations(tmp_path)
    listed = rotated_files(str(log))
    _rotate(log, 300)  # what was app.log.1 is app.log.2 now, and app.log.1 another file
    gen = open_generation(listed[-1], 0, 1 << 20)
    assert gen is not None
    lines, _ = gen.read(1 << 20, 1 << 16)
    gen.close()
    assert lines == numbered(100, 100).decode().splitlines()
    assert gen.name == str(tmp_path / "app.log.2")


def test_a_copytruncate_while_resuming_reads_the_copy_and_the_rest(tmp_path, monkeypatch):
    """The file at the path, never read, copied and truncated just after the rotated names were
    listed and before it was first looked at: the copy is read whole, then the file."""
    log = tmp_path / "app.log"
    saved = read_and_stop(log, 100)
    os.rename(log, tmp_path / "app.log.1")  # while down: rotated, and the new file written
    log.write_bytes(numbered(100, 100))
    real_rotated_files = tail.rotated_files
    copied: list[bool] = []

    def listed_then_copied_and_truncated(path):
        listing = real_rotated_files(path)
        if not copied:
            copied.append(True)
            os.rename(tmp_path / "app.log.1", tmp_path / "app.log.2")
            shutil.copyfile(log, tmp_path / "app.log.1")
            with open(log, "r+b") as f:
                f.truncate(0)
                f.write(numbered(200, 50))
        return listing

    monkeypatch.setattr(tail, "rotated_files", listed_then_copied_and_truncated)
    resumed = FileTailer(str(log), saved, start_at_end=False)
    assert read_all(resumed) == numbered(100, 150).decode().splitlines()
    resumed.close()


def test_files_rotated_while_the_path_looked_missing_are_read(tmp_path, monkeypatch):
    """A slow turn: the file was renamed, another put at the path and renamed away too, and the
    path is missing at the next looks (the server has not created it again). What came after the
    file let go is read, and, when the path comes back, what was rotated since."""
    monkeypatch.setattr(tail, "RETIRE_SECONDS", 0.05)
    log, tailer, lines = following(tmp_path)
    os.rename(log, tmp_path / "app.log.1")
    log.write_bytes(numbered(100, 50))
    os.rename(tmp_path / "app.log.1", tmp_path / "app.log.2")
    os.rename(log, tmp_path / "app.log.1")
    lines += tailer.read()  # the path is missing: nothing decided yet
    time.sleep(0.1)
    lines += read_all(tailer)  # missing for long enough: the file is let go
    log.write_bytes(numbered(150, 20))  # put at the path and rotated away unseen
    for k in (2, 1):
        os.rename(tmp_path / f"app.log.{k}", tmp_path / f"app.log.{k + 1}")
    os.rename(log, tmp_path / "app.log.1")
    time.sleep(0.1)
    lines += read_all(tailer)
    log.write_bytes(numbered(170, 30))  # back at the path
    lines += read_all(tailer)
    time.sleep(0.1)
    lines += read_all(tailer)
    tailer.close()
    assert sorted(lines, key=lambda line: int(line.split()[1])) == numbered(0, 200).decode().splitlines()


def test_a_saved_generation_is_resumed_from_inside_a_gz_file(tmp_path):
    log = tmp_path / "app.log"
    saved = read_and_stop(log, 300)
    with open(log, "ab") as f:
        f.write(numbered(300, 50))
    (tmp_path / "app.log.1.gz").write_bytes(gzip.compress(log.read_bytes()))
    log.unlink()
    log.write_bytes(numbered(350, 10))
    restarted = FileTailer(str(log), saved, start_at_end=False)
    assert read_all(restarted) == [f"line {i}" for i in range(300, 360)]
    assert restarted.stats.generations_lost == 0


def test_from_the_end_never_scans_a_huge_file_without_newlines(tmp_path, monkeypatch):
    log = tmp_path / "huge.log"
    with open(log, "wb") as f:
        f.truncate(4 << 30)  # 4 GiB of NUL bytes, no newline (sparse: takes no disk)
    read_bytes = []
    real_pread = os.pread

    def counting_pread(fd: int, size: int, offset: int) -> bytes:
        data = real_pread(fd, size, offset)
        read_bytes.append(len(data))
        return data

    monkeypatch.setattr(os, "pread", counting_pread)
    tailer = FileTailer(str(log), None, start_at_end=True, max_line=1 << 20)
    tailer.open()
    assert sum(read_bytes) < 4 << 20  # a few MiB looked at, not 4 GiB
    with open(log, "ab") as f:
        f.write(b"rest of that line\nline 1\n")
    assert read_all(tailer) == ["line 1"]


def test_quiet_files_give_their_descriptors_back_and_are_reopened_by_identity(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    for i in range(5):
        (logs / f"f{i}.log").write_bytes(numbered(0, 10))
    follower = Follower([str(logs / "*.log")], from_end=False, rescan_interval=0.1, idle_close=0.3)
    follower.start()
    try:
        got: list[str] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (len(got) < 50 or open_fds_to(logs)):
            got += [line for _, batch in follower.poll() for line in batch]
            time.sleep(0.05)
        assert len(got) == 50
        assert open_fds_to(logs) == 0  # every quiet file closed
        # Written while closed, and one rotated while closed: read once, from where it was.
        with open(logs / "f0.log", "ab") as f:
            f.write(numbered(10, 5))
        os.rename(logs / "f1.log", logs / "f1.log.1")
        with open(logs / "f1.log.1", "ab") as f:
            f.write(numbered(10, 3))
        (logs / "f1.log").write_bytes(numbered(13, 2))
        more: list[str] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(more) < 10:
            more += [line for _, batch in follower.poll() for line in batch]
            time.sleep(0.05)
        assert sorted(more) == sorted([f"line {i}" for i in range(10, 15)] * 2)
        positions = follower.handed_out()
        assert {Path(p).name for p in positions} >= {f"f{i}.log" for i in range(5)}
    finally:
        follower.stop()


def test_lines_arriving_between_opening_and_reading_are_part_of_the_files_identity(tmp_path):
    """A file opened empty and read once it has lines: the position saved covers those lines'
    first bytes (never an empty file's identity, which fits every file and means "nothing
    read"), so the file is told from a copy of it and from what replaces it."""
    log = tmp_path / "app.log"
    log.touch()
    fd = os.open(log, os.O_RDONLY)
    gen = Generation(fd, os.fstat(fd), str(log), 0, 1 << 20)
    assert gen.file_id.head_len == 0
    log.write_bytes(numbered(0, 30))
    lines, _ = gen.read(1 << 20, 1 << 16)
    assert len(lines) == 30
    position = gen.position
    assert position.file.head_len == len(numbered(0, 30))
    shutil.copyfile(log, tmp_path / "app.log.1")  # copytruncate, then other lines past the offset
    log.write_bytes(numbered(1000, 100))
    assert not head_matches(gen.fd, position.file)
    assert locate(position, rotated_files(str(log))) == 0
    gen.close()


def test_a_copytruncate_during_a_stall_after_lines_came_between_open_and_read(tmp_path, monkeypatch):
    """The daemon stalled (SIGSTOP) just after its first read of a file opened empty; meanwhile
    the file was copied and truncated, written past the old offset, then renamed away: the copy's
    rest and the whole new content are read, nothing twice."""
    monkeypatch.setattr(tail, "RETIRE_SECONDS", 0.05)
    log = tmp_path / "app.log"
    log.write_bytes(numbered(0, 50))
    tailer = FileTailer(str(log), None, start_at_end=False)
    lines = read_all(tailer)
    os.rename(log, tmp_path / "app.log.1")  # rename rotation; the server creates the file again
    log.touch()
    real_open_current = FileTailer._open_current

    def opened_then_written(self: FileTailer) -> None:
        real_open_current(self)
        with open(log, "ab") as f:  # lines come between the opening and the first read
            f.write(numbered(50, 40))

    monkeypatch.setattr(FileTailer, "_open_current", opened_then_written)
    lines += tailer.read()
    monkeypatch.setattr(FileTailer, "_open_current", real_open_current)
    with open(log, "ab") as f:  # the stall: more lines, copytruncate, more lines, rename + create
        f.write(numbered(90, 60))
    os.rename(tmp_path / "app.log.1", tmp_path / "app.log.2")
    shutil.copyfile(log, tmp_path / "app.log.1")
    os.truncate(log, 0)
    with open(log, "ab") as f:
        f.write(numbered(150, 100))
    for k in (2, 1):
        os.rename(tmp_path / f"app.log.{k}", tmp_path / f"app.log.{k + 1}")
    os.rename(log, tmp_path / "app.log.1")
    log.write_bytes(numbered(250, 10))
    lines += read_all(tailer)
    time.sleep(0.1)
    lines += read_all(tailer)
    tailer.close()
    assert lines == numbered(0, 260).decode().splitlines()


def test_a_quiet_generation_found_at_a_restart_is_let_go_once_read(tmp_path):
    """Restarts every few seconds (a crash loop) must not keep every generation ever saved: one
    found again at a start and quiet for longer than servers take to reopen their logs is let go
    once read to its end, so the checkpoint holds only what may still be written to."""
    log, tailer, lines = following(tmp_path)
    os.rename(log, tmp_path / "app.log.1")  # rotated; a restart before it was let go
    log.write_bytes(numbered(100, 10))
    lines += read_all(tailer)
    saved = tailer.positions()
    tailer.close()
    assert set(saved) == {str(log), str(tmp_path / "app.log.1")}
    with open(tmp_path / "app.log.1", "ab") as f:  # the server wrote on before it reopened
        f.write(numbered(110, 5))
    quiet = time.time() - 2 * tail.RETIRE_SECONDS
    os.utime(tmp_path / "app.log.1", (quiet, quiet))
    resumed = FileTailer(str(log), saved, start_at_end=False)
    lines += read_all(resumed)
    assert set(resumed.positions()) == {str(log)}
    resumed.close()
    assert sorted(lines, key=lambda line: int(line.split()[1])) == numbered(0, 115).decode().splitlines()


def test_a_generation_written_just_before_a_restart_is_still_read_for_a_while(tmp_path):
    log, tailer, _ = following(tmp_path)
    os.rename(log, tmp_path / "app.log.1")
    log.write_bytes(numbered(100, 10))
    read_all(tailer)
    saved = tailer.positions()
    tailer.close()
    resumed = FileTailer(str(log), saved, start_at_end=False)
    read_all(resumed)
    with open(tmp_path / "app.log.1", "ab") as f:  # the server has not reopened its log yet
        f.write(numbered(110, 5))
    assert resumed.read() == numbered(110, 5).decode().splitlines()
    assert str(tmp_path / "app.log.1") in resumed.positions()
    resumed.close()


def test_a_copytruncate_between_the_look_and_the_read_takes_nothing_of_the_new_content(tmp_path, monkeypatch):
    """The daemon stalled (SIGSTOP) after looking at the file and before reading it; meanwhile it
    was copied, truncated and written past the old offset. Bytes are checked after they are
    read, so the new content is never taken for the old file's rest."""
    log, tailer, lines = following(tmp_path)
    with open(log, "ab") as f:
        f.write(numbered(100, 10))
    real_check_path = FileTailer._check_path

    def looked_then_copied_and_truncated(self: FileTailer) -> None:
        real_check_path(self)
        monkeypatch.setattr(FileTailer, "_check_path", real_check_path)
        shutil.copyfile(log, tmp_path / "app.log.1")
        with open(log, "r+b") as f:
            f.truncate(0)
            f.write(numbered(110, 300))  # longer than what was read

    monkeypatch.setattr(FileTailer, "_check_path", looked_then_copied_and_truncated)
    lines += read_all(tailer)
    tailer.close()
    assert lines == numbered(0, 410).decode().splitlines()


def test_a_rotated_file_overwritten_between_the_look_and_the_read_is_not_read_as_its_rest(tmp_path,
                                                                                       monkeypatch):
    log, tailer, lines = following(tmp_path)
    os.rename(log, tmp_path / "app.log.1")
    log.write_bytes(numbered(200, 5))
    lines += read_all(tailer)  # app.log.1 is now an older generation, still read for a while
    with open(tmp_path / "app.log.1", "ab") as f:
        f.write(numbered(100, 5))
    real_check_older = FileTailer._check_older

    def looked_then_overwritten(self: FileTailer) -> None:
        real_check_older(self)
        monkeypatch.setattr(FileTailer, "_check_older", real_check_older)
        (tmp_path / "app.log.1").write_bytes(numbered(500, 300))  # rewritten in place, longer

    monkeypatch.setattr(FileTailer, "_check_older", looked_then_overwritten)
    lines += read_all(tailer)
    tailer.close()
    assert lines == numbered(0, 100).decode().splitlines() + numbered(200, 5).decode().splitlines()
