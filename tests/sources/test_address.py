"""--logs values: files, stdin, sockets in mtail's syntax, syslog, container logs; bad URLs."""

from __future__ import annotations

import pytest

from logmetrics.errors import LogmetricsError
from logmetrics.runtime.routes import LogSpec
from logmetrics.sources.address import AddressError, SourceAddress


def test_kinds():
    assert SourceAddress.parse("/var/log/*.log").kind == "file"
    assert SourceAddress.parse("-").kind == "stdin"
    udp = SourceAddress.parse("syslog+udp://127.0.0.1:5140?tag=nginx_access&tag=nginx_error")
    assert (udp.kind, udp.host, udp.port, udp.syslog) == ("udp", "127.0.0.1", 5140, True)
    assert udp.tags == {"nginx_access", "nginx_error"}
    assert udp.endpoint == "syslog+udp://127.0.0.1:5140"
    unix = SourceAddress.parse("unixgram:///run/x.sock")
    assert (unix.kind, unix.path, unix.syslog, unix.is_stream) == ("unixgram", "/run/x.sock", False, True)
    assert SourceAddress.parse("tcp://[::1]:80").host == "::1"
    assert SourceAddress.parse("tcp://:5140").host == ""
    cri = SourceAddress.parse("cri:///var/log/pods/*/*/*.log")
    assert (cri.kind, cri.path, cri.is_stream) == ("cri", "/var/log/pods/*/*/*.log", False)
    assert cri.reads_stream("stdout") and cri.reads_stream("stderr")


def test_container_stream_filter():
    stdout = SourceAddress.parse("docker:///var/lib/docker/containers/*/*-json.log?stream=stdout")
    assert (stdout.path, stdout.streams) == ("/var/lib/docker/containers/*/*-json.log", {"stdout"})
    assert stdout.reads_stream("stdout") and not stdout.reads_stream("stderr")
    both = SourceAddress.parse("cri:///p/*.log?stream=stdout&stream=stderr")
    assert both.streams == frozenset() and both.reads_stream("stderr")
    # "?" is also a glob's any-character: only "?NAME=" at the end starts the options.
    glob = SourceAddress.parse("cri:///var/log/pods/*/*/?.log")
    assert (glob.path, glob.streams) == ("/var/log/pods/*/*/?.log", frozenset())
    assert SourceAddress.parse("cri:///p/?.log?stream=stderr").path == "/p/?.log"


@pytest.mark.parametrize(("text", "says"), [
    ("http://x:1", "unknown kind"),
    ("tcp://127.0.0.1", "HOST:PORT"),
    ("udp://127.0.0.1:99999", "HOST:PORT"),
    ("unix://relative.sock", "absolute path"),
    ("udp://127.0.0.1:5140?tag=x", "syslog+"),
    ("syslog+udp://127.0.0.1:5140?tga=x", "unknown option"),
    ("cri://pods/*.log", "absolute path"),
    ("cri:///p/*.log?stream=both", "stream is stdout or stderr"),
    ("cri:///p/*.log?stream=", "stream is stdout or stderr"),
    ("docker:///p/*.log?tag=x", "not container logs"),
    ("cri:///p/*.log?stream=stdout&limit=1", "unknown option 'limit'"),
    ("syslog+udp://127.0.0.1:5140?stream=stdout", "for cri:// and docker://"),
    ("tcp://127.0.0.1:5140?stream=stdout", "for cri:// and docker://"),
])
def test_bad_urls_say_why(text, says):
    with pytest.raises(AddressError, match=says):
        SourceAddress.parse(text)


def test_logspec_binds_programs_to_urls_and_unwraps_container_globs():
    spec = LogSpec.parse("nginx_access=syslog+udp://127.0.0.1:5140?tag=nginx_access")
    assert spec.program == "nginx_access.mtail" and spec.glob == "syslog+udp://127.0.0.1:5140?tag=nginx_access"
    assert spec.source.tags == {"nginx_access"}
    container = LogSpec.parse("nginx_access=cri:///var/log/pods/*/nginx/*.log")
    assert container.glob == "/var/log/pods/*/nginx/*.log" and container.source.kind == "cri"
    assert LogSpec.parse("/var/log/a.log").source.kind == "file"
    with pytest.raises(LogmetricsError, match="--logs ftp://x: unknown kind"):
        LogSpec.parse("ftp://x")
