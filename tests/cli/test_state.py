"""The state directory through the installed daemon: names that are not UTF-8, one daemon per
state directory, checkpoints of the wrong shape, an older layout, and a save that fails."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.test_daemon import SCRIPT, Daemon, append, counting_progs, follow_one_log, layout, wait_for

BY_FILE = "counter lines_by_file by file\n/^line/ {\n  lines_by_file[getfilename()]++\n}\n"


def test_a_file_name_that_is_not_utf8_is_followed_counted_and_resumed(tmp_path):
    progs, logs, _ = layout(tmp_path)
    (progs / "by_file.mtail").write_text(BY_FILE, encoding="utf-8")
    raw = os.path.join(os.fsencode(logs), b"\xff.log")
    with open(raw, "wb") as f:
        f.write(b"line 1\nline 2\n")
    shown = f"{logs}/\\xff.log"  # bytes that are not UTF-8 are shown as \xNN
    daemon = Daemon(tmp_path, progs, str(logs / "*.log"), "--from", "beginning")
    try:
        daemon.wait_lines(2)
        samples = daemon.samples()
        assert samples[f"logmetrics_log_lines_total{{file={shown}}}"] == 2.0
        assert samples[f"lines_by_file_total{{file={shown}}}"] == 2.0
        assert f"following {shown}" in daemon.log()
        assert "\\xff.log" in daemon.get("/") and "\\xff.log" in daemon.get("/status.json")  # the pages
    finally:
        code = daemon.stop(timeout=60)
    text = daemon.log()
    assert code == 0 and "values and positions saved" in text and "Traceback" not in text
    with open(raw, "ab") as f:
        f.write(b"line 3\n")
    daemon = Daemon(tmp_path, progs, str(logs / "*.log"), "--from", "beginning")
    try:
        daemon.wait_lines(3)
        time.sleep(0.5)
        assert daemon.samples().get("lines_total") == 3.0
    finally:
        assert daemon.stop() == 0


def test_a_second_daemon_on_the_same_state_dir_is_refused(tmp_path):
    first, progs, log = follow_one_log(tmp_path, "line 1\n", "--from", "beginning")
    try:
        first.wait_lines(1)
        second = subprocess.run(
            [str(SCRIPT), "run", "--progs", str(progs), "--logs", str(log), "--listen", "127.0.0.1:0",
             "--state-dir", str(tmp_path / "state")],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert second.returncode != 0
        assert f"is in use by another logmetrics (pid {first.proc.pid})" in second.stderr
        assert str(tmp_path / "state") in second.stderr and "Traceback" not in second.stderr
        append(log, "line 2\n")
        first.wait_lines(2)  # the first goes on
    finally:
        first.stop(signal.SIGKILL)  # kill -9: the lock goes with the process
    again = Daemon(tmp_path, progs, str(log), "--from", "beginning")
    try:
        again.wait_lines(2)
    finally:
        assert again.stop() == 0


HEAD = "a" * 40
SIGNATURE = ["lines_total", "counter", [], []]
SHAPES = {
    "a list": [],
    "null": None,
    "a short position": {"version": 1, "positions": {"LOG": [1, 2]}},
    "a string value": {"version": 1, "programs": {"count.mtail": {"lines_total": {
        "signature": SIGNATURE, "values": [[[], "many"]]}}}},
    "a non-numeric value": {"version": 1, "programs": {"count.mtail": {"lines_total": {
        "signature": SIGNATURE, "values": [[[], {"x": 1}]]}}}},
    # The file's own identity, so that the offset is what decides.
    "a negative offset": {"version": 1, "positions": {"LOG": ["DEV", "INO", "HEAD", "LEN", -5]}},
    "a string offset": {"version": 1, "positions": {"LOG": ["DEV", "INO", "HEAD", "LEN", "0"]}},
}


@pytest.mark.parametrize("shape", SHAPES)
def test_a_checkpoint_of_the_wrong_shape_never_stops_start_up_nor_a_scrape(tmp_path, shape):
    progs, _logs, log = layout(tmp_path)
    log.write_text("line 1\nline 2\n", encoding="utf-8")
    (tmp_path / "state").mkdir()
    st = log.stat()
    head = log.read_bytes()[:1024]
    text = json.dumps(SHAPES[shape]).replace("LOG", str(log)).replace('"DEV"', str(st.st_dev)).replace(
        '"INO"', str(st.st_ino)).replace('"HEAD"', f'"{hashlib.sha1(head).hexdigest()}"').replace(
        '"LEN"', str(len(head)))
    (tmp_path / "state" / "metrics.checkpoint.json").write_text(text, encoding="utf-8")
    daemon = Daemon(tmp_path, progs, str(log), "--from", "beginning")
    try:
        daemon.wait_lines(2)
        assert "WARNING" in daemon.log() and "checkpoint" in daemon.log()
    finally:
        assert daemon.stop() == 0


def test_a_damaged_journal_resumes_from_the_last_complete_commit(tmp_path):
    daemon, progs, log = follow_one_log(tmp_path, "line 1\n", "--from", "beginning")
    daemon.wait_lines(1)
    assert daemon.stop() == 0
    with open(tmp_path / "state" / "checkpoint.journal.jsonl", "ab") as f:
        f.write(b'["set","count.mtail","lines_total",[[[],"x"]]]\n["commit"')  # torn
    append(log, "line 2\n")
    daemon = Daemon(tmp_path, progs, str(log), "--from", "beginning")
    try:
        daemon.wait_lines(2)
        assert "not a checkpoint record" in daemon.log()
    finally:
        assert daemon.stop() == 0


def older_version_state(state: Path, log: Path, offset: int, count: int, with_checkpoint: bool) -> None:
    """A state directory as versions before 0.2 left it: an offset file and an id file per log,
    and the single JSON checkpoint."""
    state.mkdir()
    st = log.stat()
    with open(log, "rb") as f:
        head = f.read(1024)
    absolute = os.path.abspath(log)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", absolute).strip("_")[-80:]
    stem = f"{name}.{hashlib.sha1(absolute.encode()).hexdigest()[:8]}"
    digest = hashlib.sha1(head).hexdigest()
    (state / f"{stem}.offset").write_text(f"{st.st_ino}\n{offset}\n")
    (state / f"{stem}.id").write_text(f"{st.st_dev}\n{st.st_ino}\n{digest}\n{len(head)}\n")
    if with_checkpoint:
        (state / "metrics.checkpoint.json").write_text(json.dumps({
            "version": 1,
            "programs": {"count.mtail": {
                "lines_total": {"signature": SIGNATURE, "values": [[[], count]]},
                "number_sum": {"signature": ["number_sum", "counter", [], []], "values": [[[], 1]]}}},
            "positions": {str(log): [st.st_dev, st.st_ino, digest, len(head), offset]}}))


@pytest.mark.parametrize("with_checkpoint", [True, False], ids=["checkpoint", "offset files only"])
def test_a_state_dir_of_an_older_version_resumes_without_loss(tmp_path, with_checkpoint):
    progs = counting_progs(tmp_path)
    log = tmp_path / "app.log"
    log.write_text("line 0\nline 1\n", encoding="utf-8")
    older_version_state(tmp_path / "state", log, len("line 0\nline 1\n"), 2, with_checkpoint)
    append(log, "line 2\nline 3\n")  # written while no daemon ran
    extra = () if with_checkpoint else ("--no-checkpoint",)
    daemon = Daemon(tmp_path, progs, str(log), "--from", "beginning", *extra)
    try:
        expected = 4.0 if with_checkpoint else 2.0
        daemon.wait_lines(expected)
        time.sleep(1.5)
        assert daemon.samples()["lines_total"] == expected
    finally:
        assert daemon.stop() == 0
    left = sorted(p.name for p in (tmp_path / "state").iterdir())
    # The old files are gone (compiled/ is the compile cache, see docs/state.md).
    assert left == ["checkpoint.journal.jsonl", "checkpoint.jsonl", "compiled", "lock"]


def test_a_final_save_that_fails_is_not_called_saved(tmp_path):
    daemon, _progs, log = follow_one_log(tmp_path, "line 1\n", "--from", "beginning")
    daemon.wait_lines(1)
    state = tmp_path / "state"
    assert wait_for(lambda: (state / "checkpoint.jsonl").exists())
    for name in ("checkpoint.jsonl", "checkpoint.journal.jsonl"):  # nothing can replace these now
        (state / name).unlink()
        (state / name).mkdir()
    append(log, "line 2\n")
    daemon.wait_lines(2)
    assert daemon.stop(timeout=60) != 0
    text = daemon.log()
    assert "NOT saved" in text and "positions saved" not in text.replace("NOT saved", "")


def test_many_files_share_one_position_store(tmp_path):
    progs, logs, _ = layout(tmp_path)
    for i in range(300):
        (logs / f"app{i}.log").write_text(f"line {i}\n", encoding="utf-8")
    daemon = Daemon(tmp_path, progs, str(logs / "*.log"), "--from", "beginning")
    try:
        daemon.wait_lines(300, timeout=60)
    finally:
        code = daemon.stop(timeout=60)
    assert code == 0
    state = tmp_path / "state"
    assert sorted(p.name for p in state.iterdir()) == ["checkpoint.journal.jsonl", "checkpoint.jsonl",
                                                       "compiled", "lock"]  # one position store
    positions = {}
    for raw in ((state / "checkpoint.jsonl").read_bytes() + (state / "checkpoint.journal.jsonl").read_bytes()
                ).splitlines():
        op = json.loads(raw)
        if op[0] == "pos":
            positions.update(op[1])
    assert len(positions) == 300
