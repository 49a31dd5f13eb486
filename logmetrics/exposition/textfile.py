"""node_exporter's textfile collector output: the metrics written to a file, atomically.

node_exporter (``--collector.textfile.directory``) reads every ``*.prom`` file of
a folder at each scrape. The file is replaced atomically
(:mod:`logmetrics.atomicfile`), so that a scrape never sees half a file.
node_exporter rejects client-side timestamps, so none are written; its own
``process_*`` and ``python_*`` families are not ours to write either (only the
programs' metrics and ``logmetrics_*`` are).
"""

from __future__ import annotations

import logging
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from logmetrics.atomicfile import write_atomic

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
        try:
            write_atomic(self.path, generate_latest(self.registry))
        except OSError as exc:
            if not self._failing:
                log.error("cannot write the textfile %s: %s; will retry", self.path, exc.strerror or exc)
            self._failing = True
            return False
        if self._failing:
            log.info("the textfile %s is written again", self.path)
        self._failing = False
        return True

