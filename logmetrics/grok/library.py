"""Grok pattern files: Logstash's format, loaded in layers.

A pattern file holds one ``NAME regex`` per line (``#`` starts a comment).
Layers are loaded in order, later names overriding earlier ones:

1. the stock Logstash patterns shipped with the pygrok package (only its
   pattern files are used: pygrok's matcher re-reads every file per pattern,
   does plain textual substitution with no cycle check, and cannot handle
   ECS names; see the grok package for our compiler),
2. the project's own ``patterns/`` (``logmetrics.patterns``),
3. each folder the user names, flat or in logstash-patterns-core's layout
   (``legacy/`` and ``ecs-v1/`` inside: ``legacy/`` is loaded; name the
   ``ecs-v1`` folder itself to get ECS field names).
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from logmetrics.errors import CompileError, LogmetricsError, Position
from logmetrics.resources import bundled_dir

_NAME = re.compile(r"[A-Za-z0-9_]+\Z")


@dataclass(frozen=True, slots=True)
class PatternDef:
    """One named pattern and where it was defined."""

    name: str
    body: str
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def parse_pattern_text(text: str, file: str) -> list[PatternDef]:
    """The patterns of one file; a malformed line is a CompileError at file:line:col."""
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        col = raw.index(line[0]) + 1
        if not _NAME.match(parts[0]):
            raise CompileError(Position(file, number, col),
                               f"bad pattern name {parts[0]!r}: use letters, digits and '_'")
        if len(parts) < 2:
            raise CompileError(Position(file, number, col + len(parts[0])),
                               f"pattern {parts[0]} has no regex after its name")
        found.append(PatternDef(parts[0], parts[1], file, number))
    return found


def _pattern_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "_")))


def _read(path: Path) -> list[PatternDef]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        text = path.read_text(encoding="latin-1")  # older pattern files are not all UTF-8
    except OSError as exc:
        raise LogmetricsError(f"{path}: cannot read pattern file: {exc.strerror}") from None
    return parse_pattern_text(text, str(path))


def stock_patterns_dir() -> Path | None:
    """The Logstash pattern files shipped with pygrok, if it is installed."""
    spec = importlib.util.find_spec("pygrok")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "patterns"
    return folder if folder.is_dir() else None


def user_pattern_folder(folder: Path) -> Path:
    """The folder to load for a user's ``--patterns DIR`` (see the module docstring)."""
    if not folder.is_dir():
        raise LogmetricsError(f"{folder}: no such pattern folder")
    if (folder / "legacy").is_dir() and not _pattern_files(folder):
        return folder / "legacy"
    return folder


@functools.lru_cache(maxsize=1)
def _base_layers() -> tuple[PatternDef, ...]:
    """Stock and project patterns, read once per process."""
    found: list[PatternDef] = []
    for folder in (stock_patterns_dir(), bundled_dir("patterns")):
        if folder is not None and folder.is_dir():
            for path in _pattern_files(folder):
                found.extend(_read(path))
    return tuple(found)


class PatternLibrary:
    """Named grok patterns; later definitions of a name replace earlier ones."""

    def __init__(self, patterns: Iterable[PatternDef] = ()) -> None:
        self.patterns: dict[str, PatternDef] = {}
        for pattern in patterns:
            self.patterns[pattern.name] = pattern

    @classmethod
    def load(cls, user_dirs: Sequence[Path] = ()) -> PatternLibrary:
        """Stock patterns, then the project's, then each user folder in order."""
        library = cls(_base_layers())
        for folder in user_dirs:
            library.add_folder(Path(folder))
        return library

    def add_folder(self, folder: Path) -> None:
        for path in _pattern_files(user_pattern_folder(folder)):
            for pattern in _read(path):
                self.patterns[pattern.name] = pattern

    def add(self, name: str, body: str, file: str = "<program>", line: int = 0) -> None:
        """Define or replace one pattern."""
        self.patterns[name] = PatternDef(name, body, file, line)

    def get(self, name: str) -> PatternDef | None:
        return self.patterns.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self.patterns

    def __len__(self) -> int:
        return len(self.patterns)
