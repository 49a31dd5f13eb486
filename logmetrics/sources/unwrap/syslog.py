"""Syslog messages: the header removed, its facts kept.

Both formats senders use are read:

- RFC 3164 (nginx, Apache through ``logger``, most daemons):
  ``<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MESSAGE`` (HOSTNAME is often left out on a local
  socket; an RFC 3339 time is accepted in place of the old one, as rsyslog forwards);
- RFC 5424: ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MESSAGE``.

On a stream socket, frames are newline-terminated or octet-counted (RFC 6587:
``LEN SP MESSAGE``); :class:`OctetFramer` reads the latter, and the first byte of a
connection tells which one the sender uses.
"""

from __future__ import annotations

import calendar
import datetime
import re
import time
from dataclasses import dataclass

from logmetrics.sources.envelope import NO_ENVELOPE as _NO_HEADER
from logmetrics.sources.envelope import Envelope

_PRI = re.compile(r"<(\d{1,3})>")
_RFC3164_HEADER = (
    r"(?P<ts>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)?) "
    r"(?:(?P<host>[^\s:\[\]]+) )?"
    r"(?:(?P<tag>[^\s:\[\]]+)(?:\[[^\]\s]*\])?: ?)?"
)
_RFC3164 = re.compile(_RFC3164_HEADER)
#: PRI and an RFC 3164 header in one match: the common case costs one regex and one dict lookup.
_PRI_RFC3164 = re.compile(r"<(?P<pri>\d{1,3})>" + _RFC3164_HEADER)
_MONTHS = {name: i for i, name in enumerate(calendar.month_abbr) if name}


@dataclass(frozen=True, slots=True)
class Message:
    """A syslog message's text and what its header said."""

    text: str
    envelope: Envelope


class MalformedSyslog(ValueError):
    """A frame that is not a syslog message (no ``<PRI>``, or a broken RFC 5424 header)."""


def parse(frame: str) -> Message:
    """The message inside one syslog frame; raises :class:`MalformedSyslog`."""
    header = _PRI_RFC3164.match(frame)
    if header is not None:
        # A sender repeats its header for every message of the same second: one envelope for all.
        envelope = _ENVELOPES.get(header.group())
        if envelope is not None:
            return Message(frame[header.end():], envelope)
    pri = _PRI.match(frame)
    if pri is None or int(pri.group(1)) > 191:
        raise MalformedSyslog("no <PRI> at the start")
    rest = frame[pri.end():]
    if rest.startswith("1 "):
        return _rfc5424(rest[2:])
    return _rfc3164(pri.group(), rest)


_ENVELOPES: dict[str, Envelope] = {}


def _rfc3164(pri: str, rest: str) -> Message:
    """``rest`` after ``pri`` (the ``<PRI>`` text, part of the envelope cache's key)."""
    header = _RFC3164.match(rest)
    if header is None:  # RFC 3164 4.3.3: no recognisable header, the rest is the message
        return Message(rest, _NO_HEADER)
    key = pri + header.group()
    envelope = _ENVELOPES.get(key)
    if envelope is None:
        if len(_ENVELOPES) > 1024:
            _ENVELOPES.clear()
        envelope = _ENVELOPES[key] = Envelope(tag=header.group("tag") or "",
                                              hostname=header.group("host") or "",
                                              time=_time(header.group("ts")))
    return Message(rest[header.end():], envelope)


def _rfc5424(rest: str) -> Message:
    fields = rest.split(" ", 5)
    if len(fields) < 6:
        raise MalformedSyslog("RFC 5424 header cut short")
    stamp, host, app, _procid, _msgid, tail = fields
    text = _after_structured_data(tail)
    if text.startswith("\ufeff"):  # the BOM RFC 5424 puts before a UTF-8 message
        text = text[1:]
    seconds = 0.0 if stamp == "-" else _time(stamp)
    return Message(text, Envelope(tag="" if app == "-" else app, hostname="" if host == "-" else host,
                                  time=seconds))


def _after_structured_data(tail: str) -> str:
    """The message after STRUCTURED-DATA (``-`` or ``[id k="v"]...``, ``\\]`` escaped in values)."""
    if tail.startswith("-"):
        return tail[2:]
    i = 0
    while i < len(tail) and tail[i] == "[":
        quoted = False
        i += 1
        while i < len(tail):
            char = tail[i]
            if char == "\\" and quoted:
                i += 2
                continue
            if char == '"':
                quoted = not quoted
            elif char == "]" and not quoted:
                break
            i += 1
        else:
            raise MalformedSyslog("unterminated STRUCTURED-DATA")
        i += 1
    if i == 0:
        raise MalformedSyslog("no STRUCTURED-DATA field")
    return tail[i + 1:]


_TIME_CACHE: dict[str, float] = {}


def _time(stamp: str) -> float:
    """Seconds since the epoch; 0 for a time that cannot be read. Cached: messages come in bursts."""
    seconds = _TIME_CACHE.get(stamp)
    if seconds is None:
        if len(_TIME_CACHE) > 1024:
            _TIME_CACHE.clear()
        seconds = _TIME_CACHE[stamp] = _read_time(stamp)
    return seconds


def _read_time(stamp: str) -> float:
    if stamp[:1].isdigit():
        try:
            return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return 0.0
    # RFC 3164: local time without a year. The year is this one, unless that puts the
    # message more than a day ahead (a December message read in January).
    month = _MONTHS.get(stamp[:3])
    try:
        day, clock = int(stamp[4:6]), stamp[7:]
        hour, minute, second = (int(x) for x in clock.split(":"))
    except ValueError:
        return 0.0
    if month is None:
        return 0.0
    now = time.time()
    year = time.localtime(now).tm_year
    for candidate in (year, year - 1):
        try:
            seconds = time.mktime((candidate, month, day, hour, minute, second, 0, 0, -1))
        except (OverflowError, ValueError):
            return 0.0
        if seconds <= now + 86400:
            return seconds
    return 0.0


class OctetFramer:
    """RFC 6587 octet counting: ``LEN SP FRAME`` repeated, split across reads anywhere.

    A frame longer than ``max_frame`` is skipped as it arrives (memory stays bounded) and
    counted in :attr:`overlong`; a length that is not a number raises :class:`MalformedSyslog`
    (the stream cannot be resynchronised: the caller closes it).
    """

    def __init__(self, max_frame: int) -> None:
        self.max_frame = max_frame
        self.overlong = 0
        self._buffer = b""
        self._skip = 0  # bytes of an overlong frame still to discard

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """The frames completed by ``data``."""
        if self._skip:
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            data = data[dropped:]
        buffer = self._buffer + data if self._buffer else data
        frames = []
        start = 0
        while start < len(buffer):
            space = buffer.find(b" ", start, start + 11)
            if space < 0:
                if len(buffer) - start > 10:
                    raise MalformedSyslog("octet count is not a number")
                break
            count = buffer[start:space]
            if not count.isdigit():
                raise MalformedSyslog("octet count is not a number")
            length = int(count)
            end = space + 1 + length
            if length > self.max_frame:
                self.overlong += 1
                self._skip = max(0, end - len(buffer))
                start = min(end, len(buffer))
                continue
            if end > len(buffer):
                break
            frames.append(buffer[space + 1:end])
            start = end
        self._buffer = buffer[start:]
        return frames
