"""Sources: splitting and decoding, static reading, and tailing one file."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import sys
import time
import tracemalloc

import pytest

from logmetrics.sources.follow import Follower
from logmetrics.sources.lines import LineSplitter
from logmetrics.sources.positions import FileId, Position
from logmetrics.sources.static import SourceError, read_batches
from logmetrics.sources.tail import FileTailer

# --- lines -----------------------------------------------------------------------


def test_lines_split_across_chunks_with_crlf():
    s = LineSplitter()
    assert s.feed(b"ab") == []
    assert s.feed(b"c\r\nde") == ["abc"]
    assert s.feed(b"f\n\ng\r\n") == ["def", "", "g"]
    assert s.feed(b"tail") == []
    assert s.flush() == ["tail"]
    assert s.stats.lines == 5


def test_invalid_utf8_and_nul_are_counted_not_fatal():
    s = LineSplitter()
    lines = s.feed(b"ok\n\xff\xfebad\nnul\x00here\nfine\n")
    assert lines == ["ok", "\ufffd\ufffdbad", "nul\x00here", "fine"]
    assert (s.stats.invalid_utf8, s.stats.nul_lines) == (1, 1)


def test_a_100_mb_line_is_cut_with_bounded_memory():
    s = LineSplitter(max_line=1000)
    chunk = b"x" * (1 << 20)
    tracemalloc.start()
    out = s.feed(b"before\n")
    for _ in range(100):
        out += s.feed(chunk)
    out += s.feed(b"end\nafter\n")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert out == ["before", "x" * 1000, "after"]
    assert s.stats.overlong == 1
    assert peak < 8 * (1 << 20)  # a few chunks, never the whole line


# --- static reading ----------------------------------------------------------------


def test_read_plain_gzip_and_stdin(tmp_path, monkeypatch):
    data = b"".join(f"line {i}\n".encode() for i in range(10000))
    plain = tmp_path / "a.log"
    plain.write_bytes(data)
    gz = tmp_path / "a.log.gz"
    gz.write_bytes(gzip.compress(data))
    expected = [f"line {i}" for i in range(10000)]
    assert [x for b in read_batches(str(plain)) for x in b] == expected
    reader = read_batches(str(gz))
    assert [x for b in reader for x in b] == expected
    assert reader.bytes_read == reader.total_bytes == gz.stat().st_size
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert [x for b in read_batches("-") for x in b] == expected


@pytest.mark.parametrize(("make", "message"), [("missing", "no such file"), ("dir", "is a directory")])
def test_unreadable_sources_are_clear_errors(tmp_path, make, message):
    path = tmp_path / "x"
    if make == "dir":
        path.mkdir()
    with pytest.raises(SourceError, match=message):
        list(read_batches(str(path)))


# --- tailing one file --------------------------------------------------------------


def read_all(tailer: FileTailer, rounds: int = 3) -> list[str]:
    out = []
    for _ in range(rounds):
        out += tailer.read()
    return out


def test_start_at_end_skips_a_partial_last_line_and_waits_for_newlines(tmp_path):
    log = tmp_path / "a.log"
    log.write_bytes(b"old 1\nold 2\npart")
    tailer = FileTailer(str(log), None, start_at_end=True)
    assert read_all(tailer) == []
    with open(log, "ab") as f:
        f.write(b"ial\nnew\nhalf")
    assert read_all(tailer) == ["partial", "new"]
    assert tailer.position.offset == log.stat().st_size - len("half")


def test_replaced_while_down_finishes_the_old_file(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("1\n2\n", encoding="utf-8")
    tailer = FileTailer(str(log), None, start_at_end=False)
    assert read_all(tailer) == ["1", "2"]
    saved = tailer.position
    tailer.close()
    with open(log, "a") as f:
        f.write("3\n")
    os.rename(log, tmp_path / "a.log-20261125")
    log.write_text("4\n", encoding="utf-8")
    restarted = FileTailer(str(log), saved, start_at_end=True)
    assert read_all(restarted) == ["3", "4"]


def test_inode_reuse_is_seen_through_the_fingerprint(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("first file line 1\nfirst file line 2\n", encoding="utf-8")
    tailer = FileTailer(str(log), None, start_at_end=False)
    read_all(tailer)
    saved = tailer.position
    tailer.close()
    os.unlink(log)
    log.write_text("second\n", encoding="utf-8")  # ext4 hands out the same inode again
    restarted = FileTailer(str(log), Position(saved.file, 0 + saved.offset), start_at_end=True)
    assert read_all(restarted) == ["second"]


def test_copytruncate_reads_the_rest_from_the_copy(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("a\n", encoding="utf-8")
    tailer = FileTailer(str(log), None, start_at_end=False)
    assert read_all(tailer) == ["a"]
    with open(log, "a") as f:
        f.write("b\nc\n")
    shutil.copyfile(log, tmp_path / "a.log.1")
    with open(log, "r+") as f:
        f.truncate(0)
    with open(log, "a") as f:
        f.write("d\n")
    assert read_all(tailer) == ["b", "c", "d"]
    assert tailer.stats.rotations == 1


@pytest.mark.parametrize("kind", ["directory", "dangling symlink", "missing"])
def test_unreadable_paths_are_reported_and_retried(tmp_path, kind, caplog):
    log = tmp_path / "a.log"
    if kind == "directory":
        log.mkdir()
    elif kind == "dangling symlink":
        log.symlink_to(tmp_path / "nowhere")
    tailer = FileTailer(str(log), Position(FileId(-1, 1, "", 0), 0), start_at_end=False)
    assert read_all(tailer) == []
    if kind != "missing":
        assert tailer.stats.errors == 1  # once, not once per poll
    if kind == "directory":
        log.rmdir()
    else:
        log.unlink(missing_ok=True)
    log.write_text("now\n", encoding="utf-8")
    assert read_all(tailer) == ["now"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_then_fixed(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("x\n", encoding="utf-8")
    log.chmod(0)
    tailer = FileTailer(str(log), None, start_at_end=False)
    assert read_all(tailer) == [] and tailer.stats.errors == 1
    log.chmod(0o644)
    assert read_all(tailer) == ["x"]


@pytest.mark.parametrize("poll", [False, True])
def test_follower_finds_files_in_a_directory_created_later(tmp_path, poll):
    follower = Follower([str(tmp_path / "later" / "*.log")], poll=poll, rescan_interval=0.1)
    follower.start()
    try:
        (tmp_path / "later").mkdir()
        (tmp_path / "later" / "x.log").write_text("hello\n", encoding="utf-8")
        got: list[str] = []
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            for _path, lines in follower.poll():
                got += lines
            follower.wait(0.1)
        assert got == ["hello"]
        assert follower.handed_out()[str(tmp_path / "later" / "x.log")].offset == 6
    finally:
        follower.stop()


def test_a_tailer_reads_at_most_its_budget_and_says_it_is_behind(tmp_path):
    log = tmp_path / "burst.log"
    log.write_text("".join(f"line {i:04d}\n" for i in range(1000)))  # 10,000 bytes
    tailer = FileTailer(str(log), None, start_at_end=False, read_limit=4096)
    batches = []
    while True:
        batches.append(tailer.read())
        if not tailer.behind:
            break
    assert [len(b) for b in batches[:2]] == [409, 410]  # 4096 bytes each, lines completed across reads
    assert sum(map(len, batches)) == 1000
    assert batches[-1][-1] == "line 0999"
    follower = Follower([str(log)], from_end=False)
    follower.start()
    try:
        follower.tailers[str(log)].read_limit = 4096
        follower.poll()
        assert follower.behind  # the daemon polls again at once instead of sleeping
    finally:
        follower.stop()
