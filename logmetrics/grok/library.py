"""Grok pattern libraries: Logstash-format pattern files, loaded in layers.

A pattern file holds one ``NAME regex`` per line: the first run of
whitespace separates the name (letters, digits, ``_``) from the regex, in
the Oniguruma dialect; ``#`` starts a comment line; blank lines are skipped.
Layers load in this order, a later definition of a name replacing an earlier:

1. the stock Logstash patterns shipped inside the ``pygrok`` package. Only
   its pattern files are used: pygrok as a matcher re-reads every file for
   each pattern, substitutes text with no cycle check, leaves ECS names
   literal (never matching) and makes unnamed references capture (see
   research/deps.md section 2); expand.py is our compiler.
2. the project's ``patterns/`` (shipped as package ``logmetrics.patterns``),
3. each user pattern file or folder given, in order (``--patterns``). A
   folder is *flat* (pattern files right in it), or in logstash-patterns-core's
   layout with ``legacy/`` and/or ``ecs-v1/`` subfolders: then ``legacy/`` is
   loaded. Give ``DIR/ecs-v1`` itself to get ECS field names
   (``[source][address]``); a folder with only ``ecs-v1/`` loads that. A
   single pattern file (as grok_exporter users often have) is read as it is.

Layers 1 and 2 never change while the process runs: they are read and parsed
once per process (about 3 ms; pygrok spends ~34 ms re-reading them for each
pattern), and every library shares them until a name is overridden.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logmetrics.errors import CompileError, LogmetricsError, Position
from logmetrics.resources import bundled_dir

_NAME = re.compile(r"[A-Za-z0-9_]+")


@dataclass(frozen=True, slots=True)
class PatternDef:
    """One named pattern (its regex in the Oniguruma dialect) and where it was defined."""

    name: str
    body: str
    file: str
    line: int
    col: int = 1  # where the body starts, for positions inside it

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def parse_pattern_text(text: str, file: str) -> list[PatternDef]:
    """The definitions of one pattern file; a malformed line raises CompileError at file:line:col."""
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        col = len(raw) - len(stripped) + 1
        parts = stripped.split(None, 1)
        name = parts[0]
        bad = next((i for i, c in enumerate(name) if not _NAME.fullmatch(c)), None)
        if bad is not None:
            raise CompileError(Position(file, number, col + bad),
                               f"bad pattern name {name!r}: character {name[bad]!r} is not a "
                               "letter, digit or '_'")
        body = parts[1].strip() if len(parts) > 1 else ""
        if not body:
            raise CompileError(Position(file, number, col + len(name)),
                               f"pattern {name} has no regex after its name")
        found.append(PatternDef(name, body, file, number, raw.index(body) + 1))
    return found


def _pattern_files(folder: Path) -> list[Path]:
    """Every file of a folder, sorted (Logstash's order), hidden and backup files skipped."""
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith((".", "_")) and not p.name.endswith("~"))


