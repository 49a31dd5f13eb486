"""Choosing the regex engine per pattern: stdlib ``re`` where it can, ``regex`` where it must.

Measured on the expanded ``%{HTTPD_COMBINEDLOG}`` (2,000 real lines of
access_combined.log, unanchored search, best of 5, CPython 3.11), searches
per second:

===========================================  =========  =========
the same expansion, written as / flags       ``re``     ``regex``
===========================================  =========  =========
ASCII classes written out (ours), no flag    ~369k      ~156k
``\\d \\w \\b``, Unicode (wrong for \\d)     ~335k      ~162k
``\\d \\w \\b`` + ``re.ASCII`` flag            ~371k      ~160k
lines that do not match (ours)               ~18k       ~7k
===========================================  =========  =========

``re`` is 2.3-2.6x faster, so every pattern goes to ``re``. The ``regex``
module is used only for what ``re`` cannot read, and reads the same way:
Unicode properties (``\\p{Greek}``, which translate.py keeps as written) and
variable-width lookbehind. It is not a fallback for other errors, since it
reads some syntax differently (``\\h`` is horizontal space there). Written-out
ASCII classes cost nothing against the ASCII flag, so translate.py writes
self-contained text and compiling needs no flag.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

from logmetrics.grok.translate import RegexSyntaxError

Engine = Literal["re", "regex"]

# re's messages for syntax that the regex module reads, and reads the same way.
_REGEX_ONLY = ("bad escape \\p", "bad escape \\P", "look-behind requires fixed-width pattern")


@dataclass(frozen=True, slots=True)
class CompiledRegex:
    """A compiled pattern (``.pattern`` has ``.search``/``.match``) and its engine."""

    pattern: Any  # re.Pattern[str] or regex.Pattern[str]: the same interface here
    engine: Engine
    groupindex: dict[str, int] = field(default_factory=dict)
    groups: int = 0


def compile_regex(python_pattern: str, flags: int = 0) -> CompiledRegex:
    """Compile text from :func:`~logmetrics.grok.translate.translate` (or expand).

    ``flags`` are ``re`` flags (IGNORECASE, MULTILINE, DOTALL, VERBOSE have the
    same values in ``regex``). Raises :class:`RegexSyntaxError` with the
    engine's own reason and offset.
    """
    try:
        with warnings.catch_warnings():
            # A FutureWarning (nested set...) means the text is ambiguous: refuse it.
            warnings.simplefilter("error", FutureWarning)
            compiled = re.compile(python_pattern, flags)
        return CompiledRegex(compiled, "re", dict(compiled.groupindex), compiled.groups)
    except re.error as exc:
        first = exc
    except FutureWarning as exc:
        raise RegexSyntaxError(f"ambiguous syntax: {exc}", 0) from None
    except (OverflowError, RecursionError) as exc:
        raise RegexSyntaxError(f"regex too large: {exc}", 0) from None
    if not any(reason in first.msg for reason in _REGEX_ONLY):
        raise RegexSyntaxError(first.msg, first.pos or 0) from None
    import regex  # only here: the import costs startup time that most runs need not pay

    try:
        compiled = regex.compile(python_pattern, flags | regex.V0)
    except regex.error as exc:
        raise RegexSyntaxError(str(exc.msg), exc.pos or 0) from None
    except (OverflowError, RecursionError, ValueError) as exc:
        raise RegexSyntaxError(f"regex too large or invalid: {exc}", 0) from None
    return CompiledRegex(compiled, "regex", dict(compiled.groupindex), compiled.groups)
