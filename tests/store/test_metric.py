"""What a metric keeps of its earlier life, on reload and after a restart: one rule for both."""

from __future__ import annotations

import math

from logmetrics.store import Kind, Metric
from tests.helpers import compile_program


def test_the_signature_is_what_decides_and_hidden_does_not_count():
    counter = Metric("c", "c_total", Kind.COUNTER, labels=("a",))
    assert counter.signature == Metric("c", "c_total", Kind.COUNTER, labels=("a",), hidden=True).signature
    for other in (Metric("c", "c2_total", Kind.COUNTER, labels=("a",)),
                  Metric("c", "c_total", Kind.GAUGE, labels=("a",)),
                  Metric("c", "c_total", Kind.COUNTER, labels=("b",))):
        assert other.signature != counter.signature
    histogram = Metric("h", "h", Kind.HISTOGRAM, buckets=(1.0, 2.0))
    assert histogram.signature != Metric("h", "h", Kind.HISTOGRAM, buckets=(1.0, 5.0)).signature


def test_carry_over_keeps_what_the_metric_can_hold_and_counts_the_rest():
    counter = Metric("c", "c_total", Kind.COUNTER, labels=("a",))
    dropped = counter.carry_over({("x",): 3, ("y", "z"): 1, ("w",): math.nan, ("v",): "7", ("u",): True})
    assert counter.values == {("x",): 3}
    assert dropped == 4
    histogram = Metric("h", "h", Kind.HISTOGRAM, buckets=(1.0,))
    saved = [1, 2, 3.5]
    assert histogram.carry_over({(): saved, ("a",): [1, 2, 3.5]}) == 1
    assert histogram.values == {(): [1, 2, 3.5]}
    assert histogram.values[()] is not saved  # updated in place later: never shared with the source


def test_reload_keeps_values_and_expiry_clocks_of_unchanged_metrics():
    text = ("gauge sessions by id\ncounter lines\n"
            "/open (?P<id>\\d+)/ {\n  sessions[$id] = 1\n  del sessions[$id] after 1h\n}\n"
            "/./ {\n  lines++\n}\n")
    old = compile_program(text)
    old.run(["open 1", "open 2"], "x")
    new = compile_program(text.replace("counter lines", "gauge lines"))
    new.adopt(old)
    assert new.metrics["sessions"].values == {("1",): 1, ("2",): 1}
    assert new.metrics["sessions"].expiry == {("1",): 3600.0, ("2",): 3600.0}
    assert new.metrics["sessions"].updated == old.metrics["sessions"].updated
    assert new.metrics["lines"].values == {}  # redeclared as a gauge: starts afresh
    assert new.metrics["sessions"].expire(max(old.metrics["sessions"].updated.values()) + 3600) == 2
