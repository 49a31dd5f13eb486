"""grok_exporter configuration (config_version 2 and 3) to a logmetrics program.

grok_exporter (github.com/fstab/grok_exporter) maps log lines to metrics with
one grok ``match`` per metric and Go templates for label values and for the
observed value. Each metric becomes one declaration and one pattern block:
like grok_exporter's metrics, mtail's blocks are independent, so a line counts
for every metric whose ``match`` it matches.

What has an equivalent is converted; everything else is reported as a
:class:`~logmetrics.convert.ConvertWarning` with the line it is about, and the
settings that belong on the command line (input files, listen address,
pattern folders) become a comment at the top of the program.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from logmetrics.convert import ConvertError, ConvertWarning
from logmetrics.grok import PatternLibrary, RegexSyntaxError, make_identifier
from logmetrics.grok.expand import expand
from logmetrics.grok.translate import GROK_REFERENCE
from logmetrics.lang.lexer import BUILTINS, KEYWORDS, is_duration

#: Prometheus client_golang's default buckets, which grok_exporter uses for
#: histograms without ``buckets`` (and which summaries become here).
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

METRIC_TYPES = ("counter", "gauge", "histogram", "summary")

_METRIC_KEYS = frozenset({
    "type", "name", "help", "match", "labels", "value", "cumulative", "buckets", "quantiles",
    "max_age", "retention", "delete_match", "delete_labels", "path", "paths",
})
_TOP_KEYS = frozenset({"global", "input", "imports", "grok_patterns", "grok", "metrics", "server"})

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PATTERN_DEF = re.compile(r"\s*(\w+)\s+(.*?)\s*\Z", re.S)
_NAMED_GROUP = re.compile(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")


@dataclass
class _Node:
    """A YAML node with the line it starts on and its plain Python value."""

    node: yaml.Node
    value: Any
    line: int

    def get(self, key: str) -> _Node | None:
        """The value node of ``key`` in a mapping, or None; its line is the key's."""
        for name, value in self.items():
            if name == key:
                return value
        return None

    def items(self) -> list[tuple[str, _Node]]:
        """The (key, value node) pairs of a mapping, in file order."""
        if not isinstance(self.node, yaml.MappingNode):
            return []
        # A block value starts on the line after its key: warnings point at the key.
        return [(str(k.value), _wrap(v, k.start_mark.line + 1)) for k, v in self.node.value]

    def elements(self) -> list[_Node]:
        """The element nodes of a sequence."""
        if not isinstance(self.node, yaml.SequenceNode):
            return []
        return [_wrap(v) for v in self.node.value]


def _wrap(node: yaml.Node, line: int | None = None) -> _Node:
    loader = yaml.SafeLoader("")
    try:
        value = loader.construct_object(node, deep=True)
    except yaml.YAMLError:
        value = node.value if isinstance(node, yaml.ScalarNode) else None
    return _Node(node, value, line if line is not None else node.start_mark.line + 1)


@dataclass
class _Metric:
    """What one converted metric needs: its declaration and its blocks."""

    name: str
    ident: str
    kind: str
    help: str | None
    labels: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # one expression per label
    buckets: list[float] = field(default_factory=list)


class _Template:
    """A Go template translated to an expression of the language, or why it cannot be."""

    def __init__(self, expr: str | None, kind: str, problem: str | None = None,
                 fields: tuple[str, ...] = ()) -> None:
        self.expr = expr
        self.kind = kind  # "string" or "number"
        self.problem = problem
        self.fields = fields


