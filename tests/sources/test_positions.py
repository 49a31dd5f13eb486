"""Positions: how one is stored in the checkpoint, and the offset files of older versions."""

from __future__ import annotations

from pygtail import Pygtail

from logmetrics.sources.positions import FileId, LegacyOffsets, Position, position_from_json, position_to_json

HEAD = "0123456789abcdef0123456789abcdef01234567"


def test_a_position_round_trips_and_malformed_ones_are_refused():
    position = Position(FileId(2049, 12, HEAD, 1024), 77)
    assert position_from_json(position_to_json(position)) == position
    for bad in ([1, 2], None, "x", [1, 2, HEAD, 10, -1], [1, 2, HEAD, 10, 1.5], [1, -2, HEAD, 10, 1],
                [1, 2, HEAD, 5000, 1], [1, 2, "nothex", 10, 1], [True, 2, HEAD, 10, 1]):
        assert position_from_json(bad) is None, bad


def test_offset_files_of_an_older_version_are_read_pygtails_included(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("one\ntwo\nthree\n", encoding="utf-8")
    legacy = LegacyOffsets(tmp_path / "state")
    (tmp_path / "state").mkdir()
    offset_file = legacy.offset_file(str(log))
    assert "app.log" in offset_file.name  # readable: the log's path
    # pygtail writes the format that older versions kept: the position is where it stopped.
    assert list(Pygtail(str(log), offset_file=str(offset_file))) == ["one\n", "two\n", "three\n"]
    position = legacy.get(str(log))
    assert position is not None
    assert (position.file.ino, position.offset) == (log.stat().st_ino, log.stat().st_size)
    assert legacy.get(str(tmp_path / "other.log")) is None
    assert legacy.offset_file("/var/\udcff.log").name.endswith(".offset")  # a non-UTF-8 name is no error


def test_a_damaged_offset_file_is_treated_as_absent(tmp_path, caplog):
    legacy = LegacyOffsets(tmp_path)
    legacy.offset_file("/x.log").write_text("garbage")
    assert legacy.get("/x.log") is None
    assert "damaged offset file" in caplog.text
