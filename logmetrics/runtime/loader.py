"""Finding program files (bundled ones by name, see ``resources``) and compiling them all,
with every error reported. The compiler is imported when programs are loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from logmetrics.errors import CompileError, CompileErrors, LogmetricsError, Position
from logmetrics.resources import PROGRAM_SUFFIX, bundled_program, bundled_program_names

if TYPE_CHECKING:
    from logmetrics.grok import PatternLibrary
    from logmetrics.lang.cache import CompileCache
    from logmetrics.runtime.program import Program


def resolve_program_path(path: Path) -> Path:
    """``path`` itself when it exists, else the bundled program of that name, else ``path``."""
    if path.exists():
        return path
    return bundled_program(str(path)) or path


def program_name(name: str) -> str:
    """A program's name as the runtime knows it: its file name, ``.mtail`` included."""
    return name if name.endswith(PROGRAM_SUFFIX) else name + PROGRAM_SUFFIX


def find_program_files(paths: Sequence[Path]) -> list[Path]:
    """Program files named by ``paths``: files as given, folders' ``*.mtail`` sorted, and a
    bare name such as ``nginx_access`` for a bundled program."""
    found: list[Path] = []
    for path in map(resolve_program_path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.glob(f"*{PROGRAM_SUFFIX}") if p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            raise LogmetricsError(f"{path}: no such program file or folder, nor a bundled program "
                                  f"(bundled: {', '.join(bundled_program_names())})")
    return found


def load_programs(paths: Sequence[Path], library: PatternLibrary, stamps: bool = False,
                  cache: CompileCache | None = None) -> list[Program]:
    """Compile every program (taking those compiled before from ``cache``); raises CompileErrors
    with all errors of all files."""
    from logmetrics.runtime.program import Program

    programs: list[Program] = []
    errors: list[CompileError] = []
    names: dict[str, Path] = {}
    for path in find_program_files(paths):
        if path.name in names:
            errors.append(CompileError(Position(str(path), 1, 1),
                          f"another program has the same name: {names[path.name]}"))
            continue
        names[path.name] = path
        try:
            programs.append(Program.load(path, library, stamps, cache))
        except CompileErrors as exc:
            errors.extend(exc.errors)
        except CompileError as exc:
            errors.append(exc)
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(CompileError(Position(str(path), 1, 1), f"cannot read: {exc}"))
    if errors:
        raise CompileErrors(errors)
    return programs
