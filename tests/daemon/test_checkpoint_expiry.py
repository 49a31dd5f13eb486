"""``del ... after`` clocks in the checkpoint: a restart keeps what a reload keeps."""

from __future__ import annotations

import json
import time
from pathlib import Path

from logmetrics.daemon.checkpoint import BASE, JOURNAL, Checkpoint
from logmetrics.runtime.engine import Runtime
from logmetrics.runtime.program import Program
from tests.daemon.test_checkpoint import position, save
from tests.helpers import compile_program

PROGRAM = (
    "gauge sessions by id\n"
    "counter opened by id\n"
    "/open (?P<id>\\d+)/ {\n"
    "  sessions[$id] = 1\n  opened[$id]++\n  del sessions[$id] after 1h\n}\n"
)


def program() -> Program:
    return compile_program(PROGRAM, "p.mtail")


def clocks(prog: Program) -> tuple[dict, dict, dict]:
    sessions = prog.metrics["sessions"]
    return sessions.values, sessions.expiry, sessions.updated


def test_clocks_round_trip_through_base_and_journal(tmp_path):
    rt = Runtime([program()])
    rt.process(["open 1", "open 2", "open 3"], "x.log")
    sessions = rt.programs[0].metrics["sessions"]
    now = time.time()
    sessions.updated.update({("1",): now - 600, ("2",): now - 1200, ("3",): now - 60})
    cp = save(tmp_path, rt, {"/x.log": position(10)})
    assert b'"expiry"' in (tmp_path / BASE).read_bytes()
    # Between two writes: one clock moves on (an update), one label set is deleted, one new.
    sessions.updated[("1",)] = now - 30
    sessions.delete(("2",))
    rt.process(["open 4"], "x.log")
    save(tmp_path, rt, {"/x.log": position(20)}, cp)
    journal = (tmp_path / JOURNAL).read_text()
    assert '"expiry"' in journal and '"del"' in journal
    assert cp.close(rt, lambda: {"/x.log": position(20)})

    again = Runtime([program()])
    assert Checkpoint(tmp_path).load(again)[0] == 2
    assert clocks(again.programs[0]) == clocks(rt.programs[0])
    assert set(again.programs[0].metrics["sessions"].expiry) == {("1",), ("3",), ("4",)}


def test_a_restart_keeps_what_a_reload_keeps(tmp_path):
    old = program()
    old.run(["open 1", "open 2"], "x.log")
    old.metrics["sessions"].updated[("1",)] = time.time() - 3000
    old.metrics["sessions"].updated[("2",)] = time.time() - 3700  # ran out: the next pass deletes it
    rt = Runtime([old])
    save(tmp_path, rt, {}).close(rt, dict)

    reloaded = program()
    reloaded.adopt(old)
    restarted = Runtime([program()])
    Checkpoint(tmp_path).load(restarted)
    assert clocks(restarted.programs[0]) == clocks(reloaded)
    assert reloaded.metrics["sessions"].values == {("1",): 1}
    assert restarted.programs[0].metrics["opened"].values == reloaded.metrics["opened"].values


def write_checkpoint(state: Path, *records: list) -> None:
    lines = [json.dumps(r) for r in records]
    (state / BASE).write_text("\n".join([*lines, '["commit",1]']) + "\n", encoding="utf-8")


def test_a_checkpoint_without_clocks_loads_its_values(tmp_path):
    """As versions that saved no clocks wrote it: values come back, and no clock stops them."""
    signature = program().metrics["sessions"].signature
    write_checkpoint(tmp_path, ["reset", "p.mtail", "sessions", signature],
                     ["set", "p.mtail", "sessions", [[["1"], 1], [["2"], 1]]])
    rt = Runtime([program()])
    assert Checkpoint(tmp_path).load(rt)[0] == 1
    assert clocks(rt.programs[0]) == ({("1",): 1, ("2",): 1}, {}, {})


def test_malformed_clocks_are_dropped_and_the_rest_kept(tmp_path, caplog):
    signature = program().metrics["sessions"].signature
    now = time.time()
    write_checkpoint(tmp_path, ["reset", "p.mtail", "sessions", signature],
                     ["set", "p.mtail", "sessions", [[["1"], 1], [["2"], 1], [["3"], 1]]],
                     ["expiry", "p.mtail", "sessions", [[["1"], 3600, now - 60], [["2"], 3600], "x",
                                                        [["3"], "soon", now]]],
                     ["noexpiry", "p.mtail", "sessions", [7]])
    rt = Runtime([program()])
    Checkpoint(tmp_path).load(rt)
    values, expiry, updated = clocks(rt.programs[0])
    assert values == {("1",): 1, ("2",): 1, ("3",): 1}
    assert expiry == {("1",): 3600} and updated == {("1",): now - 60}
    assert "dropped 2 malformed label sets" in caplog.text
