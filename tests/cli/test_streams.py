"""Stream sources through the installed console script: stdin to its end, named pipes, unix and TCP
sockets (syslog with octet counting included), bad addresses, and bounds under 1,000 connections.

Everything listens on 127.0.0.1 or on unix sockets in the test's folder.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.cli.test_daemon import SCRIPT, Daemon, counting_progs, free_port, wait_for
from tests.helpers import REPO

ENVELOPE = (
    "counter syslog_lines_total by tag, host\ngauge syslog_time_max\n"
    "/^line / {\n  syslog_lines_total[syslog_tag()][syslog_hostname()]++\n"
    "  syslog_time() > syslog_time_max {\n    syslog_time_max = syslog_time()\n  }\n}\n"
)


def run_once(tmp_path: Path, data: bytes, *extra: str) -> subprocess.CompletedProcess:
    progs = tmp_path / "progs" if (tmp_path / "progs").exists() else counting_progs(tmp_path)
    return subprocess.run([str(SCRIPT), "run", "--progs", str(progs), "--logs", "-", "--listen", "none",
                           "--textfile", str(tmp_path / "out.prom"), "--state-dir", str(tmp_path / "state"),
                           *extra], input=data, capture_output=True, timeout=60, check=False)


def textfile_value(tmp_path: Path, name: str) -> float:
    for line in (tmp_path / "out.prom").read_text().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in the textfile")


def test_stdin_to_its_end_then_a_clean_stop_with_checkpoint_and_textfile(tmp_path):
    done = run_once(tmp_path, b"line 1\r\nline 2\nnoise\nline 3")  # the last line has no newline
    assert done.returncode == 0, done.stderr.decode()
    assert "end of standard input: stopping" in done.stderr.decode()
    assert textfile_value(tmp_path, "lines_total") == 3
    assert textfile_value(tmp_path, "number_sum_total") == 6
    # The checkpoint holds the values: the next run continues from them.
    again = run_once(tmp_path, b"line 4\n")
    assert again.returncode == 0, again.stderr.decode()
    assert textfile_value(tmp_path, "lines_total") == 4


def test_stdin_from_a_regular_file(tmp_path):
    log = tmp_path / "in.log"
    log.write_text("".join(f"line {i}\n" for i in range(10000)))
    progs = counting_progs(tmp_path)
    with log.open("rb") as stdin:
        done = subprocess.run([str(SCRIPT), "run", "--progs", str(progs), "--logs", "-", "--listen", "none",
                               "--textfile", str(tmp_path / "out.prom"), "--state-dir", str(tmp_path / "s")],
                              stdin=stdin, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert textfile_value(tmp_path, "lines_total") == 10000


@pytest.mark.parametrize(("logs", "says"), [
    ("tcp://127.0.0.1", "needs HOST:PORT"),
    ("gopher://127.0.0.1:70", "unknown kind of log source"),
    ("unix:///nonexistent-dir/x.sock", "No such file or directory"),
    ("udp://192.0.2.1:5140", "no such address"),
])
def test_unusable_addresses_fail_at_start(tmp_path, logs, says):
    done = subprocess.run([str(SCRIPT), "run", "--progs", str(counting_progs(tmp_path)), "--logs", logs,
                           "--listen", "127.0.0.1:0", "--state-dir", str(tmp_path / "state")],
                          capture_output=True, timeout=30, check=False)
    assert done.returncode != 0
    err = done.stderr.decode()
    assert says in err and logs.split("?")[0] in err and "Traceback" not in err


def test_address_in_use_fails_at_start(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        logs = f"syslog+udp://127.0.0.1:{taken.getsockname()[1]}"
        done = subprocess.run([str(SCRIPT), "run", "--progs", str(counting_progs(tmp_path)), "--logs", logs,
                               "--listen", "127.0.0.1:0", "--state-dir", str(tmp_path / "state")],
                              capture_output=True, timeout=30, check=False)
    assert done.returncode != 0
    assert f"--logs {logs}: cannot listen: the address is in use" in done.stderr.decode()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may bind any port")
def test_privileged_port_fails_at_start(tmp_path):
    done = subprocess.run([str(SCRIPT), "run", "--progs", str(counting_progs(tmp_path)), "--logs",
                           "tcp://127.0.0.1:1", "--listen", "127.0.0.1:0",
                           "--state-dir", str(tmp_path / "s")],
                          capture_output=True, timeout=30, check=False)
    assert done.returncode != 0 and "permission denied" in done.stderr.decode()


def test_fifo_writer_leaves_and_comes_back(tmp_path):
    progs = counting_progs(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    fifo = logs / "app.log"
    os.mkfifo(fifo)
    daemon = Daemon(tmp_path, progs, str(logs / "*.log"))
    try:
        total = 0
        for round_ in range(3):
            # Opening for writing waits until logmetrics has the FIFO open for reading.
            with open(fifo, "w") as writer:
                writer.write("line 1\nline ")
                writer.flush()
                time.sleep(0.2)  # a line split across two writes
                writer.write("2\n")
            total += 2
            assert wait_for(lambda n=total: daemon.samples().get("lines_total") == n), (round_, daemon.log())
        assert daemon.samples()["number_sum_total"] == 9
        assert daemon.samples()[f"logmetrics_source_connections_total{{source={fifo}}}"] >= 3
    finally:
        assert daemon.stop() == 0


@pytest.mark.parametrize("kind", ["unix", "unixgram", "tcp"])
def test_socket_lines_split_and_several_per_send_writer_returns(tmp_path, kind):
    progs = counting_progs(tmp_path)
    if kind == "tcp":
        port = free_port()
        url, where, family = f"tcp://127.0.0.1:{port}", ("127.0.0.1", port), socket.AF_INET
    else:
        path = tmp_path / f"{kind}.sock"
        url, where, family = f"{kind}://{path}", str(path), socket.AF_UNIX
    daemon = Daemon(tmp_path, progs, url)
    try:
        for round_ in range(2):  # the writer disconnects and comes back
            if kind == "unixgram":
                with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                    s.sendto(b"line 1\nline 2\n", where)  # several lines per datagram
                    s.sendto(b"line 3", where)  # a datagram ends its line
            else:
                with socket.socket(family, socket.SOCK_STREAM) as s:
                    s.connect(where)
                    s.sendall(b"line 1\nline 2\nli")
                    time.sleep(0.2)
                    s.sendall(b"ne 3\n")  # a line split across two sends
            expected = 3.0 * (round_ + 1)
            assert wait_for(lambda n=expected: daemon.samples().get("lines_total") == n), daemon.log()
        assert daemon.samples()["number_sum_total"] == 12
    finally:
        assert daemon.stop() == 0
    if kind != "tcp":
        assert not Path(where).exists()  # our socket file is removed at stop


def test_syslog_tcp_octet_counting_and_envelope_builtins(tmp_path):
    progs = tmp_path / "progs"
    progs.mkdir()
    (progs / "envelope.mtail").write_text(ENVELOPE)
    port = free_port()
    url = f"syslog+tcp://127.0.0.1:{port}"
    daemon = Daemon(tmp_path, progs, url)
    frames = [b"<13>1 2026-11-28T10:00:00Z host-a app - - - line 1",
              b"<13>Nov 28 10:00:00 host-b web[12]: line 2",
              b"<13>1 2026-11-28T10:00:05Z host-a app - - [sd@1 k=\"v]\"] line 3"]
    data = b"".join(str(len(f)).encode() + b" " + f for f in frames)
    try:
        for _ in range(2):  # a sender that disconnects and comes back
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(data[:5])
                time.sleep(0.2)
                s.sendall(data[5:])
        host_a = "syslog_lines_total{host=host-a,tag=app}"
        assert wait_for(lambda: daemon.samples().get(host_a) == 4), daemon.log()
        samples = daemon.samples()
        assert samples["syslog_lines_total{host=host-b,tag=web}"] == 2
        assert samples["syslog_time_max"] == 1795860005
        assert samples[f"logmetrics_source_connections_total{{source={url}}}"] == 2
        # Garbage where a length should be: counted, the connection dropped, the daemon unharmed.
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"hello there\n")
        assert wait_for(lambda: daemon.samples().get(
            f"logmetrics_source_malformed_syslog_frames_total{{source={url}}}") == 1)
    finally:
        assert daemon.stop() == 0


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


def test_a_thousand_idle_connections_and_a_sender_without_newlines(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 2200:
        pytest.skip("needs 2,200 file descriptors")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2200), hard))  # inherited by the daemon
    progs = counting_progs(tmp_path)
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    daemon = Daemon(tmp_path, progs, url)
    clients: list[socket.socket] = []
    try:
        before = rss_kb(daemon.proc.pid)
        for _ in range(1000):
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        key = f"logmetrics_source_open_connections{{source={url}}}"
        assert wait_for(lambda: daemon.samples().get(key) == 1000, timeout=30)
        # One client sends 32 MiB without a newline: held up to the line limit, the rest dropped.
        flood = clients[0]
        chunk = b"z" * (1 << 20)
        for _ in range(32):
            flood.sendall(chunk)
        flood.sendall(b"\nline 7\n")
        clients[999].sendall(b"line 5\n")
        assert wait_for(lambda: daemon.samples().get("lines_total") == 2, timeout=30), daemon.log()
        samples = daemon.samples()
        assert samples["number_sum_total"] == 12
        assert samples[f"logmetrics_source_dropped_total{{reason=overlong,source={url}}}"] == 1
        grown = rss_kb(daemon.proc.pid) - before
        assert grown < 64 * 1024, f"RSS grew by {grown} kB"
    finally:
        for c in clients:
            c.close()
        assert daemon.stop() == 0


def test_the_daemonset_example_counts_requests_per_pod(tmp_path):
    """examples/daemonset.yaml's arguments and program, on CRI files of two pods (paths moved to tmp)."""
    config, daemonset = yaml.safe_load_all((REPO / "examples" / "daemonset.yaml").read_text())
    progs = tmp_path / "programs"
    progs.mkdir()
    for name, text in config["data"].items():
        (progs / name).write_text(text)
    args = daemonset["spec"]["template"]["spec"]["containers"][0]["args"]
    pods = tmp_path / "var/log/pods"
    raw = (REPO / "examples" / "nginx_access.log").read_text().splitlines()
    errors = (REPO / "examples" / "nginx_error.log").read_text().splitlines()[:3]
    for pod in ("web-1", "web-2"):
        folder = pods / f"shop_{pod}_0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b" / "nginx"
        folder.mkdir(parents=True)
        lines = [f"2026-11-28T10:00:00.{i:09d}Z stdout F {line}" for i, line in enumerate(raw)]
        lines += [f"2026-11-28T10:00:01.000000000Z stderr F {line}" for line in errors]
        (folder / "0.log").write_text("\n".join(lines) + "\n")
    logs = [a.split("=", 1)[1].replace("/var/log/pods", str(pods)) for a in args if a.startswith("--logs=")]
    daemon = Daemon(tmp_path, progs, logs[0], "--from", "beginning")
    try:
        statuses = Counter(re.search(r'" (\d{3}) ', line).group(1) for line in raw)
        key = "nginx_pod_http_requests_total{{container=nginx,namespace=shop,pod={pod},status={status}}}"
        for pod in ("web-1", "web-2"):
            for status, count in statuses.items():
                series = key.format(pod=pod, status=status)
                assert wait_for(lambda k=series, n=count: daemon.samples().get(k) == n), (pod, status)
            other = f"nginx_pod_log_lines_other_total{{container=nginx,namespace=shop,pod={pod}}}"
            assert daemon.samples()[other] == len(errors)
    finally:
        assert daemon.stop() == 0


def test_udp_datagrams_dropped_by_the_kernel_are_counted(tmp_path):
    """With the daemon stopped (SIGSTOP), a burst overflows the socket buffer: every datagram sent is
    either counted as a line or as a kernel drop, none unaccounted for."""
    progs = counting_progs(tmp_path)
    port = free_port()
    url = f"udp://127.0.0.1:{port}"
    daemon = Daemon(tmp_path, progs, url)
    sent = 20000
    try:
        daemon.proc.send_signal(signal.SIGSTOP)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for i in range(sent):
                    s.sendto(f"line {i % 10}".encode() + b"x" * 400 + b"\n", ("127.0.0.1", port))
        finally:
            daemon.proc.send_signal(signal.SIGCONT)
        key = f"logmetrics_source_dropped_total{{reason=receive_buffer,source={url}}}"

        def accounted() -> float:
            samples = daemon.samples()
            return samples.get(f"logmetrics_source_lines_total{{source={url}}}", 0) + samples.get(key, 0)

        assert wait_for(lambda: accounted() == sent, timeout=30), (accounted(), daemon.samples().get(key))
        assert daemon.samples()[key] > 0
    finally:
        assert daemon.stop() == 0
