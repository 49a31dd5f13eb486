"""logmetrics' own per-file series: bounded, with the files beyond the bound summed exactly; written
by our own writer, byte for byte as prometheus-client writes the same families."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from logmetrics.daemon.selfmetrics import OTHER_FILES, FileSeries, SelfCollector
from logmetrics.exposition.collector import Registry
from logmetrics.exposition.render import negotiate, write_registry
from logmetrics.runtime.engine import Runtime
from logmetrics.runtime.reload import LoadCounts
from logmetrics.sources.follow import Follower
from logmetrics.sources.tail import TailStats


def scrape(collector: SelfCollector) -> dict[str, dict[str, float]]:
    """Each family's samples by their ``file`` label (or "" without one), as /metrics writes them;
    the same bytes as prometheus-client's writers, in both formats."""
    registry = Registry()
    registry.register(collector)
    text = write_registry(registry)
    assert text == generate_latest(registry)
    openmetrics = write_registry(registry, negotiate("application/openmetrics-text; version=1.0.0"))
    assert openmetrics == generate_openmetrics(registry)
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            out.setdefault(sample.name, {})[sample.labels.get("file", "")] = sample.value
    return out


def test_files_beyond_the_bound_are_summed_exactly(tmp_path: Path) -> None:
    for i in range(10):
        (tmp_path / f"f{i}.log").write_text("x\n" * (i + 1), encoding="utf-8")
    follower = Follower([str(tmp_path / "*.log")], from_end=False)
    follower.start()
    try:
        follower.poll()
        samples = scrape(SelfCollector(Runtime([]), follower.stats, LoadCounts(), follower.glob_files,
                                       max_file_metrics=3))
    finally:
        follower.stop()
    lines = samples["logmetrics_log_lines_total"]
    own = [str(tmp_path / f"f{i}.log") for i in range(3)]  # the first three followed
    assert sorted(lines) == sorted([*own, OTHER_FILES])
    assert [lines[path] for path in own] == [1, 2, 3]
    assert lines[OTHER_FILES] == sum(range(4, 11))
    assert sum(lines.values()) == 55
    assert samples["logmetrics_log_bytes_total"][OTHER_FILES] == 2 * sum(range(4, 11))
    assert sorted(samples["logmetrics_log_lag_bytes"]) == sorted([*own, OTHER_FILES])
    assert samples["logmetrics_log_files"][""] == 10
    for name in ("logmetrics_log_rotations_total", "logmetrics_log_read_errors_total",
                 "logmetrics_log_nul_lines_total"):
        assert len(samples[name]) == 4


def test_no_other_series_while_every_file_has_its_own(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("x\n", encoding="utf-8")
    follower = Follower([str(tmp_path / "*.log")], from_end=False)
    follower.start()
    try:
        follower.poll()
        samples = scrape(SelfCollector(Runtime([]), follower.stats, LoadCounts(), follower.glob_files))
    finally:
        follower.stop()
    assert samples["logmetrics_log_lines_total"] == {str(tmp_path / "a.log"): 1}


def stats(lines: int, lag: int = 0) -> TailStats:
    return TailStats(lines=lines, bytes=2 * lines, lag=lag)


def test_the_other_counters_never_go_back_when_a_summed_file_goes() -> None:
    series = FileSeries(1)
    own, other = series.split({"/a": stats(1), "/b": stats(5, lag=3), "/c": stats(7, lag=4)})
    assert list(own) == ["/a"]
    assert other is not None and (other.lines, other.bytes, other.lag) == (12, 24, 7)
    own, other = series.split({"/a": stats(2), "/c": stats(8)})  # /b is no longer followed
    assert other is not None and (other.lines, other.bytes, other.lag) == (13, 26, 0)  # its lag goes
    own, other = series.split({"/a": stats(2)})
    assert other is not None and other.lines == 13


def test_a_free_place_goes_to_a_new_file_never_to_a_summed_one() -> None:
    series = FileSeries(2)
    series.split({"/a": stats(1), "/b": stats(1), "/c": stats(1)})
    own, other = series.split({"/b": stats(1), "/c": stats(4), "/d": stats(2)})  # /a gone, /d new
    assert list(own) == ["/b", "/d"]  # /c keeps being summed: moving it would make "other" go back
    assert other is not None and other.lines == 4


def test_a_bound_of_zero_sums_every_file() -> None:
    own, other = FileSeries(0).split({"/a": stats(1), "/b": stats(2)})
    assert own == {}
    assert other is not None and other.lines == 3
