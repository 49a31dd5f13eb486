"""Go time layouts (``02/Jan/2006:15:04:05 -0700``), as mtail's strptime takes them.

A layout is turned once into a regex with named groups; parsing a time is
one match plus a little arithmetic. Missing fields default as in Go, except
a missing year, which is this year (syslog timestamps carry none), as mtail
does. A missing zone means UTC.
"""

from __future__ import annotations

import calendar
import functools
import re
import time
from typing import Any

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_LONG_MONTHS = [
    "january", "february", "march", "april", "may", "june", "july",
    "august", "september", "october", "november", "december",
]

# Longest first where one element is a prefix of another.
_ELEMENTS: list[tuple[str, str]] = [
    ("January", r"(?P<month_name>[A-Za-z]+)"),
    ("Monday", r"[A-Za-z]+"),
    ("Jan", r"(?P<month_abbr>[A-Za-z]{3})"),
    ("Mon", r"[A-Za-z]{3}"),
    ("MST", r"(?P<zone_name>[A-Z]{3,5}|[+-]\d{2,4})"),
    ("2006", r"(?P<year>\d{4})"),
    ("-07:00:00", r"(?P<zone>[+-]\d{2}:\d{2}:\d{2})"),
    ("-070000", r"(?P<zone>[+-]\d{6})"),
    ("-07:00", r"(?P<zone>[+-]\d{2}:\d{2})"),
    ("-0700", r"(?P<zone>[+-]\d{4})"),
    ("-07", r"(?P<zone>[+-]\d{2})"),
    ("Z07:00", r"(?P<zone>Z|[+-]\d{2}:\d{2})"),
    ("Z0700", r"(?P<zone>Z|[+-]\d{4})"),
    ("Z07", r"(?P<zone>Z|[+-]\d{2})"),
    ("002", r"(?P<yday>\d{3})"),
    ("__2", r" {0,2}(?P<yday>\d{1,3})"),
    ("01", r"(?P<month>\d{2})"),
    ("02", r"(?P<day>\d{2})"),
    ("_2", r" ?(?P<day>\d{1,2})"),
    ("03", r"(?P<hour12>\d{2})"),
    ("04", r"(?P<minute>\d{2})"),
    ("05", r"(?P<second>\d{2})"),
    ("06", r"(?P<year2>\d{2})"),
    ("15", r"(?P<hour>\d{1,2})"),
    ("PM", r"(?P<ampm>[AP]M)"),
    ("pm", r"(?P<ampm>[ap]m)"),
    ("1", r"(?P<month>\d{1,2})"),
    ("2", r"(?P<day>\d{1,2})"),
    ("3", r"(?P<hour12>\d{1,2})"),
    ("4", r"(?P<minute>\d{1,2})"),
    ("5", r"(?P<second>\d{1,2})"),
]


