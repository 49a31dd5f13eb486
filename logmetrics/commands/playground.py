"""``logmetrics playground``: a local page to write a program against sample lines.

It reads only the files named on its command line (the program and the
sample) and writes only beside the program: the program itself, and on
request a test case ``NAME.CASE.log`` + ``NAME.CASE.prom`` that
``logmetrics test`` runs.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
from pathlib import Path

from logmetrics.atomicfile import write_atomic
from logmetrics.commands.testcases import Case, run_case
from logmetrics.daemon.signals import SignalFlags
from logmetrics.errors import LogmetricsError
from logmetrics.exposition.collector import Registry
from logmetrics.exposition.server import MetricsServer
from logmetrics.grok import PatternLibrary
from logmetrics.resources import PROGRAM_SUFFIX, bundled_program
from logmetrics.sources.wake import Waker
from logmetrics.web.playground import MAX_BODY, Playground, PlaygroundFiles

STARTER_PROGRAM = """\
# Requests by method and status, from Apache or nginx access logs.
counter http_requests_total by method, status
counter http_response_bytes_total

/^%{COMMONAPACHELOG}/ {
  http_requests_total[$verb][$response]++
}
/ (?P<size>\\d+)$/ {
  http_response_bytes_total += $size
}
"""
STARTER_SAMPLE = """\
192.0.2.10 - - [28/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 5120
192.0.2.11 - - [28/Nov/2026:10:00:02 +0000] "GET /missing HTTP/1.1" 404 512
192.0.2.12 - - [28/Nov/2026:10:00:03 +0000] "POST /login HTTP/1.1" 302 -
not an access log line
"""


def _read(path: Path, what: str) -> str:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BODY // 2 + 1)
    except OSError as exc:
        raise LogmetricsError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(data) > MAX_BODY // 2:
        raise LogmetricsError(f"{path}: the {what} is larger than the playground takes "
                              f"({MAX_BODY // 2:,} bytes); give it a smaller excerpt")
    return data.decode("utf-8", errors="replace")


def _write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` whole: a reader sees the old file or the new, never half."""
    write_atomic(path, text.encode("utf-8"))


class _Saver:
    """Writes the program to the file the user named, and test cases beside it."""

    def __init__(self, target: Path, library: PatternLibrary, max_label_sets: int) -> None:
        self.target = target
        self.library = library
        self.args = argparse.Namespace(max_label_sets=max_label_sets)

    def __call__(self, program: str, sample: str, case: str | None) -> list[str]:
        _write_text(self.target, program)
        written = [str(self.target)]
        if case is not None:
            stem = self.target.name.removesuffix(PROGRAM_SUFFIX)
            log = self.target.with_name(f"{stem}.{case}.log")
            expected = log.with_suffix(".prom")
            _write_text(log, sample if not sample or sample.endswith("\n") else sample + "\n")
            # The expected metrics are what `logmetrics test` computes for this log, by its own code.
            outcome = run_case(Case(self.target.name, log, expected), self.target, self.library, self.args)
            _write_text(expected, outcome.actual)
            written += [str(log), str(expected)]
        return written


def _program(args: argparse.Namespace, library: PatternLibrary) -> tuple[PlaygroundFiles, _Saver | None]:
    given: Path | None = args.progs
    if given is None:
        files = PlaygroundFiles("playground.mtail", "playground.mtail", STARTER_PROGRAM, "", "",
                                save_hint="Start with --progs FILE.mtail to save.")
        return files, None
    if given.is_dir():
        raise LogmetricsError(f"--progs {given}: a folder; the playground edits one program file")
    if given.is_file():
        text = _read(given, "program")
        saver = _Saver(given, library, args.max_label_sets)
        return PlaygroundFiles(given.name, str(given), text, "", ""), saver
    bundled = bundled_program(str(given))
    if bundled is not None:
        hint = f"A bundled program: start with --progs ./{bundled.name} to save your own copy."
        return PlaygroundFiles(bundled.name, str(bundled), _read(bundled, "program"), "", "",
                               save_hint=hint), None
    if not given.name.endswith(PROGRAM_SUFFIX) or not given.parent.is_dir():
        raise LogmetricsError(f"--progs {given}: no such program file, nor a new FILE.mtail in an "
                              "existing folder")
    # A new program: Save creates it.
    return PlaygroundFiles(given.name, str(given), STARTER_PROGRAM, "", ""), \
        _Saver(given, library, args.max_label_sets)


def run_playground(args: argparse.Namespace) -> int:
    """Serve the playground until interrupted."""
    library = PatternLibrary.load(args.patterns)
    files, saver = _program(args, library)
    if args.sample is not None:
        files.sample_name = str(args.sample)
        files.sample_text = _read(args.sample, "sample")
    else:
        files.sample_name, files.sample_text = "sample.log", STARTER_SAMPLE
    playground = Playground(files, library, saver)
    server = MetricsServer(Registry(), args.listen, args.web_config,
                           pages=playground)
    if not _loopback(server.host) and args.web_config is None:
        print(f"logmetrics: warning: the playground listens on {server.host}, not on loopback, with no "
              "--web-config: anyone who reaches it can run programs and save them", file=sys.stderr)
    # SIGTERM (a service manager, a terminal closing) stops it as Ctrl-C does: the handlers only
    # set a flag, and the wake-up pipe ends the main thread's sleep.
    waker = Waker()
    signals = SignalFlags()
    signals.install(waker.write_fd)
    try:
        server.start()
        print(f"playground on {server.scheme}://{_url_host(server.host)}:{server.port}/ (Ctrl-C stops it)",
              file=sys.stderr, flush=True)
        while signals.stop_signal is None:
            waker.wait(3600)
    finally:
        server.stop()
        waker.close()
    print(f"playground stopped (received {signal.Signals(signals.stop_signal).name})", file=sys.stderr,
          flush=True)
    return 0


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
