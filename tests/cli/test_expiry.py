"""``del ... after`` through restarts of the installed daemon: a series lives out the rest of
its lifetime, no more and no less, whether the daemon stopped on SIGTERM or was killed.

The daemon after the restart runs under libfaketime, its clock moved forward, so that an hour's
lifetime is tested in seconds."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.cli.test_daemon import Daemon, wait_for

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")
PROGRAM = ("counter hits_total by path\n"
           "/GET (?P<path>\\S+)/ {\n  hits_total[$path]++\n  del hits_total[$path] after 1h\n}\n")
SERIES = "hits_total{path=/a}"

pytestmark = pytest.mark.skipif(not LIBFAKETIME.exists(), reason="libfaketime is not installed")


def start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, minutes_later: int) -> Daemon:
    """The daemon on the same state directory, its clock ``minutes_later`` ahead of the real one."""
    if minutes_later:
        monkeypatch.setenv("LD_PRELOAD", str(LIBFAKETIME))
        monkeypatch.setenv("FAKETIME", f"+{minutes_later}m")
        monkeypatch.setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1")  # timeouts keep real time
    return Daemon(tmp_path, tmp_path / "progs", str(tmp_path / "app.log"), "--from", "beginning")


def end(daemon: Daemon, how: str, state: Path, committed: bytes) -> None:
    """Stop on SIGTERM, or kill -9 once the checkpoint on disk holds ``committed`` (a record
    written with the clocks of the same moment)."""
    if how == "kill":
        def saved() -> bool:
            files = [state / "checkpoint.jsonl", state / "checkpoint.journal.jsonl"]
            return any(f.exists() and committed in f.read_bytes() for f in files)

        assert wait_for(saved), daemon.events()
        assert daemon.stop(signal.SIGKILL) == -signal.SIGKILL
    else:
        assert daemon.stop() == 0, daemon.events()


@pytest.mark.parametrize("how", ["sigterm", "kill"])
def test_a_series_keeps_the_rest_of_its_lifetime_across_restarts(tmp_path, monkeypatch, how):
    (tmp_path / "progs").mkdir()
    (tmp_path / "progs" / "hits.mtail").write_text(PROGRAM, encoding="utf-8")
    (tmp_path / "app.log").write_text("GET /a\nGET /b\n", encoding="utf-8")
    state = tmp_path / "state"
    daemon = start(tmp_path, monkeypatch, 0)
    try:
        assert wait_for(lambda: daemon.samples().get(SERIES) == 1.0), daemon.events()
        end(daemon, how, state, b'"expiry"')

        # 50 minutes after its last update: ten minutes left, and its count with it.
        daemon = start(tmp_path, monkeypatch, 50)
        samples = daemon.samples()
        assert samples.get(SERIES) == 1.0 and samples.get("hits_total{path=/b}") == 1.0, daemon.events()
        with open(tmp_path / "app.log", "a", encoding="utf-8") as f:
            f.write("GET /b\n")  # /b is updated now: a new hour starts for it
        assert wait_for(lambda: daemon.samples().get("hits_total{path=/b}") == 2.0), daemon.events()
        end(daemon, how, state, b'[["/b"],2]')

        # 61 minutes after: /a's hour is over (a restart does not start it again), /b has most of its own.
        daemon = start(tmp_path, monkeypatch, 61)
        samples = daemon.samples()
        assert SERIES not in samples, daemon.events()
        assert samples.get("hits_total{path=/b}") == 2.0, daemon.events()
    finally:
        if daemon.proc.poll() is None:
            daemon.stop()