@functools.lru_cache(maxsize=64)
def compile_layout(layout: str) -> re.Pattern[str]:
    """The regex that reads times written with ``layout``."""
    out: list[str] = []
    i, n = 0, len(layout)
    while i < n:
        if layout[i] in ".," and i + 1 < n and layout[i + 1] in "09":
            j = i + 1
            while j < n and layout[j] == layout[i + 1]:
                j += 1
            if j == n or not layout[j].isdigit():
                # .000 needs exactly that many digits; .999 takes any number.
                digits = j - i - 1
                count = f"{{{digits}}}" if layout[i + 1] == "0" else "*"
                out.append(rf"(?:[.,](?P<frac>\d{count}))" + ("?" if layout[i + 1] == "9" else ""))
                i = j
                continue
        for element, pattern in _ELEMENTS:
            if layout.startswith(element, i):
                out.append(pattern)
                i += len(element)
                break
        else:
            out.append(re.escape(layout[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


#: Seconds at the start of each minute already worked out, by layout and the text without its
#: seconds and fraction: a log's lines share everything else for a minute at a time.
_MINUTES: dict[tuple[str, str], float] = {}
#: Where the seconds and the fraction were in the last time of each length read with a layout.
_PLACES: dict[tuple[str, int], tuple[int, int, int, int]] = {}


def _minute_key(text: str, start: int, end: int, first: int, last: int) -> str:
    """The text without its seconds (start:end) and fraction (first:last, -1 if none)."""
    if first < 0:
        return text[:start] + text[end:]
    if first >= end:
        return text[:start] + text[end:first] + text[last:]
    return text[:first] + text[last:start] + text[end:]


def parse_time(text: str, layout: str) -> float:
    """Seconds since the epoch; raises ValueError if ``text`` does not fit ``layout``."""
    text = text.strip()
    place = _PLACES.get((layout, len(text)))
    if place is not None:
        # A time of a minute read before, but for its seconds (and fraction): only those to check.
        # The rest of the text is that minute's, so the text fits the layout if they are digits.
        start, end, first, last = place
        minute = _MINUTES.get((layout, _minute_key(text, start, end, first, last)))
        digits = text[start:end]
        if minute is not None and digits.isdigit() and int(digits) <= 60 and (
                first < 0 or text[first:last].isdigit() or first == last):
            return minute + int(digits) + (float("0." + text[first:last]) if last > first >= 0 else 0.0)
    match = compile_layout(layout).match(text)
    if match is None:
        raise ValueError(f"time {text!r} does not match the layout {layout!r}")
    groups = match.re.groupindex
    start, end = match.span("second") if "second" in groups else (-1, -1)
    if start < 0:
        return _seconds(match.groupdict(), text, layout)
    first, last = match.span("frac") if "frac" in groups else (-1, -1)
    key = (layout, _minute_key(text, start, end, first, last))
    minute = _MINUTES.get(key)
    if minute is None:
        if len(_MINUTES) > 4096:
            _MINUTES.clear()
            _PLACES.clear()
        minute = _MINUTES[key] = _seconds({**match.groupdict(), "second": None, "frac": None}, text, layout)
    second = int(text[start:end])
    if second > 60:
        raise ValueError(f"time {text!r} is out of range for the layout {layout!r}")
    _PLACES[(layout, len(text))] = (start, end, first, last)
    return minute + second + (float("0." + text[first:last]) if first >= 0 and last > first else 0.0)


class TimeCheck:
    """Checks that times fit ``layout``, for a ``strptime()`` whose value nothing reads.

    Such a call still makes a line with an unreadable time a runtime error, as :func:`parse_time`
    does, but costs less: the time of the line before is not checked again, and another second
    of the same minute (every line, in a log of seconds) takes a few comparisons instead of a
    parse (parse_time's own shortcut, without working out the value).
    """

    __slots__ = ("_length", "_minute", "_place", "last", "layout")

    def __init__(self, layout: str) -> None:
        self.layout = layout
        #: The last time that fitted, as given: the same text again needs no call.
        self.last: str | None = None
        self._length = -1  # the length of the last time parsed (-1: none yet)
        self._place = (0, 0, -1, -1)  # where its seconds and fraction were
        self._minute = ""  # its text without them

    def __call__(self, given: str) -> None:
        """Raises ValueError if ``given`` does not fit the layout, as parse_time does."""
        if given == self.last:
            return
        text = given.strip()
        if len(text) == self._length:
            start, end, first, last = self._place
            digits = text[start:end]
            if digits.isdigit() and int(digits) <= 60 and (first < 0 or first == last or text[
                    first:last].isdigit()) and _minute_key(text, start, end, first, last) == self._minute:
                self.last = given
                return
        parse_time(text, self.layout)
        self.last = given
        place = _PLACES.get((self.layout, len(text)))
        if place is not None:  # a layout with seconds: remember this time's minute
            self._length, self._place = len(text), place
            self._minute = _minute_key(text, *place)


def _seconds(g: dict[str, Any], text: str, layout: str) -> float:
    """The time the groups of a layout's match say."""
    if g.get("year"):
        year = int(g["year"])
    elif g.get("year2"):
        year = 2000 + int(g["year2"]) if int(g["year2"]) < 69 else 1900 + int(g["year2"])
    else:
        year = time.gmtime().tm_year
    if g.get("month"):
        month = int(g["month"])
    elif g.get("month_abbr"):
        month = _month_number(g["month_abbr"], _MONTHS, text)
    elif g.get("month_name"):
        month = _month_number(g["month_name"], _LONG_MONTHS, text)
    else:
        month = 1
    day = int(g["day"]) if g.get("day") else 1
    hour = int(g["hour"]) if g.get("hour") else 0
    if g.get("hour12"):
        hour = int(g["hour12"]) % 12
        if (g.get("ampm") or "").lower() == "pm":
            hour += 12
    minute = int(g["minute"]) if g.get("minute") else 0
    second = int(g["second"]) if g.get("second") else 0
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        raise ValueError(f"time {text!r} is out of range for the layout {layout!r}")
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if g.get("yday"):
        seconds = calendar.timegm((year, 1, 1, hour, minute, second, 0, 0, 0)) + (int(g["yday"]) - 1) * 86400
    seconds -= _zone_offset(g.get("zone"))
    frac = g.get("frac")
    return seconds + float("0." + frac) if frac else float(seconds)


def _month_number(name: str, names: list[str], text: str) -> int:
    try:
        return names.index(name.lower()) + 1
    except ValueError:
        raise ValueError(f"unknown month {name!r} in {text!r}") from None


def _zone_offset(zone: str | None) -> int:
    if not zone or zone == "Z":
        return 0
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours = int(digits[0:2])
    minutes = int(digits[2:4] or 0)
    seconds = int(digits[4:6] or 0)
    return sign * (hours * 3600 + minutes * 60 + seconds)
