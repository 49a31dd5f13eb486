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