class Converter:
    """Converts one configuration; use :func:`convert`."""

    def __init__(self, text: str, filename: str, program_name: str = "grok_exporter.mtail",
                 library: PatternLibrary | None = None, base_dirs: Sequence[Path] = ()) -> None:
        self.text = text
        self.library = library
        self.filename = filename
        self.program_name = program_name
        self.base_dirs = list(base_dirs)
        self.warnings: list[ConvertWarning] = []
        self.patterns: dict[str, str] = {}  # inline grok_patterns, name -> definition
        self.header: list[str] = []
        self.run_args: list[str] = []
        self.missing_patterns: list[str] = []  # pattern paths of the configuration not found here

    # --- helpers --------------------------------------------------------------

    def warn(self, node: _Node | None, message: str) -> None:
        self.warnings.append(ConvertWarning(node.line if node is not None else None, message))

    def error(self, node: _Node | None, message: str) -> ConvertError:
        where = f"{self.filename}:{node.line}" if node is not None else self.filename
        return ConvertError(f"{where}: {message}")

    # --- the whole file -------------------------------------------------------

    def convert(self) -> str:
        try:
            root = yaml.compose(self.text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{self.filename}:{mark.line + 1}" if mark is not None else self.filename
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConvertError(f"{where}: not valid YAML: {problem}") from None
        if root is None or not isinstance(root, yaml.MappingNode):
            raise ConvertError(f"{self.filename}: not a grok_exporter configuration: expected a YAML "
                               "mapping with global, input, metrics... sections")
        doc = _wrap(root)
        version = self.version(doc)
        for key, node in doc.items():
            if key not in _TOP_KEYS:
                self.warn(node, f"unknown section {key!r} ignored")
        self.global_section(doc.get("global"))
        self.input_section(doc.get("input"), version)
        if version == 2:
            self.grok_section_v2(doc.get("grok"))
        else:
            if doc.get("grok") is not None:
                self.warn(doc.get("grok"), "'grok' is a config_version 2 section; version 3 uses "
                          "'grok_patterns' and 'imports': ignored")
            self.imports_section(doc.get("imports"))
            self.inline_patterns(doc.get("grok_patterns"))
        self.server_section(doc.get("server"))
        body = self.metrics_section(doc.get("metrics"))
        return self.render_header() + body

    def version(self, doc: _Node) -> int:
        glob = doc.get("global")
        node = glob.get("config_version") if glob is not None else None
        if node is None:
            raise ConvertError(
                f"{self.filename}: no global.config_version: this is a config_version 1 file "
                "(grok_exporter 0.1.x) or not a grok_exporter configuration; only versions 2 and 3 "
                "are converted (grok_exporter -config FILE -showconfig prints a version 3 file)")
        if node.value not in (2, 3):
            raise self.error(node, f"config_version {node.value!r} is not supported: only versions 2 "
                             "and 3 are converted (grok_exporter -config FILE -showconfig prints a "
                             "version 3 file)")
        return int(node.value)

    def global_section(self, glob: _Node | None) -> None:
        if glob is None:
            return
        for key, node in glob.items():
            if key == "retention_check_interval":
                self.warn(node, "retention_check_interval has no equivalent: logmetrics checks "
                          "'del ... after' every minute")
            elif key != "config_version":
                self.warn(node, f"unknown global setting {key!r} ignored")

    def input_section(self, inp: _Node | None, version: int) -> None:
        kind = "stdin"  # grok_exporter's default
        type_node = inp.get("type") if inp is not None else None
        if type_node is not None:
            kind = str(type_node.value)
        if kind == "file":
            paths: list[str] = []
            for key in ("path", "paths"):
                node = inp.get(key) if inp is not None else None
                if node is not None:
                    paths.extend([node.value] if isinstance(node.value, str) else list(node.value or []))
            for path in paths:
                self.run_args.append(f"--logs {_shell_quote(str(path))}")
            readall = inp.get("readall") if inp is not None else None
            if readall is not None and readall.value is True:
                self.run_args.append("--from beginning")
            poll = inp.get("poll_interval") or inp.get("poll_interval_seconds") if inp else None
            if poll is not None:
                self.run_args.append("--poll")
                self.warn(poll, "poll_interval: logmetrics --poll polls at its own interval")
            delim = inp.get("line_delimiter") if inp is not None else None
            if delim is not None:
                self.warn(delim, "line_delimiter (multi-line messages) has no equivalent: every line "
                          "is a message")
            missing = inp.get("fail_on_missing_logfile") if inp is not None else None
            if missing is not None and missing.value is not False:
                self.warn(missing, "fail_on_missing_logfile: logmetrics starts anyway and reads a "
                          "missing log when it appears")
            if not paths:
                self.warn(inp, "input type file with no path: give the logs with --logs")
        elif kind == "stdin":
            self.warn(type_node or inp, "input type stdin: 'logmetrics run' follows files (--logs), "
                      "not standard input; "
                      f"'logmetrics dry-run --progs {self.program_name} -' reads standard "
                      "input once")
            self.run_args.append("--logs FILE")
        else:
            self.warn(type_node, f"input type {kind!r} has no equivalent: logmetrics reads log files; "
                      "write the lines to a file and follow it with --logs")
            self.run_args.append("--logs FILE")

    def grok_section_v2(self, grok: _Node | None) -> None:
        if grok is None:
            return
        for key, node in grok.items():
            if key == "patterns_dir":
                self.pattern_path(node)
            elif key == "additional_patterns":
                self.inline_patterns(node)
            else:
                self.warn(node, f"unknown grok setting {key!r} ignored")

    def imports_section(self, imports: _Node | None) -> None:
        if imports is None:
            return
        for item in imports.elements():
            kind = item.get("type")
            where = item.get("dir") or item.get("file")
            if kind is not None and kind.value == "grok_patterns" and where is not None:
                self.pattern_path(where)
            elif kind is not None and kind.value == "metrics":
                self.warn(item, "metrics imported from other files are not converted: convert each "
                          "imported file's metrics as a 'metrics:' list of a configuration of its own")
            else:
                self.warn(item, "import with no type grok_patterns or metrics, or no dir/file: ignored")

    def pattern_path(self, node: _Node) -> None:
        """A pattern folder or file of the configuration, as ``--patterns`` on the run line.

        With ``base_dirs`` (the configuration's folder, the current one), the path must exist
        from one of them and is written as found, absolute; one that does not exist is left
        out of the run line, with a word in the header and a warning.
        """
        given = str(node.value)
        if not self.base_dirs:
            self.run_args.append(f"--patterns {_shell_quote(given)}")
            return
        found = next((base / given for base in self.base_dirs if (base / given).exists()), None)
        if found is not None:
            self.run_args.append(f"--patterns {_shell_quote(str(found.resolve()))}")
            if self.library is not None:  # the program is checked with what it will run with
                self.library = self.library.with_paths([found])
            return
        self.missing_patterns.append(given)
        looked = ", ".join(str(base.resolve()) for base in self.base_dirs)
        self.warn(node, f"grok patterns {given}: not found (looked from {looked}); the Logstash "
                  "patterns grok_exporter ships are built in: give your own with --patterns PATH")

    def inline_patterns(self, node: _Node | None) -> None:
        if node is None:
            return
        for item in node.elements():
            found = _PATTERN_DEF.match(str(item.value)) if isinstance(item.value, str) else None
            if found is None:
                self.warn(item, f"not a grok pattern definition (NAME REGEX): {item.value!r}")
                continue
            self.patterns[found.group(1)] = found.group(2)

    def server_section(self, server: _Node | None) -> None:
        host, port = "", 9144  # grok_exporter listens on every interface, port 9144, by default
        if server is not None:
            for key, node in server.items():
                if key == "host":
                    host = str(node.value)
                elif key == "port":
                    port = node.value
                elif key == "path":
                    if node.value != "/metrics":
                        self.warn(node, f"server path {node.value!r}: logmetrics serves /metrics only")
                elif key == "protocol":
                    if node.value == "https":
                        self.warn(node, "https: give the certificate and key in a --web-config file "
                                  "(tls_server_config: cert_file, key_file, client_ca_file, "
                                  "client_auth_type)")
                elif key in ("cert", "key", "client_ca", "client_auth"):
                    self.warn(node, f"server {key}: goes in the --web-config file's tls_server_config")
                else:
                    self.warn(node, f"unknown server setting {key!r} ignored")
        self.run_args.append(f"--listen {host}:{port}")

    def render_header(self) -> str:
        lines = [
            f"# Converted from the grok_exporter configuration {self.filename}.",
            "# Run it with:",
            f"#   logmetrics run --progs {self.program_name} " + " ".join(self.run_args),
        ]
        for given in self.missing_patterns:
            lines.append(f"# grok_exporter read grok patterns from {given}, which is not found here: the "
                         "Logstash patterns")
            lines.append("# it ships are built in; add --patterns PATH (a pattern file or a folder) for "
                         "patterns of your own.")
        if self.patterns:
            lines.append("# Its grok_patterns are written out where the matches use them:")
            lines.extend(f"#   {name} {body}" for name, body in self.patterns.items())
        return "\n".join(lines) + "\n"

    # --- metrics --------------------------------------------------------------

    def metrics_section(self, metrics: _Node | None) -> str:
        if metrics is None or not metrics.elements():
            self.warn(metrics, "no metrics: the program is empty")
            return ""
        out: list[str] = []
        seen: dict[str, int] = {}
        for node in metrics.elements():
            if not isinstance(node.node, yaml.MappingNode):
                raise self.error(node, "a metric must be a mapping with type, name and match")
            name = node.get("name")
            if name is None or not str(name.value or ""):
                raise self.error(node, "a metric has no name")
            if name.value in seen:
                raise self.error(name, f"metric {name.value!r} is defined twice (first on line "
                                 f"{seen[name.value]})")
            seen[name.value] = name.line
            out.append(self.metric(node, str(name.value)))
        return "".join(out)

    def metric(self, node: _Node, name: str) -> str:
        kind_node = node.get("type")
        if kind_node is None:
            raise self.error(node, f"metric {name!r} has no type")
        kind = str(kind_node.value)
        if kind not in METRIC_TYPES:
            raise self.error(kind_node, f"metric {name!r}: unknown type {kind!r} (expected one of "
                             f"{', '.join(METRIC_TYPES)})")
        match = node.get("match")
        if match is None or not isinstance(match.value, str) or not match.value:
            raise self.error(node, f"metric {name!r} has no match")
        for key, value in node.items():
            if key not in _METRIC_KEYS:
                self.warn(value, f"metric {name!r}: unknown setting {key!r} ignored")
        help_node = node.get("help")
        metric = _Metric(name, _ident(name), kind, str(help_node.value) if help_node else None)

        regex = self.regex(match)
        captures = self.captures(regex)

        # Labels: one expression per label, or the label is dropped.
        labels = node.get("labels")
        if labels is not None:
            for label, template in labels.items():
                translated = self.template(template, "string", captures)
                if translated.expr is None:
                    self.warn(template, f"metric {name!r}: label {label!r}: {translated.problem}; "
                              "the label is dropped")
                    continue
                metric.labels.append(label)
                metric.keys.append(translated.expr)

        decl = self.declaration(node, metric)
        update = self.update(node, metric, captures)
        body = [f"  {update}"] if update else []

        retention = node.get("retention")
        if retention is not None and retention.value:
            duration = str(retention.value)
            if not metric.labels:
                self.warn(retention, f"metric {name!r}: retention on a metric without labels has no "
                          "equivalent: its value is kept")
            elif not is_duration(duration):
                self.warn(retention, f"metric {name!r}: retention {duration!r} is not a duration")
            else:
                body.append(f"  del {self.target(metric)} after {duration}")

        block = [f"{regex} {{", *body, "}"]
        paths = self.path_guard(node, name)
        if paths is not None:
            block = [f"{paths} {{", *("  " + line for line in block), "}"]
        text = decl + "\n" + "\n".join(block) + "\n"
        return text + self.deletion(node, metric)

    def declaration(self, node: _Node, metric: _Metric) -> str:
        name = metric.name
        # The language has no HELP syntax: the help text is a comment above the declaration.
        lines = [""] + [f"# {line}".rstrip() for line in (metric.help or "").splitlines()]
        kind = metric.kind
        if kind == "summary":
            quantiles = node.get("quantiles")
            shown = f" {quantiles.value}" if quantiles is not None else ""
            self.warn(node.get("type"), f"metric {name!r}: a summary{shown} has no equivalent; it "
                      "becomes a histogram (quantiles with histogram_quantile() in PromQL)")
            kind = "histogram"
        for key, only in (("cumulative", "gauge"), ("buckets", "histogram"), ("quantiles", "summary"),
                          ("max_age", "summary")):
            value = node.get(key)
            if value is not None and metric.kind != only:
                self.warn(value, f"metric {name!r}: {key} applies to {only} metrics only: ignored")
        max_age = node.get("max_age")
        if max_age is not None and metric.kind == "summary":
            self.warn(max_age, f"metric {name!r}: max_age (the summary's sliding window) has no "
                      "equivalent in a histogram")
        if metric.kind == "counter" and not name.endswith("_total"):
            self.warn(node.get("name"), f"metric {name!r}: logmetrics exports counters with a _total "
                      f"suffix, as {name}_total")
        decl = f"{kind} {metric.ident}"
        if metric.labels:
            decl += " by " + ", ".join(_label(label) for label in metric.labels)
        if metric.ident != name:
            decl += f' as "{name}"'
        if kind == "histogram":
            buckets = node.get("buckets")
            values = list(DEFAULT_BUCKETS)
            if buckets is not None and metric.kind == "histogram":
                if isinstance(buckets.value, list) and buckets.value and all(
                        isinstance(b, int | float) and not isinstance(b, bool) for b in buckets.value):
                    values = sorted(set(buckets.value))
                else:
                    self.warn(buckets, f"metric {name!r}: buckets must be a list of numbers; "
                              "the default buckets are used")
            decl += " buckets " + ", ".join(_number(b) for b in values)
        lines.append(decl)
        return "\n".join(lines)

    def target(self, metric: _Metric) -> str:
        return metric.ident + "".join(f"[{key}]" for key in metric.keys)

    def captures(self, regex: str) -> set[str] | None:
        """The variables a /regex/ literal sets, or None when they cannot be known here."""
        body = regex[1:-1].replace("\\/", "/")
        if self.library is not None:
            try:
                return set(expand(body, self.library).captures)
            except RegexSyntaxError:
                return None  # the compile check reports it
        direct = {make_identifier(m["capture"]) for m in GROK_REFERENCE.finditer(body) if m["capture"]}
        direct.update(_NAMED_GROUP.findall(body))
        # Library patterns may capture too (%{HTTPD_COMBINEDLOG} has 12): without the library
        # only a match with no other grok reference is known completely.
        return direct if not GROK_REFERENCE.search(body) else None

    def template(self, node: _Node, want: str, captures: set[str] | None) -> _Template:
        """A template translated, refused if it reads a field the match does not capture."""
        translated = _translate(str(node.value), want)
        if translated.expr is not None and captures is not None:
            missing = [f for f in translated.fields if make_identifier(f) not in captures]
            if missing:
                return _Template(None, want, f"the match captures no field {missing[0]!r}")
        return translated

    def update(self, node: _Node, metric: _Metric, captures: set[str] | None) -> str | None:
        name, kind = metric.name, metric.kind
        value = node.get("value")
        target = self.target(metric)
        if value is None:
            if kind == "counter":
                return f"{target}++"
            raise self.error(node, f"metric {name!r}: a {kind} needs a value")
        translated = self.template(value, "number", captures)
        if translated.expr is None:
            if kind == "counter":
                self.warn(value, f"metric {name!r}: value: {translated.problem}; the counter counts "
                          "matching lines instead")
                return f"{target}++"
            self.warn(value, f"metric {name!r}: value: {translated.problem}; the metric is never "
                      "updated: write the update by hand")
            return f"# {target} = ...  # value {value.value!r} has no equivalent"
        if kind == "counter":
            return f"{target} += {translated.expr}"
        if kind == "gauge":
            cumulative = node.get("cumulative")
            op = "+=" if cumulative is not None and cumulative.value is True else "="
            return f"{target} {op} {translated.expr}"
        return f"{target} = {translated.expr}"  # histograms (and summaries) observe

    def regex(self, match: _Node) -> str:
        text = str(match.value)
        if "\n" in text:
            self.warn(match, "a match spanning several lines is joined into one")
            text = text.replace("\n", "")
        return "/" + _escape_slashes(self.inline(text, match, ())) + "/"

    def inline(self, text: str, where: _Node, chain: tuple[str, ...]) -> str:
        """``text`` with the configuration's own grok patterns written out in place."""

        def replace(found: re.Match[str]) -> str:
            name, capture, kind = found["name"], found["capture"], found["type"]
            if name not in self.patterns:
                return found.group(0)  # a library pattern: the program's grok expands it
            if name in chain:
                self.warn(where, f"grok pattern {name} refers to itself")
                return found.group(0)
            body = self.inline(self.patterns[name], where, (*chain, name))
            if kind is not None:
                self.warn(where, f"%{{{name}:{capture}:{kind}}}: the type is dropped with the "
                          "pattern written out")
            if capture:
                return f"(?P<{make_identifier(capture)}>{body})"
            return f"(?:{body})"

        return GROK_REFERENCE.sub(replace, text)

    def path_guard(self, node: _Node, name: str) -> str | None:
        """A condition on getfilename() for a metric restricted to some log files, or None."""
        globs: list[str] = []
        for key in ("path", "paths"):
            value = node.get(key)
            if value is not None:
                globs.extend([value.value] if isinstance(value.value, str) else list(value.value or []))
        if not globs:
            return None
        where = node.get("path") or node.get("paths")
        self.warn(where, f"metric {name!r} applies to {', '.join(map(str, globs))} only: the program "
                  "compares getfilename() with it, so --logs must name the files the same way "
                  "(relative globs match the end of the path)")
        return "getfilename() =~ /" + "|".join(_glob_regex(str(g)) for g in globs) + "/"

    def deletion(self, node: _Node, metric: _Metric) -> str:
        match = node.get("delete_match")
        labels = node.get("delete_labels")
        if match is None:
            if labels is not None:
                self.warn(labels, f"metric {metric.name!r}: delete_labels without delete_match is "
                          "ignored")
            return ""
        if labels is None:
            if metric.labels:
                self.warn(match, f"metric {metric.name!r}: delete_match without delete_labels "
                          "deletes every label set in grok_exporter; there is no equivalent")
                return ""
            keys: list[str] = []
        else:
            given = {label: tpl for label, tpl in labels.items()}
            if set(given) != set(metric.labels):
                self.warn(labels, f"metric {metric.name!r}: delete_labels must name every label of the "
                          f"metric ({', '.join(metric.labels) or 'none'}) to have an equivalent")
                return ""
            keys = []
            captures = self.captures(self.regex(match))
            for label in metric.labels:
                translated = self.template(given[label], "string", captures)
                if translated.expr is None:
                    self.warn(given[label], f"metric {metric.name!r}: delete label {label!r}: "
                              f"{translated.problem}; no deletion is converted")
                    return ""
                keys.append(translated.expr)
        regex = self.regex(match)
        target = metric.ident + "".join(f"[{key}]" for key in keys)
        return f"{regex} {{\n  del {target}\n}}\n"


def convert(text: str, filename: str, program_name: str = "grok_exporter.mtail",
            library: PatternLibrary | None = None,
            base_dirs: Sequence[Path] = ()) -> tuple[str, list[ConvertWarning]]:
    """Convert a grok_exporter configuration to a logmetrics program.

    Returns the program text and the warnings, in the order found. Raises
    :class:`~logmetrics.convert.ConvertError` for a file that cannot be
    converted: not YAML, not a mapping, a version other than 2 or 3, a
    metric with no name, type or match. ``program_name`` is the name the
    program's comment tells to run. With a ``library``, a template reading a
    field its match does not capture is refused with a warning; without one,
    only where the match uses no library pattern. ``base_dirs`` are the folders the
    configuration's relative paths may be read from (grok_exporter reads them from
    its working folder): with them, its grok pattern folders and files are checked
    and written as found, and one that exists in none is left out of the command line.
    """
    converter = Converter(text, filename, program_name, library, base_dirs)
    program = converter.convert()
    return program, converter.warnings


# --- Go templates -----------------------------------------------------------------

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)
_WORD = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|[^\s]+')
_FIELD = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)\Z")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\Z")
_ARITH = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/"}


