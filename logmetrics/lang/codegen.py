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

from dataclasses import dataclass, field
from typing import Any

from logmetrics.lang import ast, builtins
from logmetrics.lang.checker import CheckedProgram
from logmetrics.lang.regexes import CaptureInfo
from logmetrics.store import Kind, Metric

_COMPARE = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ARITH = {"+": "+", "-": "-", "*": "*", "**": "**", "&": "&", "|": "|", "^": "^", "<<": "<<", ">>": ">>"}


@dataclass
class GeneratedProgram:
    """The generated source, the namespace it runs in, and the metrics it writes."""

    source: str
    namespace: dict[str, Any]
    metrics: dict[str, Metric]
    patterns: list[str] = field(default_factory=list)


def generate(checked: CheckedProgram, program_name: str, stamps: bool = False) -> GeneratedProgram:
    """Generate the Python source and namespace of a checked program.

    With ``stamps``, each update also records the line's own time (for
    ``--emit-metric-timestamp``); without, that costs nothing.
    """
    return _Generator(checked, program_name, stamps).run()


class _Generator:
    def __init__(self, checked: CheckedProgram, program_name: str, stamps: bool) -> None:
        self.checked = checked
        self.stamps = stamps and checked.uses_timestamp
        self.program = program_name
        self.lines: list[str] = []
        self.ns: dict[str, Any] = {
            "_num": builtins.to_number,
            "_int": builtins.to_int,
            "_float": builtins.to_float,
            "_bool": builtins.to_bool,
            "_fmt": builtins.format_value,
            "_idiv": builtins.int_div,
            "_imod": builtins.int_mod,
            "_cap": builtins.first_group,
            "_strptime": builtins.strptime,
            "_strptime_into": builtins.strptime_into,
            "_strtol": builtins.strtol,
            "_now": builtins.now,
            "_env": builtins.ENVELOPE,
        }
        self.metrics: dict[str, Metric] = {}
        self.expiring = _expiring_metrics(checked.tree.stmts)
        self.uses_stop = _uses_stop(checked.tree.stmts)
        self.temp = 0
        self.known_key: str | None = None  # what _k holds at this point of the code
        self.converted: dict[str, str] = {}  # capture conversions already held in a variable
        self.converting: dict[str, str] = {}  # conversions the condition being emitted keeps
        for name, decl in checked.decls.items():
            metric = Metric(
                name=name,
                export_name=decl.export_name,
                kind=Kind(decl.kind),
                labels=tuple(decl.keys),
                program=program_name,
                hidden=decl.hidden,
                buckets=tuple(decl.buckets or ()),
                limit=decl.limit,
            )
            self.metrics[name] = metric
            self.ns[f"_m_{name}"] = metric
            self.ns[f"_v_{name}"] = metric.values
            self.ns[f"_t_{name}"] = metric.stamps
            if metric.kind is Kind.HISTOGRAM:
                self.ns[f"_o_{name}"] = metric.observer()
        for node in checked.patterns:
            self.ns[f"_r{node.number}"] = node.compiled.search  # type: ignore[attr-defined]
            self.ns[f"_p{node.number}"] = node.compiled.regex  # type: ignore[attr-defined]

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def run(self) -> GeneratedProgram:
        # The per-line code, generated once, goes into two loops: one that also
        # records unmatched lines (dry-run's report), and a leaner one without.
        self.emit(3, "hit = False")
        if self.checked.uses_timestamp:
            self.emit(3, "ts = None")
        self.emit(3, "try:")
        depth = 4
        if self.uses_stop:
            self.emit(4, "while True:")
            depth = 5
        before = len(self.lines)
        self.block(self.checked.tree.stmts, depth)
        if len(self.lines) == before:
            self.emit(depth, "pass")
        if self.uses_stop:
            self.emit(depth, "break")
        self.emit(3, "except Exception as exc:")
        self.emit(4, "on_error(exc, line)")
        per_line, self.lines = self.lines, []
        if not self.stamps and not any("(ts if ts is not None" in text for text in per_line):
            # Nothing reads the line's time: strptime() still validates, ts needs no reset.
            per_line = [text for text in per_line if text.strip() != "ts = None"]
        self.emit(0, "def process(lines, filename, missed, on_error):")
        self.emit(1, "matched = 0")
        self.emit(1, "if missed is None:")
        self.emit(2, "for line in lines:")
        sites = [i for i, text in enumerate(per_line) if text.strip() == "hit = True"]
        if len(sites) == 1:
            # One place can match a line at most once: count there, with no flag to set and test.
            lean = list(per_line)
            lean[sites[0]] = lean[sites[0]].replace("hit = True", "matched += 1")
            self.lines.extend(text for text in lean if text.strip() != "hit = False")
        else:
            self.lines.extend(per_line)
            self.emit(3, "if hit:")
            self.emit(4, "matched += 1")
        self.emit(1, "else:")
        self.emit(2, "for index, line in enumerate(lines):")
        self.lines.extend(per_line)
        self.emit(3, "if hit:")
        self.emit(4, "matched += 1")
        self.emit(3, "else:")
        self.emit(4, "missed.append(index)")
        self.emit(1, "return matched")
        source = "\n".join(self.lines) + "\n"
        patterns = [node.compiled.source for node in self.checked.patterns]  # type: ignore[attr-defined]
        return GeneratedProgram(source, self.ns, self.metrics, patterns)

    # --- statements -------------------------------------------------------------

    def block(self, stmts: list[ast.Stmt], depth: int) -> None:
        flag = None
        if any(isinstance(s, ast.Otherwise) for s in stmts):
            flag = self.new_temp("_any")
            self.emit(depth, f"{flag} = False")
        for stmt in stmts:
            self.statement(stmt, depth, flag)

    def body(self, stmts: list[ast.Stmt], depth: int, prefix: list[str] | None = None) -> None:
        before = len(self.lines)
        known = self.known_key
        for text in prefix or ():
            self.emit(depth, text)
        self.block(stmts, depth)
        if len(self.lines) == before:
            self.emit(depth, "pass")
        # After a block that may or may not have run, _k is known only if it did not change.
        self.known_key = known if self.known_key == known else None

    def statement(self, stmt: ast.Stmt, depth: int, flag: str | None) -> None:
        if isinstance(stmt, ast.Cond):
            prefix = []
            if flag is not None:
                prefix.append(f"{flag} = True")
            if _matches_line(stmt.cond):
                prefix.append("hit = True")
            converted = self.converting_comparison(stmt.cond)
            self.emit(depth, f"if {self.truth(stmt.cond)}:")
            if converted:
                # "$size > 0 { total += $size }": the body reuses the converted value.
                self.converted.update(converted)
            self.body(stmt.then.stmts, depth + 1, prefix)
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

    def expr_statement(self, expr: ast.Expr, depth: int) -> None:
        if isinstance(expr, ast.IncDec):
            self.update(expr.target, "+=" if expr.op == "++" else "-=", "1", depth)
        elif isinstance(expr, ast.Assign):
            decl = expr.target.decl  # type: ignore[union-attr]
            value = self.string(expr.value) if decl.kind == "text" else self.number(expr.value)
            self.update(expr.target, expr.op, value, depth)  # type: ignore[arg-type]
        elif isinstance(expr, ast.Call) and expr.name == "strptime":
            # A cache per call site: log lines come in bursts with the same timestamp.
            layout = expr.args[1].value  # type: ignore[attr-defined]
            cache = self.new_temp("_stc")
            self.ns[cache] = {}
            self.emit(depth, f"_s = {self.string(expr.args[0])}")
            self.emit(depth, f"ts = {cache}.get(_s)")
            self.emit(depth, "if ts is None:")
            self.emit(depth + 1, f"ts = _strptime_into({cache}, _s, {layout!r})")
        elif isinstance(expr, ast.Call) and expr.name == "settime":
            self.emit(depth, f"ts = {self.number(expr.args[0])}")
        else:
            self.emit(depth, self.value(expr))

    def update(self, target: ast.VarRef | ast.Index, op: str, value: str, depth: int) -> None:
        decl = target.decl  # type: ignore[union-attr]
        name = decl.name
        values, metric = f"_v_{name}", f"_m_{name}"
        key = self.key(target)
        kind = decl.kind
        if kind == "histogram" or decl.keys:
            self.set_key(key, depth)
        if kind == "histogram":
            self.emit(depth, f"_h = {values}.get(_k) or {metric}.new_histogram(_k)")
            self.emit(depth, "if _h is not None:")
            self.emit(depth + 1, f"_o_{name}(_h, {value})")
        elif not decl.keys:
            if op == "=":
                self.emit(depth, f"{values}[()] = {value}")
            else:
                sign = "+" if op == "+=" else "-"
                self.emit(depth, f"{values}[()] = {values}.get((), 0) {sign} {value}")
        else:
            if op == "=":
                self.emit(depth, f"if _k in {values} or {metric}.admit(_k):")
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
                self.emit(depth + 1, f"if {metric}.admit(_k):")
                self.emit(depth + 2, f"{values}[_k] = {sign}{amount}")
        stamp_key = "()" if kind != "histogram" and not decl.keys else "_k"
        if self.stamps:
            # The line's own time (strptime/settime), for --emit-metric-timestamp.
            self.emit(depth, "if ts is not None:")
            self.emit(depth + 1, f"_t_{name}[{stamp_key}] = ts")
        if name in self.expiring:
            self.emit(depth, f"if {stamp_key} in {metric}.expiry:")
            self.emit(depth + 1, f"{metric}.updated[{stamp_key}] = _now()")

    def set_key(self, key: str, depth: int) -> None:
        """``_k = key``, unless _k already holds it: updates of several metrics by the
        same labels, one after another, build the label tuple once.

        Reuse is safe because a key reads only captures of matches made earlier on
        this line (each regex runs at most once per line) and literals; a key that
        reads a variable or the line's time is always rebuilt.
        """
        if key != self.known_key or "_v_" in key or "ts" in key:
            self.emit(depth, f"_k = {key}")
            self.known_key = key if "_v_" not in key and "ts" not in key else None

    def delete(self, stmt: ast.Del, depth: int) -> None:
        name = stmt.target.decl.name  # type: ignore[union-attr]
        key = self.key(stmt.target)
        if stmt.after is None:
            self.emit(depth, f"_m_{name}.values.pop({key}, None)")
            self.emit(depth, f"_m_{name}.expiry.pop({key}, None)")
        else:
            self.emit(depth, f"_m_{name}.expire_after({key}, {stmt.after!r})")

    def key(self, target: ast.Expr) -> str:
        if not isinstance(target, ast.Index):
            return "()"
        keys = target.keys
        groups = [_plain_group(k) for k in keys]
        if len(keys) > 1 and all(groups) and len({g[0] for g in groups}) == 1:  # type: ignore[index]
            # Every label is a group of one match: match.group(a, b, c) builds the tuple in C.
            number = groups[0][0]  # type: ignore[index]
            return f"m{number}.group({', '.join(str(g[1]) for g in groups)})"  # type: ignore[index]
        parts = [self.string(k) for k in keys]
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"

    def new_temp(self, prefix: str) -> str:
        self.temp += 1
        return f"{prefix}{self.temp}"

    # --- expressions ------------------------------------------------------------

    def capture(self, node: ast.CapRef) -> str:
        """The captured text (a str, "" when the group did not take part)."""
        info: CaptureInfo = node.info  # type: ignore[attr-defined]
        match = f"m{node.pattern_number}"  # type: ignore[attr-defined]
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
            return f"((m{node.number} := _r{node.number}(line)) is not None)"  # type: ignore[attr-defined]
        if isinstance(node, ast.Match):
            number = node.pattern.number  # type: ignore[attr-defined]
            test = "is not None" if node.op == "=~" else "is None"
            return f"((m{number} := _r{number}({self.string(node.subject)})) {test})"
        if isinstance(node, ast.IntLit | ast.FloatLit):
            return repr(node.value)
        if isinstance(node, ast.StrLit):
            return repr(node.value)
        if isinstance(node, ast.CapRef):
            return self.number(node) if node.type in ("int", "float") else self.capture(node)
        if isinstance(node, ast.VarRef | ast.Index):
            name = node.decl.name  # type: ignore[attr-defined]
            return f"_v_{name}.get({self.key(node)}, 0)"
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
                return f"_p{args[0].number}.sub(lambda _m: {new}, {target})"  # type: ignore[attr-defined]
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
            return f"_strptime({self.string(args[0])}, {args[1].value!r})"  # type: ignore[attr-defined]
        if name == "settime":
            return self.number(args[0])
        raise AssertionError(f"no code for builtin {name}")  # pragma: no cover


