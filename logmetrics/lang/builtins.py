"""Helpers that compiled programs call: conversions and mtail's builtins.

Conversions raise ``ValueError`` with a message a person can read; the
program's runner counts it as a runtime error for that line.
"""

from __future__ import annotations

import re
import time

from logmetrics.lang.golayout import parse_time
from logmetrics.sources.envelope import NO_ENVELOPE, Envelope
from logmetrics.store.metric import valid_timestamp

now = time.time


class EnvelopeSlot:
    """The envelope of the lines being processed (syslog header, container log path).

    The runtime sets :attr:`current` before each batch (one thread processes lines);
    generated code reads it through the builtins in :data:`ENVELOPE_FIELDS`.
    """

    def __init__(self) -> None:
        self.current: Envelope = NO_ENVELOPE


ENVELOPE = EnvelopeSlot()

#: Builtin name -> the expression generated code evaluates (``_env`` is :data:`ENVELOPE`).
ENVELOPE_FIELDS = {
    "syslog_tag": "_env.current.tag",
    "syslog_hostname": "_env.current.hostname",
    "syslog_time": "int(_env.current.time)",
    "pod_namespace": "_env.current.namespace",
    "pod_name": "_env.current.pod",
    "container_name": "_env.current.container",
}


def to_number(text: str) -> int | float:
    """A string capture used as a number: an int if it reads as one, else a float."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def to_int(value: object) -> int:
    """mtail's ``int(x)``."""
    if isinstance(value, str):
        number = to_number(value.strip())
        return int(number)
    if isinstance(value, bool | int | float):
        return int(value)
    raise ValueError(f"{value!r} cannot be converted to an int")


def to_float(value: object) -> float:
    """mtail's ``float(x)``."""
    if isinstance(value, str):
        return float(to_number(value.strip()))
    if isinstance(value, bool | int | float):
        return float(value)
    raise ValueError(f"{value!r} cannot be converted to a float")


def to_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "t", "true", "yes")
    return bool(value)


def settime(value: int | float) -> int | float:
    """mtail's ``settime(t)``: the line's time, refused unless it is one a series can carry."""
    if not valid_timestamp(value):
        raise ValueError(f"settime({value!r}): not a time in seconds since the epoch (years 1 to 9999)")
    return value


def strtol(text: str, base: int) -> int:
    """mtail's ``strtol(s, base)``: e.g. ``strtol("ff", 16) == 255``."""
    try:
        return int(text.strip(), int(base))
    except ValueError:
        raise ValueError(f"{text!r} is not a base-{int(base)} number") from None


def format_value(value: object) -> str:
    """A value as a label or text: ``3``, ``0.5``, ``"GET"``."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def int_div(a: int | float, b: int | float) -> int | float:
    """Integer division truncating toward zero, as in Go (Python floors)."""
    if isinstance(a, int) and isinstance(b, int):
        q = abs(a) // abs(b)
        return q if (a >= 0) == (b >= 0) else -q
    return a / b


def int_mod(a: int | float, b: int | float) -> int | float:
    """Remainder with the sign of the dividend, as in Go."""
    if isinstance(a, int) and isinstance(b, int):
        r = abs(a) % abs(b)
        return r if a >= 0 else -r
    import math

    return math.fmod(a, b)


def first_group(match: re.Match[str], groups: tuple[int, ...]) -> str:
    """The first of several same-named groups that took part in the match."""
    for group in groups:
        text = match[group]
        if text is not None:
            return text
    return ""


_STRPTIME_CACHE: dict[tuple[str, str], float] = {}


def strptime(text: str, layout: str) -> float:
    """Seconds since the epoch of ``text`` read with the Go layout ``layout``.

    Log lines come in bursts with the same timestamp, so results are cached.
    """
    key = (text, layout)
    found = _STRPTIME_CACHE.get(key)
    if found is None:
        if len(_STRPTIME_CACHE) > 4096:
            _STRPTIME_CACHE.clear()
        found = _STRPTIME_CACHE[key] = parse_time(text, layout)
    return found


def strptime_into(cache: dict[str, float], text: str, layout: str) -> float:
    """strptime for a call site's own cache (see the code generator); bounded in size."""
    if len(cache) > 4096:
        cache.clear()
    seconds = cache[text] = parse_time(text, layout)
    return seconds
