"""Grok: pattern libraries, dialect translation, expansion, engine choice."""

from logmetrics.grok.engine import CompiledRegex, compile_regex
from logmetrics.grok.expand import Capture, Expansion, GrokError, expand
from logmetrics.grok.library import PatternDef, PatternLibrary
from logmetrics.grok.translate import RegexSyntaxError, make_identifier, translate

__all__ = [
    "Capture",
    "CompiledRegex",
    "Expansion",
    "GrokError",
    "PatternDef",
    "PatternLibrary",
    "RegexSyntaxError",
    "compile_regex",
    "expand",
    "make_identifier",
    "translate",
]
