"""Syslog frames: RFC 3164 and 5424 headers removed, their facts kept; octet-counted framing."""

from __future__ import annotations

import time

import pytest

from logmetrics.sources.unwrap.syslog import MalformedSyslog, OctetFramer, parse

NGINX_LINE = '127.0.0.1 - - [28/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 15 "-" "curl/8"'


def test_rfc3164_as_nginx_sends_it():
    message = parse(f"<190>Nov 28 10:00:00 web-1 nginx_access: {NGINX_LINE}")
    assert message.text == NGINX_LINE
    assert (message.envelope.tag, message.envelope.hostname) == ("nginx_access", "web-1")
    local = time.localtime(message.envelope.time)
    assert (local.tm_mon, local.tm_mday, local.tm_hour, local.tm_min) == (11, 28, 10, 0)


def test_rfc3164_without_hostname_with_pid_and_single_digit_day():
    message = parse("<13>Jan  2 03:04:05 apache[123]: GET / 200")
    assert message.text == "GET / 200"
    assert (message.envelope.tag, message.envelope.hostname) == ("apache", "")
    assert time.localtime(message.envelope.time).tm_mday == 2


def test_rfc3164_with_an_rfc3339_time_as_rsyslog_forwards():
    message = parse("<13>2026-11-28T10:00:00.5+00:00 host app: text")
    assert message.text == "text"
    assert message.envelope.time == 1795860000.5


def test_rfc3164_message_keeps_its_own_leading_text_and_colons():
    assert parse("<13>Nov 28 10:00:00 host tag: a: b").text == "a: b"
    # No tag: the rest after the hostname is the message.
    assert parse("<13>Nov 28 10:00:00 host just words").text == "just words"
    # No header at all after PRI: all of it is the message (RFC 3164 4.3.3).
    assert parse("<13>free text").text == "free text"


def test_rfc5424_with_structured_data_and_bom():
    frame = '<165>1 2026-11-28T10:00:00.000Z host.example app 42 ID7 [ex@1 a="x\\]y" b="]"][z@1] \ufeffhello'
    message = parse(frame)
    assert message.text == "hello"
    assert (message.envelope.tag, message.envelope.hostname) == ("app", "host.example")
    assert message.envelope.time == 1795860000.0


def test_rfc5424_nil_fields():
    message = parse("<13>1 - - - - - - the line")
    assert message.text == "the line"
    assert message.envelope.tag == "" and message.envelope.time == 0.0


@pytest.mark.parametrize("frame", ["no pri", "<999>Nov 28 10:00:00 h t: x", "<13>1 short",
                                   '<13>1 - h a - - [x a="unterminated'])
def test_malformed_frames_raise(frame):
    with pytest.raises(MalformedSyslog):
        parse(frame)


def test_octet_counting_split_anywhere():
    frames = [b"<13>first", b"<13>second one", b"<13>with\nnewline"]
    data = b"".join(str(len(f)).encode() + b" " + f for f in frames)
    for size in (1, 2, 3, 7, len(data)):
        framer = OctetFramer(100)
        out = []
        for i in range(0, len(data), size):
            out += framer.feed(data[i:i + size])
        assert out == frames
        assert framer.pending == 0


def test_octet_counting_overlong_frame_skipped_without_holding_it():
    framer = OctetFramer(10)
    assert framer.feed(b"20 0123456789") == []
    assert framer.pending == 0  # the overlong frame's bytes are not kept
    assert framer.feed(b"0123456789" + b"3 abc") == [b"abc"]
    assert framer.overlong == 1


def test_octet_counting_garbage_raises():
    with pytest.raises(MalformedSyslog):
        OctetFramer(100).feed(b"abc def")
    with pytest.raises(MalformedSyslog):
        OctetFramer(100).feed(b"12345678901234567890")
