"""One daemon per state directory."""

from __future__ import annotations

import os

import pytest

from logmetrics.daemon.statedir import StateDir
from logmetrics.errors import LogmetricsError


def test_a_second_owner_is_refused_with_the_holders_pid_until_the_first_closes(tmp_path):
    first = StateDir(tmp_path / "state")
    with pytest.raises(LogmetricsError, match=f"in use by another logmetrics \\(pid {os.getpid()}\\)"):
        StateDir(tmp_path / "state")
    first.close()
    StateDir(tmp_path / "state").close()


def test_a_state_dir_that_cannot_be_created_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(LogmetricsError, match="cannot use the state directory"):
        StateDir(tmp_path / "file" / "state")
