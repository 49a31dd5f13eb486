"""The whole compiler in one call: program text to a Python function over batches of lines.

    lexer → parser (AST) → checker (symbols, types, captures, regexes) → codegen (Python source)

and the generated code executed once, in the namespace its plan builds, into
its ``process`` function (:func:`link`). This is the only place that turns
program text into running code. Given a :class:`~logmetrics.lang.cache.CompileCache`,
a program compiled before with the same inputs is linked from the cache's copy
of that code, and the lexer, parser, checker and code generator are not even
imported: they are imported by the first program that needs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING, NamedTuple

from logmetrics.errors import Position
from logmetrics.lang.namespace import NamespacePlan
from logmetrics.lang.sites import CaptureInfo, MatchSite
from logmetrics.store import Metric

if TYPE_CHECKING:
    from logmetrics.grok import PatternLibrary
    from logmetrics.lang.cache import CompileCache


class SitePlan(NamedTuple):
    """A pattern site without its search function (the namespace's ``_r<number>``)."""

    number: int
    pos: Position
    text: str
    captures: dict[str, CaptureInfo]
    on_line: bool
    counted: bool


@dataclass
class CompiledProgram:
    """A program ready to run: its ``process`` function, the metrics it writes, its source."""

    name: str
    process: Callable[..., int]
    metrics: dict[str, Metric]
    #: The generated Python source (``check --dump-code`` prints it).
    source: str
    #: Where the regexes that run with a time budget are (see ``lang.regexes``).
    guarded: list[Position]
    #: The pattern sites, and the lines each matched, by regex number (see ``lang.sites``).
    sites: list[MatchSite] = field(default_factory=list)
    site_hits: list[int] = field(default_factory=list)
    #: What it was linked from, for the compile cache: the compiled source, its namespace's plan.
    code: CodeType | None = None
    plan: NamespacePlan = field(default_factory=NamespacePlan)
    site_plans: list[SitePlan] = field(default_factory=list)


def compile_program(text: str, path: str, library: PatternLibrary, name: str | None = None,
                    stamps: bool = False, count_sites: bool = True,
                    cache: CompileCache | None = None) -> CompiledProgram:
    """Compile program text; raises CompileError(s) naming ``path:line:col``.

    ``stamps`` records each update's line time, for ``--emit-metric-timestamp``.
    With a ``cache``, a program compiled before from the same inputs is taken from it,
    and a newly compiled one is saved in it (a program that does not compile never is).
    """
    name = name or Path(path).name
    key = cache.key(text, path, name, library, stamps, count_sites) if cache is not None else None
    if cache is not None and key is not None:
        found = cache.load(key)
        if found is not None:
            return found
    # Imported here: a start whose programs all come from the cache never needs them.
    from logmetrics.lang.checker import check
    from logmetrics.lang.codegen import generate
    from logmetrics.lang.parser import parse

    checked = check(parse(text, path), library)
    generated = generate(checked, name, stamps, count_sites)
    code = compile(generated.source, f"<program {name}>", "exec")
    guarded = [site.node.pos for site in checked.patterns if site.compiled.guarded]
    source_lines = text.splitlines()
    sites = []
    for number, use in sorted(generated.sites.items()):
        site = checked.patterns[number]
        pos = site.node.pos
        shown = source_lines[pos.line - 1].strip() if 0 < pos.line <= len(source_lines) else ""
        sites.append(SitePlan(number, pos, shown, dict(site.compiled.captures), use.on_line, use.counted))
    program = link(name, code, generated.source, generated.plan, guarded, sites,
                   (generated.namespace, generated.metrics))
    if cache is not None and key is not None:
        cache.save(key, program)
    return program


def link(name: str, code: CodeType, source: str, plan: NamespacePlan, guarded: list[Position],
         sites: list[SitePlan], built: tuple[dict[str, object], dict[str, Metric]] | None = None
         ) -> CompiledProgram:
    """Run the generated ``code`` once, in the namespace ``plan`` builds (or ``built``), into a
    program. The code is the code generator's own output, never user text."""
    namespace, metrics = built if built is not None else plan.build()
    namespace = dict(namespace)
    exec(code, namespace)
    process = namespace["process"]
    hits = namespace["_hits"]
    assert callable(process) and isinstance(hits, list)
    matches = [MatchSite(s.number, s.pos, s.text, namespace[f"_r{s.number}"], s.captures,
                         s.on_line, s.counted) for s in sites]
    return CompiledProgram(name, process, metrics, source, guarded, matches, hits, code, plan, sites)
