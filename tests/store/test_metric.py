"""What a metric keeps of its earlier life, on reload and after a restart: one rule for both."""

from __future__ import annotations

import math

from logmetrics.store import Carried, Kind, Metric
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
    saved = {("x",): 3, ("y", "z"): 1, ("w",): math.nan, ("v",): "7", ("u",): True}
    dropped = counter.carry_over(Carried(saved))
    assert counter.values == {("x",): 3}
    assert dropped == 4
    histogram = Metric("h", "h", Kind.HISTOGRAM, buckets=(1.0,))
    saved = [1, 2, 3.5]
    assert histogram.carry_over(Carried({(): saved, ("a",): [1, 2, 3.5]})) == 1
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


def test_a_label_set_whose_clock_ran_out_while_away_is_not_carried_over():
    gauge = Metric("g", "g", Kind.GAUGE, labels=("id",))
    now = 1_800_000_000.0
    carried = Carried({("fresh",): 1, ("stale",): 2, ("kept",): 3, ("bad",): 4},
                      expiry={("fresh",): 3600.0, ("stale",): 3600.0, ("bad",): 60.0},
                      updated={("fresh",): now - 3000, ("stale",): now - 3600, ("bad",): math.inf})
    assert gauge.carry_over(carried, now) == 0  # expired is not unfit: nothing to warn about
    assert gauge.values == {("fresh",): 1, ("kept",): 3, ("bad",): 4}
    assert gauge.expiry == {("fresh",): 3600.0, ("bad",): 60.0}
    # A clock with no readable last update starts now: the label set gets its whole lifetime.
    assert gauge.updated == {("fresh",): now - 3000, ("bad",): now}
    assert gauge.expire(now + 59) == 0 and gauge.expire(now + 60) == 1  # bad's whole minute
    assert gauge.expire(now + 599) == 0 and gauge.expire(now + 600) == 1  # fresh's last ten
    assert gauge.values == {("kept",): 3}
