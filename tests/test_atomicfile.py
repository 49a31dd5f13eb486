"""Atomic replacement: a reader sees the old file or the new one, never a part."""

from __future__ import annotations

import os

import pytest

from logmetrics.atomicfile import atomic_writer, write_atomic


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "not fsynced"])
def test_replaces_the_file_with_its_mode_and_leaves_no_temporary(tmp_path, durable):
    target = tmp_path / "x.prom"
    target.write_bytes(b"old")
    write_atomic(target, b"new", durable=durable)
    assert target.read_bytes() == b"new"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)
    assert os.listdir(tmp_path) == ["x.prom"]


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "not fsynced"])
def test_a_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path, durable):
    target = tmp_path / "x.json"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_writer(target, durable=durable) as f:
        f.write(b"half")
        raise RuntimeError("stopped half way")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["x.json"]


def test_a_target_that_cannot_be_replaced_raises_oserror(tmp_path):
    (tmp_path / "d").mkdir()  # a folder cannot be replaced by a file
    with pytest.raises(OSError):
        write_atomic(tmp_path / "d", b"x")
    assert os.listdir(tmp_path) == ["d"]
