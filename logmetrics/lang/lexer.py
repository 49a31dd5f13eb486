"""The lexer: program text to tokens, each with its position.

The mtail language is line-oriented in one way only: a newline ends an
expression statement, so the lexer emits NL tokens and the parser skips them
where a statement cannot end (after a binary operator, inside brackets).

A ``/`` is ambiguous: division or the start of a regex literal. The parser
knows which one it expects, so it asks for a regex with :meth:`Lexer.regex`
right after it has seen a ``/`` token in operand position.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from logmetrics.errors import CompileError, Position


class Kind(enum.Enum):
    """Token kinds."""

    EOF = "end of file"
    NL = "newline"
    ID = "identifier"
    KEYWORD = "keyword"
    BUILTIN = "builtin"
    CAPREF = "capture reference"
    INT = "integer"
    FLOAT = "float"
    STRING = "string"
    DURATION = "duration"
    REGEX = "regex"
    OP = "operator"
    DECO = "decorator"


KEYWORDS = frozenset(
    {
        "counter", "gauge", "histogram", "timer", "text",
        "as", "by", "const", "hidden", "def", "next", "else", "otherwise",
        "del", "after", "limit", "buckets", "stop",
    }
)

BUILTINS = frozenset(
    {
        "len", "strptime", "timestamp", "tolower", "settime", "getfilename",
        "syslog_tag", "syslog_hostname", "syslog_time", "pod_namespace", "pod_name", "container_name",
        "subst", "int", "float", "string", "strtol", "bool",
    }
)

# Longest first, so that "<<" wins over "<".
OPERATORS = (
    "**", "++", "--", "+=", "-=", "==", "!=", "<=", ">=", "=~", "!~", "&&", "||", "<<", ">>",
    "+", "-", "*", "/", "%", "<", ">", "=", "!", "&", "|", "^", "(", ")", "{", "}", "[", "]", ",",
)

_DURATION_UNITS = ("ns", "us", "µs", "ms", "s", "m", "h")

# Names and numbers are ASCII, as in mtail (str.isalnum() would take "²" or "é").
_DIGITS = frozenset("0123456789")
_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME = _NAME_START | _DIGITS


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its text (decoded for strings and regexes) and where it starts."""

    kind: Kind
    text: str
    pos: Position
    end: int  # offset just past the token in the source


