"""The main loop of ``logmetrics run``.

One thread reads and processes lines (so that a reload never races a batch);
watchdog's threads and the signal handlers only wake it through one pipe; the
HTTP server's threads only read.
"""

from __future__ import annotations

import logging
import resource
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from logmetrics.daemon.checkpoint import Checkpoint
from logmetrics.daemon.selfmetrics import SelfCollector
from logmetrics.daemon.signals import SignalFlags
from logmetrics.daemon.statedir import StateDir, default_state_dir
from logmetrics.daemon.streammetrics import StreamCollector
from logmetrics.defaults import DEFAULT_LISTEN, DEFAULT_MAX_FILE_METRICS, DEFAULT_TEXTFILE_INTERVAL
from logmetrics.errors import LogmetricsError
from logmetrics.exposition.collector import Registry, StoreCollector
from logmetrics.exposition.server import MetricsServer
from logmetrics.exposition.textfile import TextfileWriter
from logmetrics.grok import PatternLibrary
from logmetrics.lang.cache import COMPILED_DIR, CompileCache
from logmetrics.runtime.activity import FileActivity
from logmetrics.runtime.engine import Runtime
from logmetrics.runtime.reload import ProgramReloader
from logmetrics.runtime.routes import LogRouter, LogSpec
from logmetrics.sources.follow import Follower, SavedPositions
from logmetrics.sources.hub import NamedSource, SourceHub
from logmetrics.store import DEFAULT_MAX_LABEL_SETS, DEFAULT_MAX_LABEL_VALUE_BYTES, DEFAULT_MAX_SERIES_BYTES
from logmetrics.web.routes import StatusPages
from logmetrics.web.snapshot import StatusInputs

if TYPE_CHECKING:
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers.api import BaseObserver

log = logging.getLogger("logmetrics")

#: Positions are persisted at most this often (and at shutdown).
COMMIT_INTERVAL = 1.0
#: ``del ... after`` expiry runs this often.
EXPIRY_INTERVAL = 60.0
#: A changed program file is reloaded once it has been quiet this long: an editor or a
#: ``write_text`` truncates first and writes after, and the empty file in between compiles.
RELOAD_SETTLE = 0.2
#: ``/-/healthy`` fails once the main loop has not turned for this long (it turns at
#: least every 0.25 s when idle; a turn that reads and counts a batch takes far less).
DEFAULT_LIVENESS_TIMEOUT = 30.0


