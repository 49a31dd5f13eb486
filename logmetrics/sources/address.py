"""What a ``--logs`` value names: a file glob, standard input, a socket, or container logs.

The syntax is mtail's, extended for syslog and container logs::

    /var/log/nginx/*.log            files (a named pipe matched by the glob is read as a stream)
    -                               standard input
    unix:///run/x.sock              a unix stream socket logmetrics listens on
    unixgram:///run/x.sock          a unix datagram socket
    tcp://127.0.0.1:5140            a TCP listener, one line per newline
    udp://127.0.0.1:5140            a UDP socket, one or more lines per datagram
    syslog+udp://127.0.0.1:514      syslog messages (RFC 3164 or 5424), header stripped;
    syslog+tcp://..., syslog+unix:///..., syslog+unixgram:///...
                                    also with ``?tag=NAME`` (repeatable): only messages of that tag
    cri:///var/log/pods/*/*/*.log   files in the CRI format (Kubernetes), unwrapped
    docker:///var/lib/docker/containers/*/*-json.log
                                    files in Docker's json-file format, unwrapped;
                                    both also with ``?stream=stdout`` or ``?stream=stderr``:
                                    only that stream's lines
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

#: Socket transports, as mtail names them.
SOCKET_KINDS = ("unix", "unixgram", "tcp", "udp")
#: Formats of container log files.
CONTAINER_FORMATS = ("cri", "docker")
#: The streams a container log interleaves.
CONTAINER_STREAMS = ("stdout", "stderr")
_OPTION = re.compile(r"[a-z]+=")


class AddressError(ValueError):
    """A ``--logs`` value that looks like a URL but cannot be used."""


@dataclass(frozen=True)
class SourceAddress:
    """One parsed ``--logs`` value (see the module docstring).

    ``kind`` is ``file``, ``stdin``, one of :data:`SOCKET_KINDS`, or one of
    :data:`CONTAINER_FORMATS` (files whose lines are unwrapped).
    """

    text: str
    kind: str
    path: str = ""  # the glob of files, or the unix socket's path
    host: str = ""
    port: int = 0
    syslog: bool = False
    tags: frozenset[str] = frozenset()
    streams: frozenset[str] = frozenset()  # container logs: the streams read (empty: every one)

    def reads_stream(self, stream: str) -> bool:
        """Whether a container log's line from ``stream`` (``stdout``, ``stderr``) is read."""
        return not self.streams or stream in self.streams

    @property
    def is_stream(self) -> bool:
        """Read by the stream reader (no position), not followed as files."""
        return self.kind == "stdin" or self.kind in SOCKET_KINDS

    @property
    def endpoint(self) -> str:
        """The socket this names, without the tag filter: sources naming the same one share it."""
        return self.text.partition("?")[0]

    @classmethod
    def parse(cls, text: str) -> SourceAddress:
        """Read a ``--logs`` value; raises :class:`AddressError` for an unusable URL."""
        if text == "-":
            return cls(text, "stdin")
        scheme, sep, rest = text.partition("://")
        if not sep or "/" in scheme:
            return cls(text, "file", path=text)
        syslog = scheme.startswith("syslog+")
        kind = scheme.removeprefix("syslog+")
        if kind in CONTAINER_FORMATS and not syslog:
            if not rest.startswith("/"):
                raise AddressError(f"{text}: {kind}:// takes an absolute path or glob, "
                                   f"e.g. {kind}:///var/log/pods/*/*/*.log")
            where, query = _glob_and_query(rest)
            return cls(text, kind, path=where, streams=_streams(text, query))
        if kind not in SOCKET_KINDS:
            known = ", ".join([f"{k}://" for k in SOCKET_KINDS + CONTAINER_FORMATS]
                              + [f"syslog+{k}://" for k in SOCKET_KINDS])
            raise AddressError(f"{text}: unknown kind of log source {scheme!r} (known: {known}, "
                               "a file path or glob, or - for standard input)")
        where, _, query = rest.partition("?")
        tags = _tags(text, query, syslog)
        if kind in ("unix", "unixgram"):
            if not where.startswith("/"):
                raise AddressError(f"{text}: a unix socket needs an absolute path, "
                                   f"e.g. {scheme}:///run/logmetrics.sock")
            return cls(text, kind, path=where, syslog=syslog, tags=tags)
        host, port = _host_port(text, where)
        return cls(text, kind, host=host, port=port, syslog=syslog, tags=tags)


def _glob_and_query(rest: str) -> tuple[str, str]:
    """A container glob and its options: ``?`` is also a glob's any-character, so only a last
    ``?`` followed by ``NAME=`` starts the options."""
    where, sep, query = rest.rpartition("?")
    if sep and _OPTION.match(query):
        return where, query
    return rest, ""


def _options(text: str, query: str) -> dict[str, list[str]]:
    """The ``?name=value&...`` options; only ``tag`` (syslog) and ``stream`` (container logs) exist."""
    fields = urllib.parse.parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(fields) - {"tag", "stream"})
    if unknown:
        raise AddressError(f"{text}: unknown option {unknown[0]!r} "
                           "(known: ?tag=NAME for syslog, ?stream=stdout|stderr for container logs)")
    return fields


def _values(text: str, query: str, name: str, misplaced: str) -> frozenset[str]:
    """The values of option ``name`` (none without options); the other option, which this kind
    of source does not take, is an error saying ``misplaced``."""
    if not query:
        return frozenset()
    fields = _options(text, query)
    if set(fields) - {name}:
        raise AddressError(f"{text}: {misplaced}")
    return frozenset(fields[name])


def _streams(text: str, query: str) -> frozenset[str]:
    streams = _values(text, query, "stream", "?tag= filters syslog messages, not container logs (a container "
                      "log's lines are chosen with ?stream=stdout or ?stream=stderr)")
    bad = sorted(streams - set(CONTAINER_STREAMS))
    if bad:
        raise AddressError(f"{text}: ?stream={bad[0]}: a container log's stream is stdout or stderr")
    return frozenset() if streams == set(CONTAINER_STREAMS) else streams


def _tags(text: str, query: str, syslog: bool) -> frozenset[str]:
    tags = _values(text, query, "tag", "?stream= chooses a container log's stream; it is for cri:// and "
                   "docker:// sources")
    if tags and not syslog:
        raise AddressError(f"{text}: ?tag= filters syslog messages; use syslog+{text}")
    if "" in tags:
        raise AddressError(f"{text}: empty tag")
    return tags


def _host_port(text: str, where: str) -> tuple[str, int]:
    host, sep, port_text = where.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise AddressError(f"{text}: needs HOST:PORT with a port from 1 to 65535, e.g. tcp://127.0.0.1:5140")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # an IPv6 literal
    return host, int(port_text)