def _read(path: Path, label: str) -> list[PatternDef]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LogmetricsError(f"{label}: cannot read pattern file: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # some old pattern files are Latin-1 (MONTH's "ä")
    return parse_pattern_text(text, label)


def stock_patterns_dir() -> Path | None:
    """The Logstash pattern files shipped inside the pygrok package, if installed.

    Found with importlib's spec, without importing pygrok (it would import regex).
    """
    spec = importlib.util.find_spec("pygrok")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "patterns"
        if folder.is_dir():
            return folder
    return None


def _project_pattern_files() -> list[tuple[Path, str]]:
    """The project's pattern files (``patterns/``, inside the installed package or beside it)."""
    root = bundled_dir("patterns")
    if not root.is_dir():
        return []
    files = [f for f in root.iterdir()
             if f.is_file() and not f.name.startswith((".", "_")) and not f.name.endswith((".py", ".pyc"))]
    return [(f, str(f)) for f in sorted(files, key=lambda f: f.name)]


@functools.lru_cache(maxsize=1)
def _base_layers() -> dict[str, PatternDef]:
    """Stock and project patterns, read once per process."""
    found: dict[str, PatternDef] = {}
    stock = stock_patterns_dir()
    sources = [(p, str(p)) for p in _pattern_files(stock)] if stock else []
    for source, label in [*sources, *_project_pattern_files()]:
        for definition in _read(source, label):
            found[definition.name] = definition
    return found


@functools.lru_cache(maxsize=1)
def _base_fingerprint() -> bytes:
    return _digest(_base_layers().values())


def _digest(definitions: Iterable[PatternDef]) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    for d in definitions:
        digest.update(f"{d.name}\0{d.body}\0{d.file}\0{d.line}\0{d.col}\n".encode("utf-8", "surrogatepass"))
    return digest.digest()


def user_pattern_files(path: Path) -> list[Path]:
    """The files to read for a user's ``--patterns PATH``: a pattern file itself, or a folder's."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise LogmetricsError(f"{path}: no such pattern file or folder")
    return _pattern_files(user_pattern_folder(path))


def user_pattern_folder(folder: Path) -> Path:
    """The folder to read for a user's pattern folder (see the module docstring)."""
    if (folder / "legacy").is_dir():
        return folder / "legacy"
    if (folder / "ecs-v1").is_dir() and not _pattern_files(folder):
        return folder / "ecs-v1"  # only ECS there: nothing else to pick
    return folder


class PatternLibrary(Mapping[str, PatternDef]):
    """Named grok patterns; a later definition of a name replaces the earlier one.

    Read-only as a mapping (name -> :class:`PatternDef`); add with
    :meth:`add`, :meth:`add_text`, :meth:`add_dict` and :meth:`add_path`.
    Expanded bodies are cached here by expand.py, and dropped on any change.
    """

    def __init__(self, patterns: Iterable[PatternDef] = ()) -> None:
        self._base: Mapping[str, PatternDef] = {}
        self._own: dict[str, PatternDef] = {p.name: p for p in patterns}
        self.cache: dict[str, Any] = {}  # owned by expand.py
        self._fingerprint: bytes | None = None

    @classmethod
    def load(cls, user_paths: Sequence[Path] = ()) -> PatternLibrary:
        """Stock patterns, then the project's, then each user pattern file or folder in order."""
        library = cls()
        library._base = _base_layers()  # shared, never changed: overrides go to _own
        for path in user_paths:
            library.add_path(Path(path))
        return library

    def with_paths(self, paths: Sequence[Path]) -> PatternLibrary:
        """A new library: this one's definitions, then those of ``paths`` (files or folders)."""
        library = PatternLibrary(self._own.values())
        library._base = self._base
        for path in paths:
            library.add_path(Path(path))
        return library

    def add_path(self, path: Path) -> None:
        """Load a user's pattern file, or every pattern file of a folder (flat, legacy/ or ecs-v1/)."""
        for file in user_pattern_files(path):
            self._define(_read(file, str(file)))

    def add_text(self, text: str, file: str = "<patterns>") -> None:
        """Add the definitions of pattern-file text; errors name ``file``."""
        self._define(parse_pattern_text(text, file))

    def add_dict(self, patterns: Mapping[str, str], file: str = "<patterns>") -> None:
        """Add ``{name: regex}`` definitions (for programs and tests)."""
        for name, body in patterns.items():
            self.add(name, body, file)

    def add(self, name: str, body: str, file: str = "<program>", line: int = 0) -> None:
        """Define or replace one pattern."""
        if not _NAME.fullmatch(name):
            raise CompileError(Position(file, line, 1), f"bad pattern name {name!r}: use letters, "
                               "digits and '_'")
        self._define([PatternDef(name, body, file, line)])

    def _define(self, definitions: Iterable[PatternDef]) -> None:
        for definition in definitions:
            self._own[definition.name] = definition
        self.cache.clear()
        self._fingerprint = None

    def fingerprint(self) -> bytes:
        """A digest of every definition in force (name, regex, where it was defined): two
        libraries with the same fingerprint expand every pattern alike."""
        if self._fingerprint is None:
            shared = bool(self._base) and self._base is _base_layers()
            base = _base_fingerprint() if shared else _digest(self._base.values())
            self._fingerprint = base + _digest(self._own.values())
        return self._fingerprint

    def __getitem__(self, name: str) -> PatternDef:
        found = self._own.get(name)
        return found if found is not None else self._base[name]

    def __contains__(self, name: object) -> bool:
        return name in self._own or name in self._base

    def __iter__(self) -> Iterator[str]:
        yield from self._own
        yield from (name for name in self._base if name not in self._own)

    def __len__(self) -> int:
        return len(self._own) + sum(1 for name in self._base if name not in self._own)

    @property
    def patterns(self) -> dict[str, PatternDef]:
        """Every definition in force, by name (a copy)."""
        return {name: self[name] for name in self}
