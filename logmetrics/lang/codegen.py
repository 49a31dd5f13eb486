"""The code generator: a checked program to one Python function.

A program becomes the source of ``process(lines, filename, missed)``, which
runs every line of a batch through the program with no interpretation layer
between: regexes are bound ``search`` methods, metrics are dicts updated in
place, captures are group lookups on the match object. The per-line cost is
what the regexes cost, plus a few dict operations.

A runtime error (a capture that is not a number, a division by zero) ends
the program for that line only; ``on_error`` hears about it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from logmetrics.lang import ast, builtins
from logmetrics.lang.checker import CheckedProgram, Target
from logmetrics.lang.namespace import MetricPlan, NamespacePlan, RegexPlan, StoreNames
from logmetrics.store import Metric

_COMPARE = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ARITH = {"+": "+", "-": "-", "*": "*", "**": "**", "&": "&", "|": "|", "^": "^", "<<": "<<", ">>": ">>"}


@dataclass
class GeneratedProgram:
    """The generated source, the namespace it runs in, and the metrics it writes."""

    source: str
    namespace: dict[str, Any]
    metrics: dict[str, Metric]
    #: What the namespace is made of, to build it again (see ``lang.namespace``).
    plan: NamespacePlan
    #: The regexes that decide whether a block runs (pattern sites), by number.
    sites: dict[int, SiteCode] = field(default_factory=dict)


@dataclass(frozen=True)
class SiteCode:
    """A pattern site as the code uses it: searched in the line itself or in an ``=~`` subject,
    and whether the code counts the lines it matched (in ``_hits[number]``)."""

    on_line: bool
    counted: bool


@dataclass(frozen=True)
class _Hit:
    """Where a line counts as matched: ``hit = True``, or ``matched += 1`` when there is
    only one such place (a line can then match at most once, and needs no flag)."""

    depth: int


_Line = str | _Hit


def generate(checked: CheckedProgram, program_name: str, stamps: bool = False,
             count_sites: bool = True) -> GeneratedProgram:
    """Generate the Python source and namespace of a checked program.

    With ``stamps``, each update also records the line's own time (for
    ``--emit-metric-timestamp``); without, that costs nothing. With
    ``count_sites``, the lines each pattern site matched are counted in the
    namespace's ``_hits`` list (for the match inspector; off only to measure its cost).
    """
    return _Generator(checked, program_name, stamps, count_sites).run()


class _Generator:
    def __init__(self, checked: CheckedProgram, program_name: str, stamps: bool, count_sites: bool) -> None:
        self.checked = checked
        self.count_sites = count_sites
        self.sites: dict[int, SiteCode] = {}
        self.stamps = stamps and checked.uses_timestamp
        # The code reads ts (timestamp(), stamps): reset it per line, and strptime() works out the
        # time. Otherwise strptime() only checks the time (a bad one is still a runtime error).
        self.reads_time = self.stamps or checked.reads_timestamp
        self.lines: list[_Line] = []
        self.plan = NamespacePlan()
        self.store: dict[str, StoreNames] = {}
        self.expiring = {checked.decl(s.target).name for s in _walk_stmts(checked.tree.stmts)
                         if isinstance(s, ast.Del) and s.after is not None}
        self.uses_stop = _uses_stop(checked.tree.stmts)
        self.temp = 0
        self.known_key: str | None = None  # what _k holds at this point of the code
        self.converted: dict[str, str] = {}  # capture conversions already held in a variable
        self.converting: dict[str, str] = {}  # conversions the condition being emitted keeps
        for name, decl in checked.decls.items():
            self.plan.metrics.append(MetricPlan(
                name=name,
                export_name=decl.export_name,
                kind=decl.kind,
                labels=tuple(decl.keys),
                program=program_name,
                hidden=decl.hidden,
                buckets=tuple(decl.buckets or ()),
                limit=decl.limit,
            ))
            self.store[name] = StoreNames.of(name)
        for site in checked.patterns:
            compiled = site.compiled
            self.plan.regexes.append(RegexPlan(compiled.source, compiled.engine, compiled.guarded))

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def run(self) -> GeneratedProgram:
        depth = 5 if self.uses_stop else 4
        self.block(self.checked.tree.stmts, depth)
        if not self.lines:
            self.emit(depth, "pass")
        body, self.lines = self.lines, []
        # The per-line code, generated once, goes into two loops: one that also
        # records unmatched lines (dry-run's report), and a leaner one without.
        lean = sum(isinstance(line, _Hit) for line in body) == 1
        self.emit(0, "def process(lines, filename, missed, on_error):")
        self.emit(1, "matched = 0")
        # Per-site counts live in locals while the batch runs, added to _hits once at its end.
        counted = sorted(n for n, site in self.sites.items() if site.counted)
        for number in counted:
            self.emit(1, f"_s{number} = 0")
        self.emit(1, "if missed is None:")
        self.emit(2, "for line in lines:")
        self.per_line(body, counted_where_hit=lean)
        if not lean:
            self.emit(3, "if hit:")
            self.emit(4, "matched += 1")
        self.emit(1, "else:")
        self.emit(2, "for index, line in enumerate(lines):")
        self.per_line(body, counted_where_hit=False)
        self.emit(3, "if hit:")
        self.emit(4, "matched += 1")
        self.emit(3, "else:")
        self.emit(4, "missed.append(index)")
        for number in counted:
            self.emit(1, f"_hits[{number}] += _s{number}")
        self.emit(1, "return matched")
        source = "\n".join(line for line in self.lines if isinstance(line, str)) + "\n"
        namespace, metrics = self.plan.build([site.compiled.regex for site in self.checked.patterns])
        return GeneratedProgram(source, namespace, metrics, self.plan, self.sites)

    def per_line(self, body: list[_Line], counted_where_hit: bool) -> None:
        """The code run for each line, around the program's body."""
        if not counted_where_hit:
            self.emit(3, "hit = False")
        if self.reads_time:
            # Otherwise nothing reads the line's time: strptime() only checks it, ts needs no reset.
            self.emit(3, "ts = None")
        self.emit(3, "try:")
        if self.uses_stop:
            self.emit(4, "while True:")
        hit = "matched += 1" if counted_where_hit else "hit = True"
        self.lines.extend("    " * line.depth + hit if isinstance(line, _Hit) else line for line in body)
        if self.uses_stop:
            self.emit(5, "break")
        self.emit(3, "except Exception as exc:")
        self.emit(4, "on_error(exc, line)")

    # --- statements -------------------------------------------------------------

    def block(self, stmts: list[ast.Stmt], depth: int) -> None:
        flag = None
        if any(isinstance(s, ast.Otherwise) for s in stmts):
            flag = self.new_temp("_any")
            self.emit(depth, f"{flag} = False")
        for stmt in stmts:
            self.statement(stmt, depth, flag)

    def body(self, stmts: list[ast.Stmt], depth: int, flag: str | None = None, hit: bool = False,
             counting: list[str] | None = None) -> None:
        before = len(self.lines)
        known = self.known_key
        if flag is not None:
            self.emit(depth, f"{flag} = True")
        if hit:
            self.lines.append(_Hit(depth))
        for text in counting or ():
            self.lines.append("    " * depth + text)
        self.block(stmts, depth)
        if len(self.lines) == before:
            self.emit(depth, "pass")
        # After a block that may or may not have run, _k is known only if it did not change.
        self.known_key = known if self.known_key == known else None

    def statement(self, stmt: ast.Stmt, depth: int, flag: str | None) -> None:
        if isinstance(stmt, ast.Cond):
            converted = self.converting_comparison(stmt.cond)
            self.emit(depth, f"if {self.truth(stmt.cond)}:")
            if converted:
                # "$size > 0 { total += $size }": the body reuses the converted value.
                self.converted.update(converted)
            self.body(stmt.then.stmts, depth + 1, flag, _matches_line(stmt.cond), self.site_counts(stmt.cond))
            for key in converted:
                self.converted.pop(key, None)
            if stmt.orelse is not None:
                self.emit(depth, "else:")
                self.body(stmt.orelse.stmts, depth + 1)
        elif isinstance(stmt, ast.Otherwise):
            self.emit(depth, f"if not {flag}:")
            self.body(stmt.body.stmts, depth + 1)
        elif isinstance(stmt, ast.ExprStmt):
            self.expr_statement(stmt.expr, depth)
        elif isinstance(stmt, ast.Stop):
            self.emit(depth, "break")
        elif isinstance(stmt, ast.Del):
            self.delete(stmt, depth)
        # Declarations, consts and decorator definitions generate no code.

    def site_counts(self, cond: ast.Expr) -> list[str]:
        """Code that counts, on entering a block, the pattern sites of its condition that matched.

        A site joined by ``&&`` surely matched; of sites joined by ``||``, the first that
        matched is the one evaluated last with a match. Sites under ``!`` or ``!~``, or in
        other shapes, are listed but not counted.
        """
        code: list[str] = []
        for part in _conjuncts(cond):
            number = self.positive_site(part)
            if number is not None:
                code.append(f"_s{number} += 1")
                continue
            chain = [self.positive_site(d) for d in _disjuncts(part)]
            if len(chain) > 1 and all(n is not None for n in chain):
                for i, n in enumerate(chain):
                    test = f"m{n} is not None" if i < len(chain) - 1 else None
                    keyword = "if" if i == 0 else "elif"
                    code += [f"{keyword} {test}:" if test else "else:", f"    _s{n} += 1"]
                continue
            self.note_sites(part, counted=False)
        return code if self.count_sites else []

    def positive_site(self, node: ast.Expr) -> int | None:
        """The number of a regex whose match ``node`` is (a pattern, or ``=~``), noted as a site."""
        if isinstance(node, ast.Pattern):
            number = self.checked.site(node).number
            self.sites[number] = SiteCode(on_line=True, counted=self.count_sites)
            return number
        if isinstance(node, ast.Match) and node.op == "=~":
            number = self.checked.site(node.pattern).number
            self.sites[number] = SiteCode(on_line=False, counted=self.count_sites)
            return number
        return None

    def note_sites(self, node: ast.Expr, counted: bool) -> None:
        """Note the pattern sites anywhere in ``node``."""
        if isinstance(node, ast.Pattern):
            self.sites[self.checked.site(node).number] = SiteCode(True, counted)
        elif isinstance(node, ast.Match):
            self.sites[self.checked.site(node.pattern).number] = SiteCode(False, counted)
        elif isinstance(node, ast.Binary):
            self.note_sites(node.left, counted)
            self.note_sites(node.right, counted)
        elif isinstance(node, ast.Unary):
            self.note_sites(node.operand, counted)

    def expr_statement(self, expr: ast.Expr, depth: int) -> None:
        if isinstance(expr, ast.IncDec):
            self.update(expr.target, "+=" if expr.op == "++" else "-=", "1", depth)
        elif isinstance(expr, ast.Assign):
            target = expr.target
            assert not isinstance(target, ast.CapRef)  # the checker refuses it
            text = self.checked.decl(target).kind == "text"
            value = self.string(expr.value) if text else self.number(expr.value)
            self.update(target, expr.op, value, depth)
        elif isinstance(expr, ast.Call) and expr.name == "strptime" and not self.reads_time:
            check = self.new_temp("_stk")
            self.plan.time_checks[check] = _layout(expr)
            self.emit(depth, f"_s = {self.string(expr.args[0])}")
            self.emit(depth, f"if _s != {check}.last:")  # the line before's time, mostly
            self.emit(depth + 1, f"{check}(_s)")
        elif isinstance(expr, ast.Call) and expr.name == "strptime":
            # A cache per call site: log lines come in bursts with the same timestamp.
            layout = _layout(expr)
            cache = self.new_temp("_stc")
            self.plan.time_caches.append(cache)
            self.emit(depth, f"_s = {self.string(expr.args[0])}")
            self.emit(depth, f"ts = {cache}.get(_s)")
            self.emit(depth, "if ts is None:")
            self.emit(depth + 1, f"ts = _strptime_into({cache}, _s, {layout!r})")
        elif isinstance(expr, ast.Call) and expr.name == "settime":
            self.emit(depth, f"ts = _settime({self.number(expr.args[0])})")
        else:
            self.emit(depth, self.value(expr))

    def update(self, target: Target, op: str, value: str, depth: int) -> None:
        decl = self.checked.decl(target)
        name = decl.name
        store = self.store[name]
        values = store.values
        key = self.key(target)
        kind = decl.kind
        if kind == "histogram" or decl.keys:
            self.set_key(key, self.stable_key(target), depth)
        if kind == "histogram":
            self.emit(depth, f"_h = {values}.get(_k) or {store.new_histogram}(_k)")
            self.emit(depth, "if _h is not None:")
            self.emit(depth + 1, f"{store.observe}(_h, {value})")
        elif not decl.keys:
            if op == "=":
                self.emit(depth, f"{values}[()] = {value}")
            else:
                sign = "+" if op == "+=" else "-"
                self.emit(depth, f"{values}[()] = {values}.get((), 0) {sign} {value}")
        else:
            if op == "=":
                self.emit(depth, f"if _k in {values} or {store.admit}(_k):")
                self.emit(depth + 1, f"{values}[_k] = {value}")
            else:
                # try/except costs nothing when no exception is raised (3.11), and the
                # common case, a label set seen before, then takes one lookup fewer.
                sign = "" if op == "+=" else "-"
                amount = value
                if not (value.isdigit() or value.isidentifier()):  # evaluate once, before the update
                    self.emit(depth, f"_n = {value}")
                    amount = "_n"
                self.emit(depth, "try:")
                self.emit(depth + 1, f"{values}[_k] {op} {amount}")
                self.emit(depth, "except KeyError:")
                self.emit(depth + 1, f"if {store.admit}(_k):")
                self.emit(depth + 2, f"{values}[_k] = {sign}{amount}")
        stamp_key = "()" if kind != "histogram" and not decl.keys else "_k"
        if self.stamps:
            # The line's own time (strptime/settime), for --emit-metric-timestamp.
            self.emit(depth, "if ts is not None:")
            self.emit(depth + 1, f"{store.stamps}[{stamp_key}] = ts")
        if name in self.expiring:
            self.emit(depth, f"if {stamp_key} in {store.expiry}:")
            self.emit(depth + 1, f"{store.updated}[{stamp_key}] = _now()")

    def set_key(self, key: str, stable: bool, depth: int) -> None:
        """``_k = key``, unless _k already holds it: updates of several metrics by the
        same labels, one after another, build the label tuple once.

        Reuse is safe because a key reads only captures of matches made earlier on
        this line (each regex runs at most once per line) and literals; a key that
        reads a variable or the line's time (not ``stable``) is always rebuilt.
        """
        if key != self.known_key or not stable:
            self.emit(depth, f"_k = {key}")
            self.known_key = key if stable else None

    def stable_key(self, target: Target) -> bool:
        """True if the label values of ``target`` stay the same for the rest of the line."""
        keys = target.keys if isinstance(target, ast.Index) else []
        return not any(isinstance(node, ast.VarRef | ast.Index)
                       or (isinstance(node, ast.Call) and node.name == "timestamp")
                       for key in keys for node in _walk_expr(key))

    def delete(self, stmt: ast.Del, depth: int) -> None:
        store = self.store[self.checked.decl(stmt.target).name]
        key = self.key(stmt.target)
        if stmt.after is None:
            self.emit(depth, f"{store.delete}({key})")
        else:
            self.emit(depth, f"{store.expire_after}({key}, {stmt.after!r})")

    def key(self, target: ast.Expr) -> str:
        if not isinstance(target, ast.Index):
            return "()"
        keys = target.keys
        groups = [group for group in map(self.plain_group, keys) if group is not None]
        if len(keys) > 1 and len(groups) == len(keys) and len({number for number, _ in groups}) == 1:
            # Every label is a group of one match: match.group(a, b, c) builds the tuple in C.
            number = groups[0][0]
            return f"m{number}.group({', '.join(str(group) for _, group in groups)})"
        parts = [self.string(k) for k in keys]
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"

    def new_temp(self, prefix: str) -> str:
        self.temp += 1
        return f"{prefix}{self.temp}"

    # --- expressions ------------------------------------------------------------

    def plain_group(self, node: ast.Expr) -> tuple[int, int] | None:
        """(pattern number, group) of a capture that is always set by its match, else None."""
        if not isinstance(node, ast.CapRef):
            return None
        use = self.checked.captures[node]
        if use.info.optional or len(use.info.groups) != 1:
            return None
        return use.pattern, use.info.groups[0]

    def capture(self, node: ast.CapRef) -> str:
        """The captured text (a str, "" when the group did not take part)."""
        use = self.checked.captures[node]
        info = use.info
        match = f"m{use.pattern}"
        if len(info.groups) > 1:
            return f"_cap({match}, {info.groups!r})"
        group = info.groups[0]
        return f"({match}[{group}] or '')" if info.optional else f"{match}[{group}]"

    def string(self, node: ast.Expr) -> str:
        """An expression as a str (label values, string builtins, text metrics)."""
        if isinstance(node, ast.CapRef):
            return self.capture(node)
        if isinstance(node, ast.StrLit):
            return repr(node.value)
        if isinstance(node, ast.IntLit | ast.FloatLit):
            return repr(builtins.format_value(node.value))
        if node.type == "string":
            return self.value(node)
        return f"_fmt({self.value(node)})"

    def number(self, node: ast.Expr) -> str:
        """An expression as an int or float."""
        if isinstance(node, ast.CapRef):
            raw = self.capture(node)
            conversion = {"int": f"int({raw})", "float": f"float({raw})"}.get(node.type, f"_num({raw})")
            known = self.converted.get(conversion)
            if known is not None:
                return known
            if conversion in self.converting:
                return f"({self.converting[conversion]} := {conversion})"
            return conversion
        if node.type == "string":
            return f"_num({self.value(node)})"
        if node.type == "bool":
            return f"(1 if {self.value(node)} else 0)"
        return self.value(node)

    def converting_comparison(self, cond: ast.Expr) -> dict[str, str]:
        """For a numeric comparison of a capture, the conversion and the name it is kept in.

        Only a condition that is one comparison: then the conversion has surely run
        when the block is entered (with && or || it might not have).
        """
        self.converting = {}
        if not (isinstance(cond, ast.Binary) and cond.op in _COMPARE):
            return {}
        if _textual(cond.left) and _textual(cond.right) and "string" in (cond.left.type, cond.right.type):
            return {}  # a text comparison converts nothing
        for side in (cond.left, cond.right):
            if isinstance(side, ast.CapRef):
                self.converting = {}
                conversion = self.number(side)
                self.converting[conversion] = self.new_temp("_c")
        return dict(self.converting)

    def truth(self, node: ast.Expr) -> str:
        """An expression as a condition."""
        if isinstance(node, ast.CapRef):
            return f"{self.capture(node)} != ''"
        return self.value(node)

    def value(self, node: ast.Expr) -> str:
        if isinstance(node, ast.Pattern):
            number = self.checked.site(node).number
            return f"((m{number} := _r{number}(line)) is not None)"
        if isinstance(node, ast.Match):
            number = self.checked.site(node.pattern).number
            test = "is not None" if node.op == "=~" else "is None"
            return f"((m{number} := _r{number}({self.string(node.subject)})) {test})"
        if isinstance(node, ast.IntLit | ast.FloatLit):
            return repr(node.value)
        if isinstance(node, ast.StrLit):
            return repr(node.value)
        if isinstance(node, ast.CapRef):
            return self.number(node) if node.type in ("int", "float") else self.capture(node)
        if isinstance(node, ast.VarRef | ast.Index):
            values = self.store[self.checked.decl(node).name].values
            return f"{values}.get({self.key(node)}, 0)"
        if isinstance(node, ast.Unary):
            if node.op == "!":
                return f"(not {self.truth(node.operand)})"
            return f"(-{self.number(node.operand)})"
        if isinstance(node, ast.Binary):
            return self.binary(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise AssertionError(f"no code for {type(node).__name__}")  # pragma: no cover

    def binary(self, node: ast.Binary) -> str:
        op = node.op
        if op == "&&":
            return f"({self.truth(node.left)} and {self.truth(node.right)})"
        if op == "||":
            return f"({self.truth(node.left)} or {self.truth(node.right)})"
        if op in _COMPARE:
            if _textual(node.left) and _textual(node.right) and "string" in (
                node.left.type, node.right.type
            ):
                return f"({self.string(node.left)} {op} {self.string(node.right)})"
            return f"({self.number(node.left)} {op} {self.number(node.right)})"
        if node.type == "string":  # "a" + "b"
            return f"({self.string(node.left)} + {self.string(node.right)})"
        left, right = self.number(node.left), self.number(node.right)
        if op == "/":
            if node.type == "int":
                return f"_idiv({left}, {right})"
            return f"({left} / {right})"
        if op == "%":
            return f"_imod({left}, {right})"
        return f"({left} {_ARITH[op]} {right})"

    def call(self, node: ast.Call) -> str:
        name, args = node.name, node.args
        if name == "len":
            return f"len({self.string(args[0])})"
        if name == "tolower":
            return f"{self.string(args[0])}.lower()"
        if name == "subst":
            target = self.string(args[2])
            new = self.string(args[1])
            if isinstance(args[0], ast.Pattern):
                # A literal replacement, as Go's ReplaceAllLiteralString.
                return f"_p{self.checked.site(args[0]).number}.sub(lambda _m: {new}, {target})"
            return f"{target}.replace({self.string(args[0])}, {new})"
        if name == "int":
            return f"_int({self.value(args[0])})"
        if name == "float":
            return f"_float({self.value(args[0])})"
        if name == "bool":
            return f"_bool({self.value(args[0])})"
        if name == "string":
            return self.string(args[0])
        if name == "strtol":
            return f"_strtol({self.string(args[0])}, {self.number(args[1])})"
        if name == "timestamp":
            return "(ts if ts is not None else int(_now()))"
        if name == "getfilename":
            return "filename"
        if name in builtins.ENVELOPE_FIELDS:
            return builtins.ENVELOPE_FIELDS[name]
        if name == "strptime":
            return f"_strptime({self.string(args[0])}, {_layout(node)!r})"
        if name == "settime":
            return f"_settime({self.number(args[0])})"
        raise AssertionError(f"no code for builtin {name}")  # pragma: no cover


def _layout(call: ast.Call) -> str:
    """The Go layout of a strptime() call: a string literal, as the checker made sure."""
    layout = call.args[1]
    assert isinstance(layout, ast.StrLit)
    return layout.value


def _textual(node: ast.Expr) -> bool:
    """True if a comparison may read ``node`` as text: captures and strings.

    ``$code == "-"`` compares text even when ``$code`` usually holds digits.
    """
    return isinstance(node, ast.CapRef) or node.type == "string"


def _conjuncts(expr: ast.Expr) -> list[ast.Expr]:
    if isinstance(expr, ast.Binary) and expr.op == "&&":
        return _conjuncts(expr.left) + _conjuncts(expr.right)
    return [expr]


def _disjuncts(expr: ast.Expr) -> list[ast.Expr]:
    if isinstance(expr, ast.Binary) and expr.op == "||":
        return _disjuncts(expr.left) + _disjuncts(expr.right)
    return [expr]


def _matches_line(expr: ast.Expr) -> bool:
    if isinstance(expr, ast.Pattern):
        return True
    if isinstance(expr, ast.Binary) and expr.op in ("&&", "||"):
        return _matches_line(expr.left) or _matches_line(expr.right)
    return False


def _walk_stmts(stmts: list[ast.Stmt]) -> Iterator[ast.Stmt]:
    for stmt in stmts:
        yield stmt
        if isinstance(stmt, ast.Cond):
            yield from _walk_stmts(stmt.then.stmts)
            if stmt.orelse is not None:
                yield from _walk_stmts(stmt.orelse.stmts)
        elif isinstance(stmt, ast.Otherwise):
            yield from _walk_stmts(stmt.body.stmts)


def _walk_expr(node: ast.Expr) -> Iterator[ast.Expr]:
    """An expression and every expression inside it."""
    yield node
    children: list[ast.Expr] = []
    if isinstance(node, ast.Index):
        children = [node.base, *node.keys]
    elif isinstance(node, ast.Call):
        children = node.args
    elif isinstance(node, ast.Unary):
        children = [node.operand]
    elif isinstance(node, ast.Binary):
        children = [node.left, node.right]
    elif isinstance(node, ast.Match):
        children = [node.subject]
    for child in children:
        yield from _walk_expr(child)


def _uses_stop(stmts: list[ast.Stmt]) -> bool:
    return any(isinstance(s, ast.Stop) for s in _walk_stmts(stmts))
