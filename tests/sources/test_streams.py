"""The stream reader in-process, with real sockets and pipes in a temporary folder and on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from logmetrics.errors import LogmetricsError
from logmetrics.sources.address import SourceAddress
from logmetrics.sources.stream import STREAM_MAX_LINE, Batch
from logmetrics.sources.streams import StreamReader, StreamSpec


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Reader:
    """A StreamReader with the main loop's part played by the test: batches gathered by name."""

    def __init__(self, *urls: str, globs: tuple[str, ...] = ()) -> None:
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK)
        specs = [StreamSpec(u, SourceAddress.parse(u)) for u in urls]
        self.reader = StreamReader(specs, list(globs), self.wake_w)
        self.reader.open()
        self.reader.start()
        self.batches: list[Batch] = []

    def lines(self, name: str) -> list[str]:
        return [line for b in self.batches if b.name == name for line in b.lines]

    def wait_lines(self, name: str, count: int, timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.lines(name)) < count and time.monotonic() < deadline:
            self.batches += self.reader.poll()
            time.sleep(0.02)
        return self.lines(name)

    def close(self) -> None:
        self.reader.stop()
        os.close(self.wake_r)
        os.close(self.wake_w)


@pytest.fixture
def reader_factory():
    made: list[Reader] = []

    def make(*urls: str, globs: tuple[str, ...] = ()) -> Reader:
        made.append(Reader(*urls, globs=globs))
        return made[-1]

    yield make
    for r in made:
        r.close()


def test_tcp_line_split_across_sends_and_several_per_send(reader_factory):
    url = f"tcp://127.0.0.1:{free_port()}"
    r = reader_factory(url)
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1]))) as c:
        c.sendall(b"one\ntw")
        time.sleep(0.2)
        c.sendall(b"o\r\nthree\nfour")  # "four" is ended by the close
    assert r.wait_lines(url, 4) == ["one", "two", "three", "four"]


def test_udp_several_lines_per_datagram(reader_factory):
    port = free_port(socket.SOCK_DGRAM)
    url = f"udp://127.0.0.1:{port}"
    r = reader_factory(url)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"a\nb\n", ("127.0.0.1", port))
        s.sendto(b"c", ("127.0.0.1", port))
    assert r.wait_lines(url, 3) == ["a", "b", "c"]


def test_datagram_over_the_limit_dropped_and_counted(reader_factory, tmp_path):
    # UDP cannot carry more than 64 KiB; a unix datagram can.
    path = tmp_path / "dgram.sock"
    url = f"unixgram://{path}"
    r = reader_factory(url)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        s.sendto(b"x" * (STREAM_MAX_LINE + 1), str(path))
        s.sendto(b"after\n", str(path))
    assert r.wait_lines(url, 1) == ["after"]
    stats = r.reader.stats()[url]
    assert stats.dropped == {"overlong": 1} and stats.lines == 1


def test_syslog_tag_filters_share_one_socket(reader_factory, tmp_path):
    path = tmp_path / "log.sock"
    access, error = (f"syslog+unixgram://{path}?tag=nginx_access", f"syslog+unixgram://{path}?tag=nginx_error")
    r = reader_factory(access, error)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        for frame in (b"<190>Nov 28 10:00:00 h nginx_access: GET / 200",
                      b"<187>Nov 28 10:00:00 h nginx_error: denied",
                      b"<190>Nov 28 10:00:00 h other: not for us",
                      b"not syslog"):
            s.sendto(frame, str(path))
    assert r.wait_lines(access, 1) == ["GET / 200"]
    assert r.wait_lines(error, 1) == ["denied"]
    stats = r.reader.stats()[f"syslog+unixgram://{path}"]
    assert stats.malformed_syslog == 1 and stats.lines == 3
    envelope = next(b.envelope for b in r.batches if b.name == access)
    assert (envelope.tag, envelope.hostname) == ("nginx_access", "h")


def test_syslog_tcp_octet_counting_split_and_reconnect(reader_factory):
    port = free_port()
    url = f"syslog+tcp://127.0.0.1:{port}"
    r = reader_factory(url)
    frames = [b"<13>1 2026-11-28T10:00:00Z h app - - - first", b"<13>Nov 28 10:00:00 h app: second"]
    data = b"".join(str(len(f)).encode() + b" " + f for f in frames)
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(data[:7])
        time.sleep(0.2)
        c.sendall(data[7:])
    assert r.wait_lines(url, 2) == ["first", "second"]
    with socket.create_connection(("127.0.0.1", port)) as c:  # the writer comes back, newline framing
        c.sendall(b"<13>Nov 28 10:00:01 h app: third\n")
    assert r.wait_lines(url, 3)[2] == "third"
    assert r.reader.stats()[url].connections == 2


