"""``logmetrics run``: the sidecar daemon.

One thread reads and processes lines (so that a reload never races a batch);
watchdog's threads only wake it; the HTTP server's threads only read.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from pathlib import Path
from types import FrameType

from prometheus_client import CollectorRegistry
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from logmetrics.commands.common import program_paths
from logmetrics.errors import LogmetricsError
from logmetrics.exposition.collector import StoreCollector
from logmetrics.exposition.selfmetrics import SelfCollector
from logmetrics.exposition.server import MetricsServer
from logmetrics.exposition.textfile import TextfileWriter
from logmetrics.grok import PatternLibrary
from logmetrics.runtime import checkpoint
from logmetrics.runtime.engine import Runtime
from logmetrics.runtime.reload import ProgramReloader
from logmetrics.runtime.routes import LogRouter, LogSpec
from logmetrics.sources.follow import Follower

log = logging.getLogger("logmetrics")

#: Positions are persisted at most this often (and at shutdown).
COMMIT_INTERVAL = 1.0
#: ``del ... after`` expiry runs this often.
EXPIRY_INTERVAL = 60.0


def default_state_dir() -> Path:
    """``/var/lib/logmetrics`` for root, else ``$XDG_STATE_HOME/logmetrics``."""
    if os.geteuid() == 0:
        return Path("/var/lib/logmetrics")
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "logmetrics"


class _ProgramChanged(FileSystemEventHandler):
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def on_any_event(self, event: FileSystemEvent) -> None:
        path = str(event.src_path)
        if path.endswith(".mtail") or str(getattr(event, "dest_path", "")).endswith(".mtail"):
            self.daemon.request_reload()


class Daemon:
    """Follows logs, runs programs, serves metrics, until told to stop."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stopping = threading.Event()
        self.reload_requested = threading.Event()
        library = PatternLibrary.load(args.patterns)
        specs = [LogSpec.parse(spec) for spec in args.logs]
        self.program_paths = program_paths(args, specs)
        self.runtime = Runtime([], max_label_sets=args.max_label_sets, router=LogRouter(specs))
        self.reloader = ProgramReloader(self.program_paths, library, self.runtime,
                                        stamps=args.emit_metric_timestamp)
        errors = self.reloader.reload(force=True)
        if errors:
            raise LogmetricsError("programs do not compile:\n" + "\n".join(errors))
        state_dir = self.state_dir = args.state_dir or default_state_dir()
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LogmetricsError(f"cannot create the state directory {state_dir}: {exc.strerror}") from None
        resume = None
        if args.checkpoint:
            restored, resume = checkpoint.restore(self.runtime, state_dir)
            if resume is not None:
                log.info("resuming from the checkpoint: %d metrics, %d files", restored, len(resume))
        self.follower = Follower([s.glob for s in specs], state_dir, from_end=args.start == "end",
                                 poll=args.poll, positions=resume)
        if args.listen.lower() == "none" and args.textfile is None:
            raise LogmetricsError("--listen none needs --textfile: the metrics would go nowhere")
        self.server: MetricsServer | None = None
        if args.listen.lower() != "none":
            self.server = MetricsServer(self._registry(args.emit_metric_timestamp), args.listen,
                                        args.web_config)
        self.textfile: TextfileWriter | None = None
        if args.textfile is not None:
            if not args.textfile.parent.is_dir():
                raise LogmetricsError(f"--textfile {args.textfile}: no folder {args.textfile.parent} "
                                      "(node_exporter's --collector.textfile.directory)")
            self.textfile = TextfileWriter(args.textfile, self._registry(timestamps=False))
        self.program_observer = Observer()

    def _registry(self, timestamps: bool) -> CollectorRegistry:
        """The programs' metrics and logmetrics' own, nothing else."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(StoreCollector(self.runtime.store, prog_label=self.args.prog_label,
                                         timestamps=timestamps))
        registry.register(SelfCollector(self.runtime, self.follower.stats, self.reloader.counts))
        return registry

    def request_reload(self) -> None:
        self.reload_requested.set()
        self.follower.wake()

    def request_stop(self) -> None:
        self.stopping.set()
        self.follower.wake()

    def _signals(self) -> None:
        def stop(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s: stopping", signal.Signals(signum).name)
            self.request_stop()

        def hup(_signum: int, _frame: FrameType | None) -> None:
            log.info("received SIGHUP: reloading programs")
            self.request_reload()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, hup)

    def _watch_programs(self) -> None:
        folders = {p if p.is_dir() else p.parent for p in self.program_paths}
        for folder in folders:
            try:
                self.program_observer.schedule(_ProgramChanged(self), str(folder), recursive=False)
            except OSError as exc:
                log.warning("cannot watch %s for program changes (%s); SIGHUP still reloads", folder, exc)
        self.program_observer.start()

    def run(self) -> int:
        self._signals()
        # The first scan decides which files existed at start (read from their end); it is done
        # before /-/healthy answers, so that a file created after that is always new.
        self.follower.start()
        if self.server is not None:
            self.server.start()
        self._watch_programs()
        last_commit = last_expiry = time.monotonic()
        last_textfile = -float("inf")
        dirty = False
        try:
            while not self.stopping.is_set():
                batches = self.follower.poll()
                for path, lines in batches:
                    self.runtime.process(lines, path)
                now = time.monotonic()
                if batches:
                    dirty = True
                if dirty and now - last_commit >= COMMIT_INTERVAL:
                    self._commit()
                    dirty = False
                    last_commit = now
                if self.textfile is not None and now - last_textfile >= self.args.textfile_interval:
                    self.textfile.write()
                    last_textfile = now
                if now - last_expiry >= EXPIRY_INTERVAL:
                    self._expire()
                    last_expiry = now
                if self.reload_requested.is_set():
                    self.reload_requested.clear()
                    self.reloader.reload()
                if not batches and not self.follower.behind:
                    self.follower.wait(0.25)
        finally:
            self._commit()
            if self.textfile is not None:
                self.textfile.write()
            self.follower.stop()
            self.program_observer.stop()
            if self.server is not None:
                self.server.stop()
            log.info("stopped; positions saved")
        return 0

    def _commit(self) -> None:
        """Values and positions together first (the checkpoint), then the offset files."""
        if self.args.checkpoint:
            try:
                checkpoint.save(self.runtime, self.state_dir, self.follower.handed_out())
            except OSError as exc:
                log.error("cannot save the checkpoint in %s: %s; will retry", self.state_dir,
                          exc.strerror or exc)
                return  # the offset files must not run ahead of the checkpoint
        self.follower.commit()

    def _expire(self) -> None:
        now = time.time()
        for metric in self.runtime.store:
            if metric.expiry:
                metric.expire(now)


def run_daemon(args: argparse.Namespace) -> int:
    logging.basicConfig(level=getattr(logging, args.log_level.upper()),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return Daemon(args).run()
