"""node_exporter's textfile: rendered and written on the writer's own thread, never on the caller's;
written once more, now, at close; a failure is reported, never taken for a write."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from logmetrics.exposition.collector import Registry
from logmetrics.exposition.families import counter
from logmetrics.exposition.textfile import TextfileWriter
from tests.helpers import wait_for


class Held:
    """A counter whose collection waits until released (a render of many series, say)."""

    def __init__(self) -> None:
        self.value = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def collect(self):
        self.entered.set()
        assert self.release.wait(30)
        family = counter("things_total", "things")
        family.add([], self.value)
        yield family


def values(path: Path) -> dict[str, float]:
    text = path.read_text(encoding="utf-8")
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}


def test_requests_return_while_the_render_is_under_way(tmp_path: Path) -> None:
    held = Held()
    registry = Registry()
    registry.register(held)
    out = tmp_path / "logmetrics.prom"
    writer = TextfileWriter(out, registry)
    held.release.clear()
    held.value = 1
    writer.request()  # returns at once: the render waits on the writer's thread
    assert held.entered.wait(15)
    assert not out.exists()
    held.value = 2
    writer.request()  # asked again meanwhile: written once more after the one under way
    held.release.set()
    assert wait_for(lambda: out.exists() and values(out) == {"things_total": 2.0}, interval=0.01)
    held.value = 3
    assert writer.close()  # the last write happens now, on the caller's thread
    assert values(out) == {"things_total": 3.0}
    assert not [t for t in threading.enumerate() if t.name == "textfile"]


def test_a_failing_write_is_reported_and_retried(tmp_path: Path, caplog) -> None:
    registry = Registry()
    registry.register(Held())
    folder = tmp_path / "textfile"
    folder.mkdir()
    writer = TextfileWriter(folder / "logmetrics.prom", registry)
    folder.rmdir()
    with caplog.at_level(logging.INFO, logger="logmetrics"):
        assert not writer.write()
        assert not writer.write()
        assert caplog.text.count("cannot write the textfile") == 1  # once per failure spell
        folder.mkdir()
        assert writer.close()
        assert "is written again" in caplog.text
    assert values(folder / "logmetrics.prom") == {"things_total": 0.0}