def _translate(template: str, want: str) -> _Template:
    """A label (``want="string"``) or value (``"number"``) template as an expression."""
    pieces: list[_Template] = []
    pos = 0
    for found in _ACTION.finditer(template):
        if found.start() > pos:
            pieces.append(_Template(_string(template[pos:found.start()]), "literal"))
        piece = _action(found.group(1))
        if piece.expr is None:
            return piece
        pieces.append(piece)
        pos = found.end()
    if "{{" in template[pos:]:
        return _Template(None, want, f"template {template!r} is not closed")
    if pos < len(template) or not pieces:
        pieces.append(_Template(_string(template[pos:]), "literal"))
    if want == "number":
        if len(pieces) == 1 and pieces[0].kind == "literal":
            literal = template.strip()
            if _NUMBER.match(literal):
                return _Template(literal, "number")
            return _Template(None, want, f"{template!r} is not a number")
        if len(pieces) != 1:
            return _Template(None, want, f"template {template!r} mixes text and values")
        return pieces[0]
    fields = tuple(f for piece in pieces for f in piece.fields)
    if len(pieces) == 1:
        if pieces[0].kind == "number":
            return _Template(f"string({pieces[0].expr})", want, fields=fields)
        return pieces[0]
    # Text and values: "a" + string($x) concatenates (a bare capture would be arithmetic).
    parts: list[str] = []
    for piece in pieces:
        expr = piece.expr or ""
        plain = piece.kind in ("literal", "string") and not expr.startswith("$")
        parts.append(expr if plain else f"string({expr})")
    return _Template(" + ".join(parts), "string", fields=fields)