def _plain_group(node: ast.Expr) -> tuple[int, int] | None:
    """(pattern number, group) of a capture that is always set by its match, else None."""
    if not isinstance(node, ast.CapRef):
        return None
    info: CaptureInfo = node.info  # type: ignore[attr-defined]
    if info.optional or len(info.groups) != 1:
        return None
    return node.pattern_number, info.groups[0]  # type: ignore[attr-defined]


def _textual(node: ast.Expr) -> bool:
    """True if a comparison may read ``node`` as text: captures and strings.

    ``$code == "-"`` compares text even when ``$code`` usually holds digits.
    """
    return isinstance(node, ast.CapRef) or node.type == "string"


def _matches_line(expr: ast.Expr) -> bool:
    if isinstance(expr, ast.Pattern):
        return True
    if isinstance(expr, ast.Binary) and expr.op in ("&&", "||"):
        return _matches_line(expr.left) or _matches_line(expr.right)
    return False


def _walk_stmts(stmts: list[ast.Stmt]):
    for stmt in stmts:
        yield stmt
        if isinstance(stmt, ast.Cond):
            yield from _walk_stmts(stmt.then.stmts)
            if stmt.orelse is not None:
                yield from _walk_stmts(stmt.orelse.stmts)
        elif isinstance(stmt, ast.Otherwise):
            yield from _walk_stmts(stmt.body.stmts)


def _uses_stop(stmts: list[ast.Stmt]) -> bool:
    return any(isinstance(s, ast.Stop) for s in _walk_stmts(stmts))


def _expiring_metrics(stmts: list[ast.Stmt]) -> set[str]:
    return {
        s.target.decl.name  # type: ignore[union-attr]
        for s in _walk_stmts(stmts)
        if isinstance(s, ast.Del) and s.after is not None and hasattr(s.target, "decl")
    }
