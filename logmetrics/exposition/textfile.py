"""node_exporter's textfile collector output: the metrics written to a file, atomically.

node_exporter (``--collector.textfile.directory``) reads every ``*.prom`` file of
a folder at each scrape. The file is replaced atomically
(:mod:`logmetrics.atomicfile`), so that a scrape never sees half a file.
node_exporter rejects client-side timestamps, so none are written; its own
``process_*`` and ``python_*`` families are not ours to write either (only the
programs' metrics and ``logmetrics_*`` are).

The file is rendered and written on a thread of its own (rendering 100,000
series takes a fair part of a second, which the main loop must not wait for);
the daemon asks for a write every interval, and writes once more at stop.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from logmetrics.atomicfile import write_atomic
from logmetrics.exposition.collector import Registry
from logmetrics.exposition.render import write_registry

log = logging.getLogger(__name__)


class TextfileWriter:
    """Writes a registry to ``path`` in the Prometheus text format, replacing it atomically."""

    def __init__(self, path: Path, registry: Registry) -> None:
        if path.suffix != ".prom":
            log.warning("%s: node_exporter's textfile collector reads only files ending in .prom", path)
        self.path = path
        self.registry = registry
        self._failing = False
        self._lock = threading.Lock()  # one write at a time: the thread's, or the last one at stop
        self._wanted = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        """Have the file written on the writer's thread, soon (from the main loop; never blocks).
        Asked again while a write is under way, it writes once more after it."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="textfile", daemon=True)
            self._thread.start()
        self._wanted.set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            if self._stopping:
                return
            self._wanted.clear()
            self.write()

    def close(self, timeout: float = 30.0) -> bool:
        """Stop the writer's thread and write the file once more, now; False if that write failed."""
        self._stopping = True
        self._wanted.set()
        if self._thread is not None:
            self._thread.join(timeout)
        return self.write()

    def write(self) -> bool:
        """Write the file now; False (and an error logged once per failure spell) if it failed."""
        with self._lock:
            try:
                write_atomic(self.path, write_registry(self.registry))
            except OSError as exc:
                if not self._failing:
                    log.error("cannot write the textfile %s: %s; will retry", self.path, exc.strerror or exc)
                self._failing = True
                return False
            if self._failing:
                log.info("the textfile %s is written again", self.path)
            self._failing = False
            return True