def _action(action: str) -> _Template:
    """One ``{{...}}`` action: a field, base, gsub or arithmetic; anything else is refused."""
    words = _WORD.findall(action)
    if not words:
        return _Template(None, "string", "an empty {{}}")
    head, args = words[0], words[1:]
    if not args:
        return _operand(head)
    if head == "base" and len(args) == 1:
        inner = _operand(args[0])
        if inner.expr is None:
            return inner
        return _Template(f'subst(/^.*\\//, "", {inner.expr})', "string", fields=inner.fields)
    if head == "gsub" and len(args) == 3:
        inner = _operand(args[0])
        pattern, replacement = _go_string(args[1]), _go_string(args[2])
        if inner.expr is None:
            return inner
        if pattern is None or replacement is None or "\\" in replacement or "$" in replacement:
            return _Template(None, "string", f"{{{{{action}}}}}: only gsub with a quoted pattern and a "
                             "plain replacement (no \\1 references) has an equivalent")
        return _Template(f"subst(/{_escape_slashes(pattern)}/, {_string(replacement)}, {inner.expr})",
                         "string", fields=inner.fields)
    if head in _ARITH and len(args) == 2:
        left, right = _operand(args[0]), _operand(args[1])
        if left.expr is None or right.expr is None:
            return left if left.expr is None else right
        fields = left.fields + right.fields
        if head == "divide":  # Go's divide is a float division; in the language int / int is not
            return _Template(f"float({left.expr}) / {right.expr}", "number", fields=fields)
        return _Template(f"{left.expr} {_ARITH[head]} {right.expr}", "number", fields=fields)
    return _Template(None, "string", f"{{{{{action}}}}} has no equivalent (only {{{{.field}}}}, base, "
                     "gsub, add, subtract, multiply and divide are converted)")


