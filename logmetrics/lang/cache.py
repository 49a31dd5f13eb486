"""The compile cache: programs compiled before, taken again without compiling them.

Compiling a program (importing the compiler, parsing, checking, expanding
grok, generating code) is most of what a start costs. What the compiler makes
of a program depends only on its inputs, so its output is kept, one file per
program version, in a folder (``compiled/`` in the daemon's state directory,
or ``$XDG_CACHE_HOME/logmetrics/compiled`` for one-shot commands):

- the file is named by the key, a digest of everything the output depends on:
  the program's text, path and name, every grok definition in force (the
  pattern files' content), the compile options, logmetrics' compiler's own
  source files, and the Python version (the code is kept compiled, as
  ``marshal`` data, which only the same Python reads);
- it holds the generated code and the plain data its namespace is rebuilt from
  (``lang.namespace``): regex texts, metric declarations, pattern sites.

Any entry that cannot be used (unreadable, truncated, corrupt, of another
format, not owned by this user, writable by others) is passed over with a debug
message and the program compiled as usual; nothing here ever stops a start. A
program that does not compile is never saved. The folder keeps the
:data:`KEPT` most recently used entries; deleting it, or any file in it, is
always safe.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import marshal
import os
import sys
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING, Any

from logmetrics import __version__
from logmetrics.errors import Position
from logmetrics.lang.compiler import CompiledProgram, SitePlan, link
from logmetrics.lang.namespace import MetricPlan, NamespacePlan, RegexPlan
from logmetrics.lang.sites import CaptureInfo

if TYPE_CHECKING:
    from logmetrics.grok import PatternLibrary

log = logging.getLogger(__name__)

#: The file format; a change makes every older entry a miss.
FORMAT = b"logmetrics compiled program 1\n"
#: Entries kept in a cache folder (the oldest used are removed beyond it).
KEPT = 64
SUFFIX = ".lmc"
#: The cache's folder in a state directory.
COMPILED_DIR = "compiled"
_DIGEST = 32


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/logmetrics/compiled``, else ``~/.cache/logmetrics/compiled``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "logmetrics" / COMPILED_DIR


@functools.lru_cache(maxsize=1)
def compiler_fingerprint() -> bytes:
    """A digest of what makes the compiler's output: its own source files (the ``lang`` and
    ``grok`` packages), logmetrics' version, and the Python that runs it."""
    digest = hashlib.blake2b(FORMAT, digest_size=_DIGEST)
    digest.update(f"{__version__}\0{sys.version}\0{sys.implementation.cache_tag}\0".encode())
    for package in (Path(__file__).parent, Path(__file__).parent.parent / "grok"):
        for source in sorted(package.glob("*.py")):
            digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.digest()


class CompileCache:
    """A folder of compiled programs (see the module docstring)."""

    def __init__(self, folder: Path, kept: int = KEPT) -> None:
        self.folder = folder
        self.kept = kept

    def key(self, text: str, path: str, name: str, library: PatternLibrary, stamps: bool,
            count_sites: bool) -> str | None:
        """The key of a program's compiled form, or None when it cannot be known."""
        try:
            compiler = compiler_fingerprint()
        except OSError as exc:  # the installed package unreadable: compile every time
            log.debug("compile cache off: %s", exc)
            return None
        digest = hashlib.blake2b(compiler, digest_size=_DIGEST)
        digest.update(library.fingerprint())
        for part in (path, name, f"{stamps:d}{count_sites:d}", text):
            digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
        return digest.hexdigest()

    def _file(self, key: str) -> Path:
        return self.folder / (key + SUFFIX)

    def load(self, key: str) -> CompiledProgram | None:
        """The program saved under ``key``, or None (a miss, or an entry that cannot be used)."""
        path = self._file(key)
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                if st.st_uid != os.geteuid() or st.st_mode & 0o022:
                    # Its code would run in this process: only this user's own files are trusted.
                    log.debug("compile cache: %s is not this user's own file, or others may write it", path)
                    return None
                data = f.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.debug("compile cache: cannot read %s: %s", path, exc)
            return None
        try:
            program = _decode(data, key)
        except Exception as exc:  # whatever is wrong with an entry, the program is compiled instead
            log.debug("compile cache: %s is unusable (%s: %s)", path, type(exc).__name__, exc)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: kept longest
        return program

    def save(self, key: str, program: CompiledProgram) -> None:
        """Keep ``program`` under ``key``; failing to (a read-only or full disk) only costs time."""
        try:
            data = _encode(program, key)
        except ValueError as exc:  # something marshal cannot write: not cached
            log.debug("compile cache: cannot save %s: %s", program.name, exc)
            return
        # Imported only when saving: a start that takes every program from the cache writes nothing.
        from logmetrics.atomicfile import write_atomic

        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Not fsynced: an entry a crash tore is caught by its digest, and only costs a compile.
            write_atomic(self._file(key), data, mode=0o600, durable=False)
        except OSError as exc:
            log.debug("compile cache: cannot save %s in %s: %s", program.name, self.folder, exc)
            return
        self._prune()

    def _prune(self) -> None:
        """Remove the least recently used entries beyond :attr:`kept` (and any leftover temp files)."""
        try:
            entries = []
            for entry in os.scandir(self.folder):
                try:
                    entries.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.path))
                except OSError:
                    continue
        except OSError:
            return
        entries.sort(reverse=True)
        for _mtime, stale in entries[self.kept:]:
            with contextlib.suppress(OSError):
                os.unlink(stale)


def _encode(program: CompiledProgram, key: str) -> bytes:
    plan = program.plan
    payload = (
        key,
        program.name,
        program.code,
        program.source,
        [tuple(m) for m in plan.metrics],
        [tuple(r) for r in plan.regexes],
        list(plan.time_checks.items()),
        list(plan.time_caches),
        [(p.file, p.line, p.col) for p in program.guarded],
        [(s.number, s.pos.file, s.pos.line, s.pos.col, s.text,
          [(name, c.groups, c.type, c.optional) for name, c in s.captures.items()], s.on_line, s.counted)
         for s in program.site_plans],
    )
    body = marshal.dumps(payload)
    return FORMAT + hashlib.blake2b(body, digest_size=_DIGEST).digest() + body


def _decode(data: bytes, key: str) -> CompiledProgram:
    """The program of an entry; raises ValueError (or another error) if it cannot be used."""
    if not data.startswith(FORMAT):
        raise ValueError("another format")
    start = len(FORMAT) + _DIGEST
    body = data[start:]
    if hashlib.blake2b(body, digest_size=_DIGEST).digest() != data[len(FORMAT):start]:
        raise ValueError("its digest does not match its content")
    payload: Any = marshal.loads(body)
    saved_key, name, code, source, metrics, regexes, checks, caches, guarded, sites = payload
    if saved_key != key:
        raise ValueError("saved under another key")
    if not isinstance(code, CodeType):
        raise ValueError("no code in it")
    plan = NamespacePlan(
        metrics=[MetricPlan(*fields) for fields in metrics],
        regexes=[RegexPlan(*fields) for fields in regexes],
        time_checks=dict(checks),
        time_caches=list(caches),
    )
    site_plans = [SitePlan(number, Position(file, line, col), text,
                           {cap: CaptureInfo(tuple(groups), kind, optional)
                            for cap, groups, kind, optional in captures},
                           on_line, counted)
                  for number, file, line, col, text, captures, on_line, counted in sites]
    return link(name, code, source, plan, [Position(*where) for where in guarded], site_plans)
