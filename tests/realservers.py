"""Real Apache httpd, nginx and Prometheus servers on loopback, started by the tests that need them.

Each server gets its own configuration in a temporary folder, listens on a free loopback port
and is stopped by the context manager. Where a binary is missing, ``require`` skips the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

APACHE = shutil.which("apache2") or shutil.which("httpd")
NGINX = shutil.which("nginx")
PROMETHEUS = shutil.which("prometheus")

#: Apache's module folder on Debian (modules are loaded by path from there).
APACHE_MODULES = Path("/usr/lib/apache2/modules")

#: nginx's access-log format with the request time, as many sites add it.
NGINX_TIMED = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
               '"$http_referer" "$http_user_agent" rt=$request_time uct="$upstream_connect_time" '
               'urt="$upstream_response_time"')


def require(binary: str | None, name: str) -> str:
    """The binary's path, or skip the test when it is not installed."""
    if binary is None:
        pytest.skip(f"{name} is not installed")
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_listening(port: int, proc: subprocess.Popen, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with status {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on port {port} within {timeout:g} s")


def wait_until_ready(port: int, proc: subprocess.Popen, what: str, timeout: float = 60.0) -> None:
    """Until ``/-/ready`` answers 200: Prometheus listens before its storage is open, and answers
    its API with 503 until then."""
    wait_until_listening(port, proc, what, timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with status {proc.returncode}")
        with contextlib.suppress(OSError), \
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=5) as response:
            if response.status == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{what} was not ready within {timeout:g} s")


def document_root() -> Path:
    """A document root the servers' unprivileged workers can read (pytest's tmp dirs are 0700)."""
    root = Path(tempfile.mkdtemp(prefix="logmetrics-www-"))
    root.chmod(0o755)
    (root / "index.html").write_text("<h1>hello</h1>\n")
    (root / "static").mkdir()
    (root / "static" / "app.js").write_text("console.log(1);\n" * 200)
    (root / "private").mkdir()
    (root / "private" / "secret.txt").write_text("no\n")
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
        os.utime(path, (1577836800, 1577836800))  # 2020-01-01, so If-Modified-Since can give 304
    return root


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _user_lines(for_nginx: bool) -> str:
    """Workers must not run as root; www-data exists on Debian."""
    if os.geteuid() != 0:
        return ""
    return "user www-data;\n" if for_nginx else "User www-data\nGroup www-data\n"


@dataclass
class WebServer:
    """A running web server: where it listens and where it writes its logs."""

    port: int
    access_log: Path
    error_log: Path
    root: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextlib.contextmanager
def _serving(argv: list[str], server: WebServer, workdir: Path) -> Iterator[WebServer]:
    """Run a web server in the foreground until the block ends; its output goes to a file."""
    with (workdir / "server.out").open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until_listening(server.port, proc, Path(argv[0]).name)
            yield server
        finally:
            _stop(proc)
            shutil.rmtree(server.root, ignore_errors=True)


@contextlib.contextmanager
def apache(workdir: Path, log_format: str = "combined", custom_log: str | None = None) -> Iterator[WebServer]:
    """Apache httpd (mpm_event) serving a small site, access log in ``log_format``.

    ``custom_log``, when given, is the whole CustomLog argument instead (e.g. a piped log).
    """
    binary = require(APACHE, "apache2")
    port = free_port()
    root = document_root()
    workdir.mkdir(parents=True, exist_ok=True)
    access, error = workdir / "access.log", workdir / "error.log"
    modules = ["mpm_event", "authz_core", "authz_host", "dir", "mime", "alias", "autoindex"]
    loads = "".join(f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so\n" for m in modules)
    conf = workdir / "httpd.conf"
    conf.write_text(
        f"ServerRoot {workdir}\nServerName localhost\nPidFile {workdir}/httpd.pid\n{loads}"
        f"{_user_lines(False)}Listen 127.0.0.1:{port}\nTypesConfig /etc/mime.types\n"
        f"DocumentRoot {root}\nDirectoryIndex index.html\nLogLevel info\n"
        f"ErrorLog {error}\n"
        'LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined\n'
        'LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-Agent}i\\" %D" timed\n'
        f"CustomLog {custom_log or f'{access} {log_format}'}\n"
        f'<Directory "{root}">\n  Options Indexes\n  Require all granted\n</Directory>\n'
        f'<Directory "{root}/private">\n  Require all denied\n</Directory>\n'
    )
    with _serving([binary, "-f", str(conf), "-DFOREGROUND"], WebServer(port, access, error, root),
                  workdir) as server:
        yield server


@contextlib.contextmanager
def nginx(workdir: Path, timed: bool = False, upstream: int | None = None,
          locations: str = "") -> Iterator[WebServer]:
    """nginx serving a small site, access log in ``combined`` or with ``rt=$request_time``.

    With ``upstream``, ``/app/`` is proxied to that loopback port; ``locations`` is added to the
    server block as it is.
    """
    binary = require(NGINX, "nginx")
    port = free_port()
    root = document_root()
    workdir.mkdir(parents=True, exist_ok=True)
    access, error = workdir / "access.log", workdir / "error.log"
    temp = "".join(f"  {kind}_temp_path {workdir}/{kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    fmt = f"  log_format timed '{NGINX_TIMED}';\n" if timed else ""
    conf = workdir / "nginx.conf"
    conf.write_text(
        f"{_user_lines(True)}worker_processes 1;\npid {workdir}/nginx.pid;\n"
        f"error_log {error} info;\nevents {{ worker_connections 64; }}\n"
        f"http {{\n  include /etc/nginx/mime.types;\n{temp}{fmt}"
        f"  access_log {access} {'timed' if timed else 'combined'};\n"
        f"  server {{\n    listen 127.0.0.1:{port};\n    root {root};\n"
        "    location /private/ { deny all; }\n"
        + (f"    location /app/ {{ proxy_pass http://127.0.0.1:{upstream}; }}\n" if upstream else "")
        + locations + "  }\n}\n"
    )
    argv = [binary, "-c", str(conf), "-p", str(workdir), "-e", str(error), "-g", "daemon off;"]
    with _serving(argv, WebServer(port, access, error, root), workdir) as server:
        yield server


class Prometheus:
    """A Prometheus server scraping one target every second, with its HTTP query API."""

    def __init__(self, port: int) -> None:
        self.port = port

    def query(self, promql: str) -> list[dict]:
        """The result vector of an instant query."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]["result"]


@contextlib.contextmanager
def prometheus(workdir: Path, target: str) -> Iterator[Prometheus]:
    """A real Prometheus server scraping ``target`` (host:port) once a second."""
    binary = require(PROMETHEUS, "prometheus")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "prometheus.yml"
    conf.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: logmetrics\n    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    log = (workdir / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={conf}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_until_ready(port, proc, "prometheus")
        yield Prometheus(port)
    finally:
        _stop(proc)
        log.close()


#: The request mix sent to a server: (method, path, headers). Responses cover 200, 206, 304, 403,
#: 404 and 405 on both servers (which of them depends on the server: counts are taken from what the
#: client received, never assumed).
REQUEST_MIX: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/", {}),
    ("GET", "/index.html?page=2&q=a+b", {"Referer": "http://example.com/"}),
    ("GET", "/static/app.js", {"User-Agent": 'Mozilla/5.0 (X11) "quoted" \\ agent'}),
    ("GET", "/static/app.js", {"Range": "bytes=0-99"}),
    ("GET", "/static/app.js", {"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}),
    ("HEAD", "/", {}),
    ("GET", "/missing.html", {}),
    ("GET", "/private/secret.txt", {}),
    ("POST", "/index.html", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("PUT", "/static/new.txt", {}),
    ("DELETE", "/index.html", {}),
    ("OPTIONS", "/", {}),
]


def send_mix(port: int, rounds: int) -> dict[str, int]:
    """Send ``REQUEST_MIX`` ``rounds`` times plus one garbage request line per round.

    Returns how many responses the client received per status code.
    """
    import http.client
    from collections import Counter

    received: Counter[str] = Counter()
    for _ in range(rounds):
        for method, path, headers in REQUEST_MIX:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            body = "a=1" if method in ("POST", "PUT") else None
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            received[str(response.status)] += 1
            conn.close()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(b"GARBAGE\r\n\r\n")
            status_line = raw.makefile("rb").readline().split()
            received[status_line[1].decode()] += 1
    return dict(received)