def test_fifo_reopened_when_the_writer_comes_back(reader_factory, tmp_path):
    fifo = tmp_path / "app.log"
    os.mkfifo(fifo)
    r = reader_factory(globs=(str(tmp_path / "*.log"),))
    for round_ in range(3):
        fd = os.open(fifo, os.O_WRONLY)  # blocks until the reader has opened it
        os.write(fd, f"line {round_}\n".encode())
        os.close(fd)
        assert r.wait_lines(str(fifo), round_ + 1)[-1] == f"line {round_}"
    assert r.reader.stats()[str(fifo)].connections >= 3


def test_fifo_with_no_writer_costs_no_cpu(reader_factory, tmp_path):
    fifo = tmp_path / "idle.log"
    os.mkfifo(fifo)
    r = reader_factory(globs=(str(fifo),))
    fd = os.open(fifo, os.O_WRONLY)
    os.write(fd, b"x\n")
    os.close(fd)  # the writer leaves: the FIFO must not report readable forever
    r.wait_lines(str(fifo), 1)
    cpu = sum(os.times()[:2])
    time.sleep(1.0)
    assert sum(os.times()[:2]) - cpu < 0.3, "the reader spins on a FIFO without writer"


def test_address_in_use_and_stale_unix_socket(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        url = f"tcp://127.0.0.1:{taken.getsockname()[1]}"
        reader = StreamReader([StreamSpec(url, SourceAddress.parse(url))], [], -1)
        with pytest.raises(LogmetricsError, match="in use"):
            reader.open()
    # A socket file nobody listens on (a crash) is replaced; a regular file is not.
    stale = tmp_path / "stale.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(stale))
    s.close()
    url = f"unix://{stale}"
    reader = StreamReader([StreamSpec(url, SourceAddress.parse(url))], [], -1)
    reader.open()
    reader.stop()
    assert not stale.exists()  # removed at stop
    plain = tmp_path / "plain"
    plain.write_text("x")
    url = f"unix://{plain}"
    with pytest.raises(LogmetricsError, match="not a socket"):
        StreamReader([StreamSpec(url, SourceAddress.parse(url))], [], -1).open()
    assert plain.read_text() == "x"


def test_reader_stops_reading_when_the_main_loop_is_behind(tmp_path):
    """Memory stays bounded: with nobody polling, the queue stops near its bound."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK)
    reader = StreamReader([StreamSpec(url, SourceAddress.parse(url))], [], wake_w, max_queued=1 << 20)
    reader.open()
    reader.start()
    sent = 0
    done = threading.Event()

    def send() -> None:
        nonlocal sent
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.settimeout(0.5)
            try:
                while not done.is_set():
                    c.sendall(b"x" * 99 + b"\n")
                    sent += 100
            except OSError:  # the kernel buffers are full: the reader applies back-pressure
                pass

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    time.sleep(1.5)
    queued = reader.queued_bytes
    assert (1 << 20) <= queued < (1 << 20) + 2 * (1 << 20), queued
    got = sum(len(b.lines) for b in reader.poll())
    done.set()
    thread.join(5)
    reader.stop()
    os.close(wake_r)
    os.close(wake_w)
    assert got > 0 and sent > got * 99


def test_connection_holds_at_most_a_line_of_a_sender_without_newlines(reader_factory):
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    r = reader_factory(url)
    with socket.create_connection(("127.0.0.1", port)) as c:
        for _ in range(64):
            c.sendall(b"y" * 65536)  # 4 MiB and no newline
        c.sendall(b"\nafter\n")
        lines = r.wait_lines(url, 2)
    assert len(lines[0]) == STREAM_MAX_LINE and lines[1] == "after"
    assert r.reader.stats()[url].dropped == {"overlong": 1}
    conn = next(iter(s for s in r.reader._streams if hasattr(s, "splitter")), None)
    assert conn is None or conn.splitter is None or conn.splitter.pending <= STREAM_MAX_LINE


def test_stdin_end(tmp_path):
    read, write = os.pipe()
    from logmetrics.sources import stdin

    wake_r, wake_w = os.pipe2(os.O_NONBLOCK)
    reader = StreamReader([StreamSpec("-", SourceAddress.parse("-"))], [], wake_w)
    original = stdin.sys.stdin
    try:
        os.write(write, b"a\nb")
        os.close(write)
        stdin.sys.stdin = os.fdopen(read)  # type: ignore[assignment]
        reader.open()
        reader.start()
        deadline = time.monotonic() + 10
        batches: list[Batch] = []
        while not reader.exhausted and time.monotonic() < deadline:
            batches += reader.poll()
            time.sleep(0.02)
        assert reader.exhausted
        assert [line for b in batches for line in b.lines] == ["a", "b"]
    finally:
        stdin.sys.stdin.close()
        stdin.sys.stdin = original
        reader.stop()
        os.close(wake_r)
        os.close(wake_w)
