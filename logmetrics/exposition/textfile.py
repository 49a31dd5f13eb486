"""node_exporter's textfile collector output: the metrics written to a file, atomically.

node_exporter (``--collector.textfile.directory``) reads every ``*.prom`` file of
a folder at each scrape. The file is written beside itself under a hidden
temporary name, flushed to disk and renamed over the old one, so that a scrape
never sees half a file. node_exporter rejects client-side timestamps, so none
are written; its own ``process_*`` and ``python_*`` families are not ours to
write either (only the programs' metrics and ``logmetrics_*`` are).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

log = logging.getLogger(__name__)


class TextfileWriter:
    """Writes a registry to ``path`` in the Prometheus text format, replacing it atomically."""

    def __init__(self, path: Path, registry: CollectorRegistry) -> None:
        if path.suffix != ".prom":
            log.warning("%s: node_exporter's textfile collector reads only files ending in .prom", path)
        self.path = path
        self.registry = registry
        self._failing = False

    def write(self) -> bool:
        """Write the file now; False (and an error logged once per failure spell) if it failed."""
        folder = self.path.parent
        try:
            data = generate_latest(self.registry)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{self.path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, 0o644)  # node_exporter usually runs as another user
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            if not self._failing:
                log.error("cannot write the textfile %s: %s; will retry", self.path, exc.strerror or exc)
            self._failing = True
            return False
        if self._failing:
            log.info("the textfile %s is written again", self.path)
        self._failing = False
        return True

