"""Go layouts: times read the same whether or not their minute was read before."""

from __future__ import annotations

import datetime

import pytest

from logmetrics.lang.golayout import TimeCheck, parse_time


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


def _fits(layout: str, text: str) -> bool:
    try:
        parse_time(text, layout)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(("layout", "fmt"), [
    ("02/Jan/2006:15:04:05 -0700", "%d/%b/%Y:%H:%M:%S +0000"),
    ("Mon Jan _2 15:04:05.999999 2006", "%a %b %e %H:%M:%S.%f %Y"),
    ("2006/01/02 15:04:05", "%Y/%m/%d %H:%M:%S"),
])
def test_time_check_refuses_exactly_what_parse_time_refuses(layout, fmt):
    """The check a strptime() whose value is not read makes: a new second of the last minute is
    checked without a parse, and never lets through a time parse_time refuses."""
    start = datetime.datetime(2026, 11, 1, 9, 58, 30)
    good = [(start + datetime.timedelta(seconds=7 * i)).strftime(fmt) for i in range(60)]

    def spoilt(text: str, kind: int) -> str:
        """``text`` made unreadable, most often in its seconds (the minute stays the last one's)."""
        at = text.rindex(":") + 1
        dot = text.find(".")
        fraction = text[:dot + 3] + "a" + text[dot + 4:] if dot > 0 else text + "x"
        return [text[:at] + "61" + text[at + 2:], text[:at] + "x5" + text[at + 2:],
                text[:at] + "-1" + text[at + 2:], fraction,
                text.replace("Nov", "Nix").replace("/11/", "/13/"), text + " trailing", "",
                " " + text + " "][kind % 8]

    check = TimeCheck(layout)
    texts = [t for i, text in enumerate(good) for t in (text, spoilt(text, i))]
    assert sum(not _fits(layout, t) for t in texts) >= 45
    for text in texts:
        refused = not _fits(layout, text)
        try:
            check(text)
        except ValueError:
            assert refused, text
        else:
            assert not refused, text
