"""Pattern sites: each regex or grok condition of a program, where it is, and what it captures.

The match inspector shows how many lines each site matched (the generated
code counts them, see codegen), and the per-line trace searches a matched
site's regex again to show its captures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from logmetrics.errors import Position


@dataclass(frozen=True, slots=True)
class CaptureInfo:
    """How to read one ``$capture`` from a match object."""

    groups: tuple[int, ...]  # group numbers; the first that participated wins
    type: str  # "int", "float" or "string"
    optional: bool  # True if a successful match may leave it unset


@dataclass(frozen=True)
class MatchSite:
    """One pattern that decides whether a block runs."""

    number: int  # the regex's number in the generated code; its index in the program's hit counts
    pos: Position
    text: str  # the program's source line, stripped, for display
    searcher: Any  # the regex's search, under the runaway-regex time budget when it needs one
    captures: dict[str, CaptureInfo]
    on_line: bool  # searched in the line itself (not the subject of an =~)
    counted: bool = True  # the generated code counts its matches

    @property
    def where(self) -> str:
        """``file:line``."""
        return f"{self.pos.file}:{self.pos.line}"

    def search(self, text: str) -> Any:
        """The regex's match in ``text``, or None; TimeoutError past the time budget."""
        return self.searcher(text)
