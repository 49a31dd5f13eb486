"""Choosing the regex engine per pattern.

The stdlib ``re`` runs the expanded HTTPD_COMBINEDLOG about twice as fast
as the ``regex`` module here (measured: 260k vs 97k searches/s on real
Apache lines), so every pattern goes to ``re``; ``regex`` is the fallback for
the one thing ``re`` cannot compile that ``regex`` reads the same way:
variable-width lookbehind.
The engine's own reason is kept when neither compiles.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

from logmetrics.grok.translate import FLAGS, RegexSyntaxError


@dataclass(frozen=True, slots=True)
class CompiledRegex:
    """A compiled pattern and which engine runs it."""

    pattern: Any  # re.Pattern[str] or regex.Pattern[str]
    engine: str

    @property
    def groupindex(self) -> dict[str, int]:
        return dict(self.pattern.groupindex)

    @property
    def groups(self) -> int:
        return int(self.pattern.groups)


def compile_regex(text: str) -> CompiledRegex:
    """Compile translated text (see :mod:`logmetrics.grok.translate`)."""
    try:
        with warnings.catch_warnings():
            # "Possible nested set" and friends warn of a future syntax change; the
            # pattern means today what it says, and a warning per line helps no one.
            warnings.simplefilter("ignore", FutureWarning)
            return CompiledRegex(re.compile(text, FLAGS), "re")
    except re.error as exc:
        first = exc
    except (OverflowError, RecursionError) as exc:
        raise RegexSyntaxError(f"regex too large: {exc}", 0) from None
    # Only for what re cannot do: the regex module reads some escapes differently
    # (\h is horizontal space there), so it must not "fix" other errors silently.
    if "look-behind requires fixed-width" not in first.msg:
        raise RegexSyntaxError(first.msg, first.pos or 0) from None
    import regex  # only here: importing it costs startup time every run

    try:
        return CompiledRegex(regex.compile(text, regex.ASCII | regex.V0), "regex")
    except (regex.error, OverflowError, RecursionError, ValueError):
        raise RegexSyntaxError(first.msg, first.pos or 0) from None
