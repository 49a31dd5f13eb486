"""Thousands of followed files: bounded self-metrics, lines in the last file counted, a prompt stop
that still saves."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_daemon import Daemon, counting_progs, wait_for


def make_logs(tmp_path: Path, count: int) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir()
    for i in range(count):
        (logs / f"f{i:04d}.log").write_text("old\n", encoding="utf-8")
    return logs


def by_file(samples: dict[str, float], family: str) -> dict[str, float]:
    prefix = family + "{file="
    return {key[len(prefix):-1]: value for key, value in samples.items() if key.startswith(prefix)}


def test_per_file_series_are_bounded_and_the_rest_summed(tmp_path: Path) -> None:
    logs = make_logs(tmp_path, 40)
    daemon = Daemon(tmp_path, counting_progs(tmp_path), str(logs / "*.log"), "--max-file-metrics", "5")
    try:
        for i in range(40):
            with open(logs / f"f{i:04d}.log", "a", encoding="utf-8") as f:
                f.write("".join(f"line {n}\n" for n in range(i + 1)))
        written = sum(range(1, 41))
        assert wait_for(lambda: daemon.samples().get("lines_total") == written), daemon.events()
        samples = daemon.samples()
        lines = by_file(samples, "logmetrics_log_lines_total")
        own = [str(logs / f"f{i:04d}.log") for i in range(5)]
        assert sorted(lines) == sorted([*own, "other"])
        assert [lines[path] for path in own] == [1, 2, 3, 4, 5]
        assert lines["other"] == sum(range(6, 41))
        assert len(by_file(samples, "logmetrics_log_lag_bytes")) == 6
        assert samples["logmetrics_log_files"] == 40
    finally:
        assert daemon.stop() == 0


def test_a_line_in_the_last_of_5000_files_is_counted(tmp_path: Path) -> None:
    logs = make_logs(tmp_path, 5000)
    daemon = Daemon(tmp_path, counting_progs(tmp_path), str(logs / "*.log"), "--log-level", "info")
    try:
        assert wait_for(lambda: daemon.get("/-/ready") is not None)
        with open(logs / "f4999.log", "a", encoding="utf-8") as f:
            f.write("line 7\n")
        assert wait_for(lambda: daemon.samples().get("lines_total") == 1), daemon.events()
        samples = daemon.samples()
        assert samples["logmetrics_log_files"] == 5000
        assert by_file(samples, "logmetrics_log_lines_total")["other"] == 1
        # One log line for the files found at start, not 5,000.
        assert daemon.log().count("following ") == 1
    finally:
        assert daemon.stop() == 0


def test_sigterm_during_a_backlog_over_many_files_stops_between_turns_and_saves(tmp_path: Path) -> None:
    """A stop is taken between turns of the main loop, not after the whole backlog: the final
    checkpoint holds part of it, and the next start reads the rest, counting every line once."""
    logs = make_logs(tmp_path, 200)
    progs = counting_progs(tmp_path)
    assert Daemon(tmp_path, progs, str(logs / "*.log")).stop() == 0  # every file's position saved
    lines = "".join(f"line {n}\n" for n in range(5000))
    for i in range(200):
        with open(logs / f"f{i:04d}.log", "a", encoding="utf-8") as f:
            f.write(lines)
    written = 200 * 5000
    second = Daemon(tmp_path, progs, str(logs / "*.log"))
    assert second.stop() == 0
    assert "stopped; values and positions saved" in (tmp_path / f"daemon-{second.port}.err").read_text()
    third = Daemon(tmp_path, progs, str(logs / "*.log"))
    try:
        assert wait_for(lambda: third.samples()["lines_total"] == written, timeout=60), third.events()
        # What this start read itself (per-file statistics start at 0): the rest of the backlog.
        read_here = sum(by_file(third.samples(), "logmetrics_log_lines_total").values())
        assert 0 < read_here <= written, "the stop waited for the whole backlog"
    finally:
        assert third.stop() == 0
