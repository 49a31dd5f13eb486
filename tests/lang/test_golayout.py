"""Go layouts: times read the same whether or not their minute was read before."""

from __future__ import annotations

import datetime

import pytest

from logmetrics.lang.golayout import parse_time


def reference(text: str, fmt: str) -> float:
    return datetime.datetime.strptime(text, fmt).timestamp()  # fmt has %z: an aware time


def test_every_second_of_a_minute_and_the_next_minutes():
    for minute in ("10:00", "10:01", "23:59"):
        for second in range(61 if minute == "23:59" else 60):
            if second == 60:
                continue
            text = f"01/Nov/2026:{minute}:{second:02d} +0200"
            assert parse_time(text, "02/Jan/2006:15:04:05 -0700") == reference(text, "%d/%b/%Y:%H:%M:%S %z")
    # The same minute in another zone or on another day is another minute.
    assert parse_time("01/Nov/2026:10:00:05 +0000", "02/Jan/2006:15:04:05 -0700") - \
        parse_time("01/Nov/2026:10:00:05 +0200", "02/Jan/2006:15:04:05 -0700") == 7200
    assert parse_time("02/Nov/2026:10:00:05 +0000", "02/Jan/2006:15:04:05 -0700") - \
        parse_time("01/Nov/2026:10:00:05 +0000", "02/Jan/2006:15:04:05 -0700") == 86400


def test_fractions_and_out_of_range_seconds():
    layout = "Mon Jan _2 15:04:05.999999 2006"
    base = parse_time("Sun Nov  1 07:11:28 2026", layout)
    assert parse_time("Sun Nov  1 07:11:28.467119 2026", layout) == pytest.approx(base + 0.467119)
    assert parse_time("Sun Nov  1 07:11:29.5 2026", layout) == pytest.approx(base + 1.5)
    with pytest.raises(ValueError, match="out of range"):
        parse_time("Sun Nov  1 07:11:61 2026", layout)


def test_a_minute_read_before_does_not_let_bad_seconds_through():
    layout = "02/Jan/2006:15:04:05 -0700"
    assert parse_time("01/Nov/2026:10:00:05 +0200", layout) == reference("01/Nov/2026:10:00:05 +0200",
                                                                          "%d/%b/%Y:%H:%M:%S %z")
    for bad in ("01/Nov/2026:10:00:x5 +0200", "01/Nov/2026:10:00:61 +0200", "01/Nov/2026:10:00:-1 +0200"):
        with pytest.raises(ValueError):
            parse_time(bad, layout)
    # Same length, other fields: read in full, not mistaken for the cached minute.
    assert parse_time("01/Nov/2026:10:01:05 +0200", layout) - parse_time("01/Nov/2026:10:00:05 +0200",
                                                                         layout) == 60
