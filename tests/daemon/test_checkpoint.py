"""The checkpoint: values and positions of one moment, written as a journal of changes, read back
whatever shape the files are in."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from logmetrics.daemon import checkpoint
from logmetrics.daemon.checkpoint import BASE, JOURNAL, LEGACY, Checkpoint
from logmetrics.runtime.engine import Runtime
from logmetrics.sources.positions import FileId, Position
from tests.helpers import compile_program

PROGRAM = (
    "counter lines_total\n"
    "counter hits_total by path\n"
    "gauge last by path\n"
    "histogram size buckets 1, 10\n"
    "text who\n"
    "/^(?P<path>\\S+) (?P<n>\\d+)$/ {\n"
    "  lines_total++\n  hits_total[$path]++\n  last[$path] = $n\n  size = $n\n  who = $path\n}\n"
)
HEAD = "a" * 40


def runtime() -> Runtime:
    return Runtime([compile_program(PROGRAM, "p.mtail")])


def position(offset: int, ino: int = 7) -> Position:
    return Position(FileId(1, ino, HEAD, 10), offset)


def metric(rt: Runtime, name: str):
    return rt.programs[0].metrics[name]


def save(state: Path, rt: Runtime, positions: dict[str, Position],
         cp: Checkpoint | None = None) -> Checkpoint:
    """Commit once through the writer thread and wait for it to be written."""
    cp = cp or Checkpoint(state)
    cp._next = 0.0
    assert cp.commit(rt, lambda: positions)
    assert cp._idle.wait(10)
    assert cp.ok
    return cp


def test_values_and_positions_round_trip_through_journal_and_compaction(tmp_path):
    rt = runtime()
    rt.process(["/a 5", "/b 50", "/a 3"], "x.log")
    cp = save(tmp_path, rt, {"/x.log": position(10)})
    assert (tmp_path / BASE).exists()  # the first write is a full one
    rt.process(["/c 2"], "x.log")
    save(tmp_path, rt, {"/x.log": position(14)}, cp)
    assert b'"commit"' in (tmp_path / JOURNAL).read_bytes()  # the second, a journal entry
    assert cp.close(rt, lambda: {"/x.log": position(14), "/\udcff.log": position(3, 8)})

    again = runtime()
    restored, positions = Checkpoint(tmp_path).load(again)
    assert restored == 5
    assert positions == {"/x.log": position(14), "/\udcff.log": position(3, 8)}  # bytes names kept
    for name in ("lines_total", "hits_total", "last", "size", "who"):
        assert metric(again, name).values == metric(rt, name).values, name


def test_a_write_costs_what_changed_not_what_exists(tmp_path):
    rt = runtime()
    rt.process([f"/page/{i} 1" for i in range(20_000)], "x.log")
    cp = save(tmp_path, rt, {"/x.log": position(1)})
    base = (tmp_path / BASE).stat().st_size
    assert base > 300_000  # 10,000 label sets in each of two metrics
    rt.process(["/page/7 1"], "x.log")
    save(tmp_path, rt, {"/x.log": position(2)}, cp)
    grown = (tmp_path / JOURNAL).stat().st_size
    assert grown < 1000, (tmp_path / JOURNAL).read_text()
    cp.close(rt, lambda: {"/x.log": position(2)})
    again = runtime()
    Checkpoint(tmp_path).load(again)
    assert metric(again, "hits_total").values[("/page/7",)] == 2
    assert len(metric(again, "hits_total").values) == 10_000  # the default cardinality guard


def test_deleted_label_sets_and_dropped_metrics_stay_deleted(tmp_path):
    rt = runtime()
    rt.process(["/a 1", "/b 2"], "x.log")
    cp = save(tmp_path, rt, {"/x.log": position(1), "/y.log": position(5)})
    del metric(rt, "hits_total").values[("/a",)]
    save(tmp_path, rt, {"/x.log": position(2)}, cp)  # /y.log no longer followed
    cp.close(rt, lambda: {"/x.log": position(2)})
    again = runtime()
    _, positions = Checkpoint(tmp_path).load(again)
    assert metric(again, "hits_total").values == {("/b",): 1}
    assert positions == {"/x.log": position(2)}


def test_the_journal_is_compacted_into_the_base(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "MIN_COMPACT_BYTES", 2000)
    rt = runtime()
    cp = None
    for i in range(40):
        rt.process([f"/p{i} {i}"], "x.log")
        cp = save(tmp_path, rt, {"/x.log": position(i)}, cp)
        assert (tmp_path / JOURNAL).stat().st_size <= max(2000, (tmp_path / BASE).stat().st_size) + 2000
    assert cp is not None and cp.close(rt, lambda: {"/x.log": position(40)})
    again = runtime()
    _, positions = Checkpoint(tmp_path).load(again)
    assert metric(again, "lines_total").values[()] == 40 and positions == {"/x.log": position(40)}


def test_a_torn_last_write_is_ignored_whole(tmp_path, caplog):
    rt = runtime()
    rt.process(["/a 1"], "x.log")
    cp = save(tmp_path, rt, {"/x.log": position(5)})
    rt.process(["/a 1"], "x.log")
    save(tmp_path, rt, {"/x.log": position(10)}, cp)
    # A crash in the middle of the third write: part of its records, no commit line.
    with open(tmp_path / JOURNAL, "ab") as f:
        f.write(b'["set","p.mtail","lines_total",[[[],3]]]\n["pos",{"/x.log":[1,7,"' + HEAD.encode() + b'",1')
    again = runtime()
    _, positions = Checkpoint(tmp_path).load(again)
    assert metric(again, "lines_total").values[()] == 2 and positions == {"/x.log": position(10)}
    assert "not a checkpoint record" in caplog.text


def test_a_journal_older_than_its_base_is_skipped(tmp_path):
    """A crash between writing a new base and emptying the journal."""
    rt = runtime()
    rt.process(["/a 1"], "x.log")
    cp = save(tmp_path, rt, {"/x.log": position(5)})
    rt.process(["/a 1"], "x.log")
    save(tmp_path, rt, {"/x.log": position(10)}, cp)
    journal = (tmp_path / JOURNAL).read_bytes()
    cp._compact = True
    rt.process(["/a 1"], "x.log")
    save(tmp_path, rt, {"/x.log": position(15)}, cp)
    (tmp_path / JOURNAL).write_bytes(journal)  # the old journal is still there
    again = runtime()
    _, positions = Checkpoint(tmp_path).load(again)
    assert metric(again, "lines_total").values[()] == 3 and positions == {"/x.log": position(15)}


LEGACY_SHAPES = {
    "a list": [],
    "null": None,
    "a string": "x",
    "no version": {"programs": {}},
    "programs not a dict": {"version": 1, "programs": [1, 2]},
    "a metric not a dict": {"version": 1, "programs": {"p.mtail": {"lines_total": 3}}},
    "values not a list": {"version": 1, "programs": {"p.mtail": {"lines_total": {
        "signature": ["lines_total", "counter", [], []], "values": 5}}}},
    "a string value": {"version": 1, "programs": {"p.mtail": {"lines_total": {
        "signature": ["lines_total", "counter", [], []], "values": [[[], "many"]]}}}},
    "a non-numeric value": {"version": 1, "programs": {"p.mtail": {"lines_total": {
        "signature": ["lines_total", "counter", [], []], "values": [[[], [1]], [[], None]]}}}},
    "labels of the wrong length": {"version": 1, "programs": {"p.mtail": {"hits_total": {
        "signature": ["hits_total", "counter", ["path"], []], "values": [[[], 1], [["/a", "/b"], 2]]}}}},
    "a short histogram": {"version": 1, "programs": {"p.mtail": {"size": {
        "signature": ["size", "histogram", [], [1, 10]], "values": [[[], [1, 2]]]}}}},
    "positions not a dict": {"version": 1, "positions": ["/x.log"]},
    "a short position": {"version": 1, "positions": {"/x.log": [1, 7]}},
    "a negative offset": {"version": 1, "positions": {"/x.log": [1, 7, HEAD, 10, -5]}},
    "a string offset": {"version": 1, "positions": {"/x.log": [1, 7, HEAD, 10, "5"]}},
    "a bad head": {"version": 1, "positions": {"/x.log": [1, 7, "zz", 10, 5]}},
}


@pytest.mark.parametrize("shape", LEGACY_SHAPES)
def test_a_legacy_checkpoint_of_the_wrong_shape_is_dropped_with_a_warning(tmp_path, caplog, shape):
    (tmp_path / LEGACY).write_text(json.dumps(LEGACY_SHAPES[shape]), encoding="utf-8")
    rt = runtime()
    restored, positions = Checkpoint(tmp_path).load(rt)
    assert restored == 0 or all(v == 0 for v in metric(rt, "lines_total").values.values())
    assert not positions
    assert "checkpoint" in caplog.text and caplog.records[-1].levelname == "WARNING"
    rt.process(["/a 1"], "x.log")  # and what is restored works
    assert metric(rt, "lines_total").values[()] == 1


def test_good_parts_of_a_damaged_legacy_checkpoint_are_kept(tmp_path, caplog):
    data = {"version": 1, "programs": {"p.mtail": {
        "lines_total": {"signature": ["lines_total", "counter", [], []], "values": [[[], 41]]},
        "hits_total": {"signature": ["hits_total", "counter", ["path"], []],
                       "values": [[["/a"], 2], [["/b"], "x"], [[3], 1], "junk"]}}},
        "positions": {"/x.log": [1, 7, HEAD, 10, 5], "/y.log": [1, 8, HEAD, 10, -1]}}
    (tmp_path / LEGACY).write_text(json.dumps(data), encoding="utf-8")
    rt = runtime()
    _, positions = Checkpoint(tmp_path).load(rt)
    assert metric(rt, "lines_total").values == {(): 41}
    assert metric(rt, "hits_total").values == {("/a",): 2}
    assert positions == {"/x.log": position(5)}
    assert "dropped 1 malformed positions" in caplog.text


@pytest.mark.parametrize("line", [b"[]\n", b"null\n", b'{"a":1}\n', b'["commit","1"]\n', b'["pos",[1]]\n',
                                  b'["set","p.mtail","nope",[[[],1]]]\n', b"\xff\xfe\n"])
def test_a_base_of_the_wrong_shape_never_stops_start_up(tmp_path, line):
    good = b'["reset","p.mtail","lines_total",["lines_total","counter",[],[]]]\n' \
           b'["set","p.mtail","lines_total",[[[],4]]]\n["commit",1]\n'
    (tmp_path / BASE).write_bytes(good + line + good.replace(b"4", b"9").replace(b"1]\n", b"2]\n"))
    rt = runtime()
    Checkpoint(tmp_path).load(rt)
    assert metric(rt, "lines_total").values[()] in (4, 9)  # the commit before the damage at least


def test_a_failed_write_says_so_and_the_next_rewrites_the_base(tmp_path):
    rt = runtime()
    rt.process(["/a 1"], "x.log")
    cp = save(tmp_path, rt, {"/x.log": position(5)})
    (tmp_path / JOURNAL).unlink()
    (tmp_path / JOURNAL).mkdir()  # appending fails
    rt.process(["/a 1"], "x.log")
    cp._next = 0.0
    assert cp.commit(rt, lambda: {"/x.log": position(10)})
    assert cp._idle.wait(10) and not cp.ok
    assert not cp.close(rt, lambda: {"/x.log": position(10)})  # the base cannot replace it either
    os.rmdir(tmp_path / JOURNAL)
    cp2 = Checkpoint(tmp_path)
    cp2.load(runtime())
    assert cp2.close(rt, lambda: {"/x.log": position(10)})
    again = runtime()
    _, positions = Checkpoint(tmp_path).load(again)
    assert metric(again, "lines_total").values[()] == 2 and positions == {"/x.log": position(10)}


def test_captures_are_spaced_by_the_cost_of_writing_them(tmp_path, monkeypatch):
    rt = runtime()
    cp = save(tmp_path, rt, {})
    assert not cp.commit(rt, dict)  # written a moment ago: not yet
    cp._next = time.monotonic() - 1
    assert cp.commit(rt, dict)
    cp.close(rt, dict)


def test_without_values_only_positions_are_kept(tmp_path):
    rt = runtime()
    rt.process(["/a 1"], "x.log")
    cp = Checkpoint(tmp_path, values=False)
    assert cp.close(rt, lambda: {"/x.log": position(5)})
    again = runtime()
    restored, positions = Checkpoint(tmp_path).load(again)
    assert restored == 0 and metric(again, "lines_total").values == {(): 0}
    assert positions == {"/x.log": position(5)}


def _state(folder: Path) -> tuple[dict, dict]:
    """What a fresh start would load: values by metric, and positions."""
    rt = runtime()
    _, positions = Checkpoint(folder).load(rt)
    return {name: dict(metric(rt, name).values) for name in ("lines_total", "hits_total")}, positions


def test_a_restart_appends_to_what_it_read_instead_of_rewriting_the_base(tmp_path):
    """The first write after a start is a journal entry of what changed: with thousands of files
    and series, rewriting the base held up the start (its first checkpoint is on disk before
    /-/ready answers)."""
    rt = runtime()
    rt.process(["/a 1", "/b 2"], "x.log")
    save(tmp_path, rt, {"/x.log": position(5), "/y.log": position(9, 8)})
    base = (tmp_path / BASE).read_bytes()
    again = runtime()
    cp = Checkpoint(tmp_path)
    cp.load(again)
    again.process(["/c 3"], "x.log")
    save(tmp_path, again, {"/x.log": position(8)}, cp)  # y.log no longer followed
    assert (tmp_path / BASE).read_bytes() == base
    values, positions = _state(tmp_path)
    assert values == {"lines_total": {(): 3}, "hits_total": {("/a",): 1, ("/b",): 1, ("/c",): 1}}
    assert positions == {"/x.log": position(8)}


@pytest.mark.parametrize("damage", ["torn", "legacy", "malformed"])
def test_a_restart_from_damaged_files_rewrites_them_first(tmp_path, damage):
    rt = runtime()
    rt.process(["/a 1"], "x.log")
    save(tmp_path, rt, {"/x.log": position(5)})
    if damage == "torn":  # a crash in the middle of a write
        with open(tmp_path / JOURNAL, "ab") as f:
            f.write(b'["set","p.mtail","lines_total",[[[],3]]]\n["pos",{"/x.l')
    elif damage == "legacy":  # an older version's single file beside the new ones
        (tmp_path / LEGACY).write_text("{}", encoding="utf-8")
    else:
        with open(tmp_path / JOURNAL, "ab") as f:
            f.write(b'["pos",{"/x.log":"nonsense"}]\n["commit",7]\n')
    again = runtime()
    cp = Checkpoint(tmp_path)
    cp.load(again)
    again.process(["/c 3"], "x.log")
    save(tmp_path, again, {"/x.log": position(8)}, cp)
    assert (tmp_path / JOURNAL).stat().st_size == 0  # the base was rewritten whole
    assert not (tmp_path / LEGACY).exists()
    values, positions = _state(tmp_path)
    assert values == {"lines_total": {(): 2}, "hits_total": {("/a",): 1, ("/c",): 1}}
    assert positions == {"/x.log": position(8)}


def test_a_restart_without_values_drops_the_saved_ones_as_a_rewrite_did(tmp_path):
    rt = runtime()
    rt.process(["/a 1"], "x.log")
    save(tmp_path, rt, {"/x.log": position(5)})
    cp = Checkpoint(tmp_path, values=False)
    cp.load(runtime())
    save(tmp_path, runtime(), {"/x.log": position(6)}, cp)
    assert _state(tmp_path) == ({"lines_total": {(): 0}, "hits_total": {}}, {"/x.log": position(6)})
