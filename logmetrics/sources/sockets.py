"""Sockets logmetrics listens on: ``unix://``, ``unixgram://``, ``tcp://``, ``udp://`` (and their
``syslog+`` forms).

Stream sockets (unix, tcp) accept connections; each connection is read as a
stream of newline-terminated lines (or, for syslog, octet-counted frames when
its first byte is a digit, RFC 6587), a line split across reads waiting for its
rest. Datagram sockets (unixgram, udp) take each datagram as a whole: one or
more lines (plain), or one message (syslog). Every socket is non-blocking and
read only when the reader has seen it readable.

Bounds: at most :data:`MAX_CONNECTIONS` connections per listener (more are
closed at once and counted), at most ``max_line`` bytes held per connection, a
datagram or syslog frame over ``max_line`` dropped and counted. Out of file
descriptors, a listener stops accepting for a second instead of spinning.

Nothing here is exactly-once: UDP drops datagrams when the receive buffer is
full (before logmetrics sees them), and no socket has a position to resume from.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import stat

from logmetrics.errors import LogmetricsError
from logmetrics.sources.address import SourceAddress
from logmetrics.sources.lines import LineSplitter
from logmetrics.sources.stream import (
    READ_CHUNK,
    READS_PER_TURN,
    Endpoint,
    Stream,
    StreamHost,
    decode_datagram,
)
from logmetrics.sources.unwrap.syslog import MalformedSyslog, OctetFramer

log = logging.getLogger(__name__)

#: Connections one stream listener keeps open; more are closed at once (and counted).
MAX_CONNECTIONS = 4096
#: Receive buffer asked for on datagram sockets: room for bursts while a batch is processed.
DATAGRAM_BUFFER = 4 << 20
#: Datagrams read per turn (fairness between sources).
DATAGRAMS_PER_TURN = 256


class SourceError(LogmetricsError):
    """A socket that cannot be opened: the daemon reports it and exits."""


def open_socket(address: SourceAddress, endpoint: Endpoint) -> Stream:
    """Bind (and listen on) ``address``; raises :class:`SourceError` with a reason a person can act on."""
    datagram = address.kind in ("udp", "unixgram")
    kind = socket.SOCK_DGRAM if datagram else socket.SOCK_STREAM
    try:
        if address.kind in ("unix", "unixgram"):
            sock = _bind_unix(address.path, kind)
        else:
            sock = _bind_inet(address.host, address.port, kind)
        if not datagram:
            sock.listen(socket.SOMAXCONN)
        sock.setblocking(False)
    except OSError as exc:
        raise SourceError(f"--logs {address.text}: cannot listen: {_reason(exc)}") from None
    if datagram:
        # SO_RCVBUF is capped by net.core.rmem_max; root (CAP_NET_ADMIN) may go past it.
        try:
            sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), DATAGRAM_BUFFER)
        except OSError:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, DATAGRAM_BUFFER)
        return DatagramSocket(sock, endpoint, address.path)
    return Listener(sock, endpoint, address.path)


def _reason(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "the address is in use (another process listens there)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "no such address on this host"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    return exc.strerror or str(exc)


def _bind_inet(host: str, port: int, kind: int) -> socket.socket:
    infos = socket.getaddrinfo(host or None, port, type=kind, flags=socket.AI_PASSIVE)
    family, socktype, proto, _, where = infos[0]
    sock = socket.socket(family, socktype | socket.SOCK_CLOEXEC, proto)
    try:
        if kind == socket.SOCK_STREAM:
            # A restart must not wait for TIME_WAIT; a live listener still makes bind fail.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(where)
    except OSError:
        sock.close()
        raise
    return sock


def _bind_unix(path: str, kind: int) -> socket.socket:
    """Bind a unix socket, replacing a stale socket file (one nobody listens on), never another file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(st.st_mode):
            raise OSError(errno.EEXIST, f"{path} exists and is not a socket")
        if _in_use(path, kind):
            raise OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, kind | socket.SOCK_CLOEXEC)
    try:
        sock.bind(path)
    except OSError:
        sock.close()
        raise
    return sock


def _in_use(path: str, kind: int) -> bool:
    with socket.socket(socket.AF_UNIX, kind) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except OSError:
            return False
        return True


class _Bound(Stream):
    """A socket of ours; a unix one's file is removed when it is closed."""

    def __init__(self, sock: socket.socket, endpoint: Endpoint, path: str) -> None:
        self.sock = sock
        self.endpoint = endpoint
        self.path = path

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()
        if self.path:
            with contextlib.suppress(OSError):
                os.unlink(self.path)