class Lexer:
    """Produces tokens from program text on demand."""

    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self.offset = 0
        self.line = 1
        self.line_start = 0

    def position(self, offset: int | None = None) -> Position:
        """The position of ``offset`` (default: the current offset)."""
        if offset is None:
            offset = self.offset
        line = self.text.count("\n", 0, offset) + 1
        line_start = self.text.rfind("\n", 0, offset) + 1
        return Position(self.filename, line, offset - line_start + 1)

    def error(self, offset: int, message: str) -> CompileError:
        return CompileError(self.position(offset), message)

    def next(self) -> Token:
        """Scan the next token."""
        text = self.text
        n = len(text)
        i = self.offset
        # Skip blanks and comments; a newline is a token.
        while i < n:
            c = text[i]
            if c in " \t\r":
                i += 1
            elif c == "#":
                while i < n and text[i] != "\n":
                    i += 1
            elif c == "\\" and i + 1 < n and text[i + 1] == "\n":
                i += 2  # explicit line continuation
            else:
                break
        self.offset = i
        if i >= n:
            return Token(Kind.EOF, "", self.position(i), i)
        c = text[i]
        start = i
        if c == "\n":
            self.offset = i + 1
            return Token(Kind.NL, "\n", self.position(start), i + 1)
        if c in _NAME_START:
            while i < n and text[i] in _NAME:
                i += 1
            word = text[start:i]
            kind = Kind.KEYWORD if word in KEYWORDS else Kind.BUILTIN if word in BUILTINS else Kind.ID
            if kind is Kind.BUILTIN and not self._followed_by_paren(i):
                kind = Kind.ID  # a builtin's name used as a plain name, e.g. a label called "len"
            self.offset = i
            return Token(kind, word, self.position(start), i)
        if c == "$":
            return self._sigil_name(start, Kind.CAPREF, "a capture name or number")
        if c == "@":
            return self._sigil_name(start, Kind.DECO, "a decorator name")
        if c in _DIGITS or (c == "." and i + 1 < n and text[i + 1] in _DIGITS):
            return self._number(start)
        if c == '"':
            return self._string(start)
        for op in OPERATORS:
            if text.startswith(op, i):
                self.offset = i + len(op)
                return Token(Kind.OP, op, self.position(start), self.offset)
        raise self.error(start, f"unexpected character {c!r}")

    def _followed_by_paren(self, i: int) -> bool:
        while i < len(self.text) and self.text[i] in " \t":
            i += 1
        return i < len(self.text) and self.text[i] == "("

    def _sigil_name(self, start: int, kind: Kind, what: str) -> Token:
        """``$name`` or ``@name``: the name after the sigil at ``start``."""
        text, i = self.text, start + 1
        while i < len(text) and text[i] in _NAME:
            i += 1
        if i == start + 1:
            raise self.error(start, f"expected {what} after {text[start]!r}")
        self.offset = i
        return Token(kind, text[start + 1 : i], self.position(start), i)

    def _number(self, start: int) -> Token:
        text, n, i = self.text, len(self.text), start
        while i < n and text[i] in _DIGITS:
            i += 1
        is_float = False
        if i < n and text[i] == "." and i + 1 < n and text[i + 1] in _DIGITS:
            is_float = True
            i += 1
            while i < n and text[i] in _DIGITS:
                i += 1
        if i < n and text[i] in "eE":
            j = i + 1
            if j < n and text[j] in "+-":
                j += 1
            if j < n and text[j] in _DIGITS:
                is_float = True
                i = j
                while i < n and text[i] in _DIGITS:
                    i += 1
        # A duration like 24h, 1h30m, 500ms.
        if i < n and (text[i] in _NAME_START or text[i] == "µ"):
            j = start
            while j < n and (text[j] in _NAME or text[j] in ".µ"):
                j += 1
            word = text[start:j]
            if is_duration(word):
                self.offset = j
                return Token(Kind.DURATION, word, self.position(start), j)
            raise self.error(start, f"bad number or duration {word!r}")
        self.offset = i
        return Token(Kind.FLOAT if is_float else Kind.INT, text[start:i], self.position(start), i)

    def _string(self, start: int) -> Token:
        text, n, i = self.text, len(self.text), start + 1
        out: list[str] = []
        escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
        while i < n:
            c = text[i]
            if c == '"':
                self.offset = i + 1
                return Token(Kind.STRING, "".join(out), self.position(start), i + 1)
            if c == "\n":
                break
            if c == "\\" and i + 1 < n:
                nxt = text[i + 1]
                if nxt in escapes:
                    out.append(escapes[nxt])
                else:
                    out.append("\\" + nxt)  # kept for regex-like strings, e.g. subst
                i += 2
                continue
            out.append(c)
            i += 1
        raise self.error(start, "unterminated string")

    def regex(self, slash: Token) -> Token:
        """Scan a regex literal whose opening ``/`` is the token ``slash``.

        The body runs to the next unescaped ``/`` on the same line; ``\\/``
        stands for a slash and every other escape is kept for the regex engine.
        """
        text, n, i = self.text, len(self.text), slash.end
        out: list[str] = []
        in_class = False
        while i < n:
            c = text[i]
            if c == "\n":
                break
            if c == "\\" and i + 1 < n and text[i + 1] != "\n":
                # "\/" is a slash; other escapes are the regex engine's business.
                out.append("/" if text[i + 1] == "/" else text[i : i + 2])
                i += 2
                continue
            if c == "[" and not in_class:
                in_class = True
            elif c == "]" and in_class:
                in_class = False
            elif c == "/" and not in_class:
                self.offset = i + 1
                return Token(Kind.REGEX, "".join(out), slash.pos, i + 1)
            out.append(c)
            i += 1
        raise CompileError(slash.pos, "unterminated regex: no closing '/' on this line")


def is_duration(word: str) -> bool:
    """True for Go-style durations such as ``24h``, ``1h30m`` or ``1.5s``."""
    i, n = 0, len(word)
    if n == 0:
        return False
    while i < n:
        j = i
        while j < n and (word[j] in _DIGITS or word[j] == "."):
            j += 1
        if j == i:
            return False
        for unit in sorted(_DURATION_UNITS, key=len, reverse=True):
            if word.startswith(unit, j):
                i = j + len(unit)
                break
        else:
            return False
    return True


def parse_duration(word: str) -> float:
    """Seconds in a Go-style duration: ``parse_duration("1h30m") == 5400.0``."""
    scale = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    total, i, n = 0.0, 0, len(word)
    while i < n:
        j = i
        while j < n and (word[j] in _DIGITS or word[j] == "."):
            j += 1
        number = float(word[i:j])
        for unit in sorted(scale, key=len, reverse=True):
            if word.startswith(unit, j):
                total += number * scale[unit]
                i = j + len(unit)
                break
        else:
            raise ValueError(f"bad duration {word!r}")
    return total
