"""Expanding grok references in a user's regex into one Python regex.

``%{NAME}`` inserts the pattern NAME as a non-capturing group;
``%{NAME:capture}`` also captures it; ``%{NAME:capture:int}`` and
``%{NAME:capture:float}`` type the capture. Captures named inside pattern
definitions (``%{IPORHOST:clientip}`` in HTTPD_COMMONLOG, raw ``(?<n>...)``
groups) are captures of the whole regex too, as in Logstash.

Capture names become program variables with
:func:`logmetrics.grok.translate.make_identifier` (``[source][address]`` ->
``source_address``). A name captured more than once (alternations such as
HTTPD_ERRORLOG) gets one Python group per occurrence: ``name``, ``name__2``,
...; the program reads the first that took part in the match.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

from logmetrics.grok.library import PatternLibrary
from logmetrics.grok.translate import Dialect, RegexSyntaxError, make_identifier, translate

CaptureType = Literal["int", "float"]
TYPES = ("int", "float")


class GrokError(RegexSyntaxError):
    """A grok reference that cannot be expanded; ``offset`` points into the user's text."""


@dataclass(frozen=True, slots=True)
class Capture:
    """A variable of the expanded regex: its Python groups and its type, if given."""

    groups: tuple[str, ...]
    type: CaptureType | None = None
    grok_name: str | None = None  # the name as written, e.g. "[source][address]"


@dataclass
class Expansion:
    """The Python regex and its captures by variable name."""

    regex: str
    captures: dict[str, Capture] = field(default_factory=dict)


def expand(text: str, library: PatternLibrary, dialect: Dialect = "re2") -> Expansion:
    """Expand every ``%{...}`` of ``text`` and translate it to Python syntax.

    >>> lib = PatternLibrary.load()
    >>> e = expand("%{INT:n:int} %{WORD}", lib)
    >>> e.captures["n"].type
    'int'
    """
    return _Expander(library).run(text, dialect)


class _Expander:
    def __init__(self, library: PatternLibrary) -> None:
        self.library = library
        self.used: set[str] = set()
        self.groups: dict[str, list[str]] = {}
        self.types: dict[str, CaptureType] = {}
        self.names: dict[str, str] = {}
        self.stack: list[str] = []
        self.top_offset = 0

    def run(self, text: str, dialect: Dialect) -> Expansion:
        regex = translate(text, dialect, on_grok=self.top_reference, on_group=self.named_group)
        captures = {
            var: Capture(tuple(groups), self.types.get(var), self.names.get(var))
            for var, groups in self.groups.items()
        }
        return Expansion(regex, captures)

    def named_group(self, name: str, _offset: int) -> str:
        var = make_identifier(name)
        group = var
        n = 1
        while group in self.used:
            n += 1
            group = f"{var}__{n}"
        self.used.add(group)
        self.groups.setdefault(var, []).append(group)
        self.names.setdefault(var, name)
        return group

    def top_reference(self, ref: str, offset: int) -> str:
        self.top_offset = offset
        return self.reference(ref)

    def reference(self, ref: str, _offset: int = 0) -> str:
        parts = ref.split(":")
        name = parts[0]
        if len(parts) > 3 or not name:
            raise GrokError(f"bad grok reference %{{{ref}}}: expected %{{NAME}}, %{{NAME:capture}} "
                            "or %{NAME:capture:int|float}", self.top_offset)
        capture = parts[1] if len(parts) > 1 else None
        kind = parts[2] if len(parts) > 2 else None
        if kind is not None and kind not in TYPES:
            raise GrokError(f"bad type {kind!r} in %{{{ref}}}: grok types are int and float",
                            self.top_offset)
        if capture == "":
            raise GrokError(f"empty capture name in %{{{ref}}}", self.top_offset)
        definition = self.library.get(name)
        if definition is None:
            close = difflib.get_close_matches(name, list(self.library.patterns), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise GrokError(f"unknown pattern {name}{hint}", self.top_offset)
        if name in self.stack:
            chain = " -> ".join([*self.stack[self.stack.index(name):], name])
            raise GrokError(f"pattern {name} refers to itself: {chain}", self.top_offset)
        self.stack.append(name)
        try:
            body = translate(definition.body, "oniguruma", on_grok=self.reference,
                             on_group=self.named_group)
        except GrokError:
            raise
        except RegexSyntaxError as exc:
            raise GrokError(f"in pattern {name} ({definition.where}): {exc.message}",
                            self.top_offset) from None
        finally:
            self.stack.pop()
        if capture is None:
            return f"(?:{body})"
        group = self.named_group(capture, self.top_offset)
        if kind is not None:
            self.types[make_identifier(capture)] = kind  # type: ignore[assignment]
        return f"(?P<{group}>{body})"
