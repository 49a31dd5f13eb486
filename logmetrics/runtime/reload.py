"""Keeping the running programs in step with their files.

``ProgramReloader.reload()`` compiles every program file that changed since
the last call (or all, with ``force``), swaps the new version in, and keeps
the old one running when the new one does not compile. A program whose file
was deleted is unloaded. The daemon calls it when watchdog reports a change
in a program folder and on SIGHUP.

An empty file never replaces a running program: it is what an editor leaves
between truncating a file and writing it, and it would compile into a program
that counts nothing. Deleting the file unloads the program.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from logmetrics.errors import CompileError, CompileErrors, LogmetricsError
from logmetrics.runtime.engine import Runtime
from logmetrics.runtime.loader import find_program_files
from logmetrics.runtime.program import Program

if TYPE_CHECKING:
    from logmetrics.grok import PatternLibrary
    from logmetrics.lang.cache import CompileCache

log = logging.getLogger(__name__)


@dataclass
class LoadCounts:
    """Loads per program name, for self-metrics."""

    ok: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    last_error: dict[str, str] = field(default_factory=dict)


class ProgramReloader:
    """Loads program files into a runtime and reloads the ones that change."""

    def __init__(self, paths: Sequence[Path], library: PatternLibrary, runtime: Runtime,
                 stamps: bool = False, cache: CompileCache | None = None) -> None:
        self.paths = list(paths)
        self.stamps = stamps
        self.cache = cache
        self.library = library
        self.runtime = runtime
        self.counts = LoadCounts()
        self._stamps: dict[Path, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def reload(self, force: bool = False) -> list[str]:
        """Reload what changed; returns the error messages of programs that failed."""
        with self._lock:
            try:
                files = find_program_files(self.paths)
            except LogmetricsError as exc:
                log.error("%s", exc)
                return [str(exc)]
            messages: list[str] = []
            seen = set()
            for path in files:
                seen.add(path)
                try:
                    st = path.stat()
                except OSError as exc:
                    messages.append(f"{path}: {exc}")
                    continue
                stamp = (st.st_mtime_ns, st.st_size)
                if not force and self._stamps.get(path) == stamp:
                    continue
                self._stamps[path] = stamp
                if st.st_size == 0 and self.runtime.has(path.name):
                    log.warning("%s is empty: the running version keeps running (delete the file to "
                                "unload the program)", path)
                    continue
                error = self._load(path)
                if error:
                    messages.append(error)
            for gone in set(self._stamps) - seen:
                del self._stamps[gone]
                self.runtime.remove(gone.name)
                log.info("unloaded %s: its file is gone", gone)
            return messages

    def _load(self, path: Path) -> str | None:
        name = path.name
        try:
            program = Program.load(path, self.library, self.stamps, self.cache)
        except (CompileErrors, CompileError, OSError, UnicodeDecodeError) as exc:
            text = str(exc)
            self.counts.failed[name] = self.counts.failed.get(name, 0) + 1
            self.counts.last_error[name] = text
            kept = " (the previous version keeps running)" if self.runtime.has(name) else ""
            log.error("cannot load %s%s:\n%s", path, kept, text)
            return text
        self.runtime.add(program)
        self.counts.ok[name] = self.counts.ok.get(name, 0) + 1
        self.counts.last_error.pop(name, None)
        log.info("loaded %s (%d metrics)", path, len(program.metrics))
        return None