class DatagramSocket(_Bound):
    """A udp or unixgram socket: every datagram is whole lines (or one syslog message)."""

    def __init__(self, sock: socket.socket, endpoint: Endpoint, path: str) -> None:
        super().__init__(sock, endpoint, path)
        self.splitter = LineSplitter(endpoint.max_line + 1)
        self.inode = os.fstat(sock.fileno()).st_ino

    def kernel_drops(self) -> int | None:
        """Datagrams the kernel dropped for want of room in this socket's buffer (UDP on Linux:
        the ``drops`` column of /proc/net/udp), or None where that is not known."""
        if self.path:
            return None
        for table in ("/proc/net/udp", "/proc/net/udp6"):
            try:
                with open(table, encoding="ascii") as rows:
                    next(rows, None)
                    for row in rows:
                        fields = row.split()
                        if len(fields) > 12 and fields[9] == str(self.inode):
                            return int(fields[12])
            except (OSError, ValueError):
                continue
        return None

    def on_ready(self, reader: StreamHost) -> None:
        stats = self.endpoint.stats
        frames: list[str] = []
        for _ in range(DATAGRAMS_PER_TURN):
            try:
                # One byte more than the limit: a datagram that fills it is over the limit.
                data = self.sock.recv(self.endpoint.max_line + 1)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # e.g. ECONNREFUSED reported on a unix datagram socket
                log.debug("%s: %s", self.endpoint.text, exc)
                break
            stats.bytes += len(data)
            if len(data) > self.endpoint.max_line:
                stats.drop("overlong")
                continue
            if self.endpoint.syslog:
                frames.append(data.rstrip(b"\n").decode("utf-8", errors="replace"))
            else:
                frames.extend(decode_datagram(self.splitter, data))
        self.endpoint.deliver(frames)


class Listener(_Bound):
    """A unix or tcp listening socket: accepts connections, within the bound."""

    def __init__(self, sock: socket.socket, endpoint: Endpoint, path: str) -> None:
        super().__init__(sock, endpoint, path)
        self.open = 0
        self._warned = False

    def on_ready(self, reader: StreamHost) -> None:
        stats = self.endpoint.stats
        for _ in range(64):
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # Out of descriptors: the pending connection stays queued; try again later.
                    self._warn(f"cannot accept connections ({exc.strerror}); retrying in a second")
                    stats.drop("accept_failed")
                    reader.pause(self, 1.0)
                    return
                log.debug("%s: accept: %s", self.endpoint.text, exc)
                continue
            if self.open >= MAX_CONNECTIONS:
                conn.close()
                stats.drop("connections")
                self._warn(f"more than {MAX_CONNECTIONS} connections: new ones are closed (counted)")
                continue
            conn.setblocking(False)
            self.open += 1
            stats.connections += 1
            stats.open_connections = self.open
            reader.add(Connection(conn, self))

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("%s: %s", self.endpoint.text, message)

    def closed(self) -> None:
        """One of our connections ended."""
        self.open -= 1
        self.endpoint.stats.open_connections = self.open


class Connection(Stream):
    """One accepted connection: newline-terminated lines, or octet-counted syslog frames."""

    def __init__(self, sock: socket.socket, listener: Listener) -> None:
        self.sock = sock
        self.listener = listener
        self.endpoint = listener.endpoint
        self.splitter: LineSplitter | None = None
        self.octets: OctetFramer | None = None

    def fileno(self) -> int:
        return self.sock.fileno()

    def on_ready(self, reader: StreamHost) -> None:
        endpoint = self.endpoint
        frames: list[str] = []
        eof = False
        for _ in range(READS_PER_TURN):
            try:
                data = self.sock.recv(READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # reset by the peer
                eof = True
                break
            if not data:
                eof = True
                break
            endpoint.stats.bytes += len(data)
            try:
                frames.extend(self._frames(data))
            except MalformedSyslog as exc:
                endpoint.malformed(str(exc), data.decode("utf-8", errors="replace"))
                eof = True  # octet counting cannot resynchronise: drop the connection
                break
            if len(data) < READ_CHUNK:
                break
        if eof and self.splitter is not None:
            frames.extend(self.splitter.flush())  # the sender ended its last line by leaving
        endpoint.deliver(frames)
        if eof:
            reader.remove(self)

    def _frames(self, data: bytes) -> list[str]:
        if self.splitter is None and self.octets is None:
            # RFC 6587: an octet-counted frame starts with its length, a plain one with "<".
            if self.endpoint.syslog and data[:1].isdigit():
                self.octets = OctetFramer(self.endpoint.max_line)
            else:
                self.splitter = self.endpoint.splitter()
        if self.octets is not None:
            before = self.octets.overlong
            frames = [f.decode("utf-8", errors="replace") for f in self.octets.feed(data)]
            if self.octets.overlong > before:
                self.endpoint.stats.drop("overlong", self.octets.overlong - before)
            return frames
        assert self.splitter is not None
        before = self.splitter.stats.overlong
        lines = self.splitter.feed(data)
        if self.splitter.stats.overlong > before:
            self.endpoint.stats.drop("overlong", self.splitter.stats.overlong - before)
        return lines

    def close(self) -> None:
        self.sock.close()
        self.listener.closed()