def raise_open_files_limit() -> None:
    """Raise the soft limit of open files to the hard limit, as Go programs do at start.

    Followed files and HTTP connections each take a descriptor; the usual soft
    limit of 1024 is an accident of history (select()), the hard one is what the
    system grants. Nothing here uses select() on descriptors beyond 1024.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    targets = [hard]
    if hard == resource.RLIM_INFINITY:  # the kernel caps it at fs.nr_open anyway
        try:
            targets = [int(Path("/proc/sys/fs/nr_open").read_text())]
        except (OSError, ValueError):
            targets = [1 << 20]
    for target in targets:
        if soft != resource.RLIM_INFINITY and target > soft:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            except (ValueError, OSError) as exc:
                log.warning("cannot raise the open files limit from %d to %d: %s", soft, target, exc)
                return
            log.debug("open files limit raised from %d to %d", soft, target)


@dataclass
class DaemonOptions:
    """Everything ``logmetrics run`` was told, already resolved (see ``commands/run.py``)."""

    logs: list[LogSpec]
    program_paths: list[Path]
    patterns: list[Path] = field(default_factory=list)
    state_dir: Path | None = None
    from_end: bool = True
    checkpoint: bool = True
    poll: bool = False
    listen: str = DEFAULT_LISTEN
    web_config: Path | None = None
    textfile: Path | None = None
    textfile_interval: float = DEFAULT_TEXTFILE_INTERVAL
    max_label_sets: int = DEFAULT_MAX_LABEL_SETS
    max_label_value_bytes: int = DEFAULT_MAX_LABEL_VALUE_BYTES
    max_series_bytes: int = DEFAULT_MAX_SERIES_BYTES
    prog_label: bool = False
    emit_metric_timestamp: bool = False
    keep_unmatched: int = 0  # unmatched lines kept per file for the inspector (0: none)
    liveness_timeout: float = DEFAULT_LIVENESS_TIMEOUT
    max_file_metrics: int = DEFAULT_MAX_FILE_METRICS  # files with logmetrics_log_* series of their own


def _program_handler(daemon: Daemon) -> FileSystemEventHandler:
    """watchdog's handler for the program folders: a changed ``.mtail`` file asks for a reload."""
    from watchdog.events import FileSystemEvent, FileSystemEventHandler

    class ProgramChanged(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            path = str(event.src_path)
            if path.endswith(".mtail") or str(getattr(event, "dest_path", "")).endswith(".mtail"):
                daemon.request_reload()

    return ProgramChanged()


class Daemon:
    """Follows logs, runs programs, serves metrics, until told to stop."""

    def __init__(self, options: DaemonOptions) -> None:
        self.options = options
        raise_open_files_limit()
        self.signals = SignalFlags()
        #: When the program watcher's thread last saw a change (monotonic; 0: none pending).
        self.reload_after = 0.0
        #: When the main loop last turned (monotonic); read by /-/healthy's thread.
        self.last_turn = time.monotonic()
        library = PatternLibrary.load(options.patterns)
        self.program_paths = options.program_paths
        self.runtime = Runtime([], max_label_sets=options.max_label_sets, router=LogRouter(options.logs),
                               max_value_bytes=options.max_label_value_bytes,
                               max_series_bytes=options.max_series_bytes)
        self.state_dir = options.state_dir or default_state_dir()
        # Programs unchanged since they were last compiled are taken from the state directory.
        self.reloader = ProgramReloader(self.program_paths, library, self.runtime,
                                        stamps=options.emit_metric_timestamp,
                                        cache=CompileCache(self.state_dir / COMPILED_DIR))
        errors = self.reloader.reload(force=True)
        if errors:
            raise LogmetricsError("programs do not compile:\n" + "\n".join(errors))
        self.state = StateDir(self.state_dir)  # locked for the daemon's life: one daemon per state dir
        # Values are restored unless --no-checkpoint; positions always are.
        self.checkpoint = Checkpoint(self.state_dir, values=options.checkpoint)
        restored, saved = self.checkpoint.load(self.runtime)
        if saved is not None:
            log.info("resuming from the checkpoint: %d metrics, %d files", restored, len(saved))
        # Without a checkpoint, the offset files of an older version, if any.
        # None: nothing saved at all, a first start, where --from end applies.
        legacy = self.checkpoint.legacy_positions()
        resume: SavedPositions | None = saved if saved is not None else (legacy if legacy.files() else None)
        #: When each file was last read and, with --keep-unmatched, its last unmatched lines.
        self.activity = FileActivity(options.keep_unmatched)
        self.sources = SourceHub([NamedSource(s.glob, s.source) for s in options.logs])
        self.follower = Follower(self.sources.file_globs, from_end=options.from_end, poll=options.poll,
                                 positions=resume)
        self.sources.open(wake_fd=self.follower.watcher.waker.write_fd)  # sockets bound now: errors at start
        if options.listen.lower() == "none" and options.textfile is None:
            raise LogmetricsError("--listen none needs --textfile: the metrics would go nowhere")
        self.server: MetricsServer | None = None
        if options.listen.lower() != "none":
            self.server = MetricsServer(self._registry(options.emit_metric_timestamp), options.listen,
                                        options.web_config, pages=StatusPages(StatusInputs(
                                            self.runtime, self.follower.stats, self.reloader.counts,
                                            self.activity, listen=options.listen,
                                            stream_stats=self.sources.stream_stats)),
                                        health=self.stalled)
        self.textfile: TextfileWriter | None = None
        if options.textfile is not None:
            if not options.textfile.parent.is_dir():
                raise LogmetricsError(f"--textfile {options.textfile}: no folder {options.textfile.parent} "
                                      "(node_exporter's --collector.textfile.directory)")
            self.textfile = TextfileWriter(options.textfile, self._registry(timestamps=False))
        self.program_observer: BaseObserver | None = None

    def _registry(self, timestamps: bool) -> Registry:
        """The programs' metrics and logmetrics' own, nothing else."""
        registry = Registry()
        registry.register(StoreCollector(self.runtime.store, prog_label=self.options.prog_label,
                                         timestamps=timestamps))
        registry.register(SelfCollector(self.runtime, self.follower.stats, self.reloader.counts,
                                        self.follower.glob_files, self.options.max_file_metrics))
        registry.register(StreamCollector(self.sources))
        return registry

    def stalled(self) -> str | None:
        """Why the daemon is not live (the main loop stopped turning), or None (any thread)."""
        limit = self.options.liveness_timeout
        if limit <= 0:
            return None
        idle = time.monotonic() - self.last_turn
        if idle <= limit:
            return None
        return f"the main loop has not turned for {idle:.0f} s (limit {limit:g} s)"

    def request_reload(self) -> None:
        """Reload the programs once their files have been quiet for RELOAD_SETTLE (from any thread)."""
        self.reload_after = time.monotonic() + RELOAD_SETTLE  # a plain assignment: no lock needed

    def request_stop(self) -> None:
        """Stop after the batch in hand (from any thread), as SIGTERM does."""
        self.signals.stop_signal = signal.SIGTERM
        self.follower.wake()

    def _watch_programs(self) -> None:
        # Imported here, once /metrics is served: watchdog's import is some 20 ms of the start.
        from watchdog.observers import Observer

        self.program_observer = Observer()
        folders = {p if p.is_dir() else p.parent for p in self.program_paths}
        for folder in folders:
            try:
                self.program_observer.schedule(_program_handler(self), str(folder), recursive=False)
            except OSError as exc:
                log.warning("cannot watch %s for program changes (%s); SIGHUP still reloads", folder, exc)
        self.program_observer.start()

    def _reload_if_asked(self) -> None:
        by_signal = self.signals.take_reload()
        if by_signal:
            log.info("received SIGHUP: reloading programs")
        settled = self.reload_after and time.monotonic() >= self.reload_after
        if by_signal or settled:
            self.reload_after = 0.0
            self.reloader.reload()

    def run(self) -> int:
        """The main loop, until SIGTERM/SIGINT or :meth:`request_stop`; returns the exit status."""
        self.signals.install(self.follower.watcher.waker.write_fd)
        # The first scan decides which files existed at start (read from their end); it is done
        # before /-/healthy answers, so that a file created after that is always new.
        self.follower.start()
        self.sources.start()
        # Where each file starts is saved before anything else, and on disk before /-/healthy
        # answers: a crash in the first second must not make the next start take files it
        # already read for new ones, nor lose the generations rotated while it was down.
        if self._commit() and self.checkpoint.flush():
            self.follower.unsaved = False
        if self.server is not None:
            self.server.start()
        self._watch_programs()
        last_commit = last_expiry = time.monotonic()
        last_textfile = -float("inf")
        dirty = False
        try:
            while self.signals.stop_signal is None and not self.sources.exhausted:
                self.last_turn = time.monotonic()
                batches = self.sources.batches(self.follower.poll())
                keep = self.activity.keep_unmatched > 0
                for batch in batches:
                    result = self.runtime.process(batch.lines, batch.name, track_unmatched=keep,
                                                  envelope=batch.envelope)
                    self.activity.record(batch.name, batch.lines, result.unmatched)
                    self.last_turn = time.monotonic()  # progress between batches is life too
                now = time.monotonic()
                if batches:
                    dirty = True
                due = (dirty or self.follower.unsaved) and now - last_commit >= COMMIT_INTERVAL
                if due and self._commit():
                    dirty = False
                    self.follower.unsaved = False
                    last_commit = now
                if self.textfile is not None and now - last_textfile >= self.options.textfile_interval:
                    self.textfile.request()  # written on its own thread
                    last_textfile = now
                if now - last_expiry >= EXPIRY_INTERVAL:
                    self._expire()
                    last_expiry = now
                self._reload_if_asked()
                if not batches and not self.follower.behind and self.signals.stop_signal is None:
                    self.follower.wait(0.25 if not self.reload_after
                                       else max(0.0, min(0.25, self.reload_after - time.monotonic())))
            stopped_by = self.signals.stop_signal
            log.info("%s: stopping", "end of standard input" if stopped_by is None
                     else f"received {signal.Signals(stopped_by).name}")
        finally:
            saved = self._commit(final=True)
            if self.textfile is not None:
                self.textfile.close()
            self.follower.stop()
            self.sources.stop()
            if self.program_observer is not None:
                self.program_observer.stop()
            if self.server is not None:
                self.server.stop()
            self.state.close()
            if saved:
                log.info("stopped; values and positions saved")
            else:
                log.error("stopped; the last values and positions are NOT saved (see above): "
                          "lines since the last saved checkpoint will be read again")
        return 0 if saved else 1

    def _commit(self, final: bool = False) -> bool:
        """Save values and positions of this moment (see checkpoint.py).

        Between batches, the capture is handed to the checkpoint's writer thread,
        and False means it was not taken (the writer is busy, or wrote a moment
        ago): try again at the next turn. With ``final``, the write happens now,
        and False means it failed."""
        if final:
            return self.checkpoint.close(self.runtime, self.follower.handed_out)
        return self.checkpoint.commit(self.runtime, self.follower.handed_out)

    def _expire(self) -> None:
        now = time.time()
        for metric in self.runtime.store:
            if metric.expiry:
                metric.expire(now)