def _operand(word: str) -> _Template:
    if word == ".logfile":
        return _Template("getfilename()", "string")
    if word == ".extra" or word.startswith(".extra."):
        return _Template(None, "string", "the webhook's .extra has no equivalent")
    found = _FIELD.match(word)
    if found:
        return _Template(f"${make_identifier(found.group(1))}", "string", fields=(found.group(1),))
    if _NUMBER.match(word):
        return _Template(word, "number")
    return _Template(None, "string", f"{word!r} in a template has no equivalent")


def _go_string(word: str) -> str | None:
    """The value of a Go string literal ("..." or `...`), or None."""
    if len(word) >= 2 and word[0] == word[-1] == "`":
        return word[1:-1]
    if len(word) >= 2 and word[0] == word[-1] == '"':
        escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
        return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), "\\" + m.group(1)), word[1:-1])
    return None


# --- names and literals -------------------------------------------------------------


def _ident(name: str) -> str:
    """A variable name for a metric; the real name goes in ``as "..."`` when it differs."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not _NAME.match(ident) or ident in KEYWORDS or ident in BUILTINS:
        ident = "m_" + ident
    return ident


def _label(label: str) -> str:
    return label if _NAME.match(label) and label not in KEYWORDS else _string(label)


def _string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _escape_slashes(regex: str) -> str:
    """A regex for a /.../ literal: every unescaped ``/`` becomes ``\\/``."""
    out: list[str] = []
    i = 0
    while i < len(regex):
        c = regex[i]
        if c == "\\" and i + 1 < len(regex):
            out.append(regex[i:i + 2])
            i += 2
            continue
        out.append("\\/" if c == "/" else c)
        i += 1
    return "".join(out)


def _glob_regex(glob: str) -> str:
    """A file glob as a regex over a path; a relative glob matches the end of the path."""
    absolute = glob.startswith("/")
    while glob.startswith("./"):
        glob = glob[2:]
    out: list[str] = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = glob.find("]", i + 2)
            if end < 0:
                out.append(re.escape(c))
            else:
                inner = glob[i + 1:end]
                out.append("[" + ("^" + inner[1:] if inner.startswith("!") else inner) + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    body = "".join(out)
    return _escape_slashes(("^" if absolute else "(?:^|/)") + body + "$")


def _shell_quote(text: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_./:=@%+-]+", text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"
