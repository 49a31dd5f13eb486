"""The program playground: write a program against sample lines and see at once what it does.

One page with the program and the sample side by side; each edit posts both
to ``/api/run``, which compiles the program (errors at their line and
column), runs the sample through it line by line, and answers with the
metrics, which lines matched at which pattern site, and the sites' counts.
``/api/explain`` gives one line's captures, ``/api/save`` writes the program
(and, on request, a ``logmetrics test`` case) to the files the user named.

The playground runs code the user types, so it guards itself: sizes are
bounded, a run stops after :data:`RUN_BUDGET` seconds, regexes run under the
runtime's runaway-regex budget, and it reads no file but those named on its
command line. The API answers only requests carrying the page's token and a
``Host`` that is an address or ``localhost`` (no other site's page, and no DNS
rebinding, can drive it).
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from logmetrics.errors import CompileError, CompileErrors
from logmetrics.exposition.render import render
from logmetrics.grok import PatternLibrary
from logmetrics.runtime.engine import Runtime
from logmetrics.runtime.program import Program
from logmetrics.runtime.trace import explain_line
from logmetrics.web.html import esc, page
from logmetrics.web.routes import HTML, JSON, TEXT, Answer, answer, serve_asset

#: Bytes of a request body (program and sample together).
MAX_BODY = 2 * 1024 * 1024
#: Characters of a program.
MAX_PROGRAM = 256 * 1024
#: Lines of a sample, and characters of one line.
MAX_LINES = 10_000
MAX_LINE = 16 * 1024
#: Seconds a run may take before it stops with the lines done so far.
RUN_BUDGET = 3.0

#: What "Save" calls: (program text, sample text, test case name or None) -> paths written.
Saver = Callable[[str, str, str | None], list[str]]


class PlaygroundError(Exception):
    """A request the playground refuses, with the message the page shows."""


@dataclass
class PlaygroundFiles:
    """What the playground was started with."""

    program_name: str  # e.g. "access.mtail"
    program_label: str  # where the program comes from, as shown on the page
    program_text: str
    sample_name: str  # the sample's file name, what getfilename() returns
    sample_text: str
    save_hint: str = ""  # why Save is not offered, when it is not


def split_sample(text: str) -> list[str]:
    """Sample text as log lines (a final newline ends the last line, it does not start one)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) > MAX_LINES:
        raise PlaygroundError(f"the sample has {len(lines):,} lines; the playground takes {MAX_LINES:,}")
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _error(error: CompileError, program_label: str) -> dict[str, Any]:
    return {"file": error.pos.file, "line": error.pos.line, "col": error.pos.col, "message": error.message,
            "in_program": error.pos.file == program_label, "text": str(error)}


class Playground:
    """The playground's pages and API, for :class:`~logmetrics.exposition.server.MetricsServer`."""

    def __init__(self, files: PlaygroundFiles, library: PatternLibrary, saver: Saver | None) -> None:
        self.files = files
        self.library = library
        self.saver = saver
        self.token = secrets.token_urlsafe(24)

    # --- running --------------------------------------------------------------------------

    def compile(self, text: str) -> Program:
        if len(text) > MAX_PROGRAM:
            raise PlaygroundError(f"the program has {len(text):,} characters; the playground takes "
                                  f"{MAX_PROGRAM:,}")
        return Program.compile(text, self.files.program_label, self.library, name=self.files.program_name)

    def run(self, program_text: str, sample_text: str, explain: int | None = None) -> dict[str, Any]:
        """Compile and run; see the module docstring. ``explain``: also the captures of that line
        (counted from 0)."""
        lines = split_sample(sample_text)
        try:
            program = self.compile(program_text)
        except CompileErrors as exc:
            return {"ok": False, "errors": [_error(e, self.files.program_label) for e in exc.errors]}
        except CompileError as exc:
            return {"ok": False, "errors": [_error(exc, self.files.program_label)]}
        runtime = Runtime([program])
        deadline = time.monotonic() + RUN_BUDGET
        index_of = {site.number: i for i, site in enumerate(program.sites)}
        traced: list[dict[str, Any]] = []
        detail = None
        stopped = False
        for index, line in enumerate(lines):
            if time.monotonic() > deadline:
                stopped = True
                break
            trace = explain_line(runtime, line[:MAX_LINE], self.files.sample_name,
                                 captures=(index == explain))[0]
            traced.append({"m": trace.matched, "s": [index_of[s.number] for s in trace.sites],
                           "e": trace.error})
            if index == explain:
                detail = {"line": index, "error": trace.error, "sites": [
                    {"where": s.where, "text": s.source,
                     "captures": None if s.captures is None else [
                         {"name": c.name, "text": c.text, "type": c.type, "value": c.value}
                         for c in s.captures]}
                    for s in trace.sites]}
        hits = program.site_hits
        sites = [{"where": s.where, "line": s.pos.line, "text": s.text, "counted": s.counted,
                  "matched": hits[s.number] if s.counted and s.number < len(hits) else None}
                 for s in program.sites]
        return {
            "ok": True, "errors": [], "metrics": render(runtime.store, "prometheus"), "lines": traced,
            "sites": sites, "matched": program.stats.lines_matched, "total": len(lines),
            "stopped": stopped, "detail": detail,
        }

    # --- HTTP -----------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any]) -> Answer | None:
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/-/assets/") and method in ("GET", "HEAD"):
            return serve_asset(path)
        if path == "/" and method in ("GET", "HEAD"):
            return answer(self.page(), HTML)
        if path in ("/api/run", "/api/save"):
            if method != "POST":
                return answer("POST only\n", TEXT, "405 Method Not Allowed")
            try:
                request = self._request(environ)
                result = self.run(str(request.get("program", "")), str(request.get("sample", "")),
                                  _line(request.get("explain"))) if path == "/api/run" else self.save(request)
            except PlaygroundError as exc:
                return answer(json.dumps({"ok": False, "message": str(exc)}), JSON, "400 Bad Request")
            return answer(json.dumps(result), JSON)
        return None

    def _request(self, environ: dict[str, Any]) -> dict[str, Any]:
        host = environ.get("HTTP_HOST", "").rsplit(":", 1)[0].strip("[]")
        if not _local_host(host):
            raise PlaygroundError(f"requests for host {host!r} are refused: open the playground by address")
        if not secrets.compare_digest(environ.get("HTTP_X_PLAYGROUND_TOKEN", ""), self.token):
            raise PlaygroundError("missing or wrong playground token: reload the page")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise PlaygroundError("bad Content-Length") from None
        if length > MAX_BODY:
            raise PlaygroundError(f"the request has {length:,} bytes; the playground takes {MAX_BODY:,}")
        try:
            request = json.loads(environ["wsgi.input"].read(length) or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise PlaygroundError(f"the request is not JSON: {exc}") from None
        if not isinstance(request, dict):
            raise PlaygroundError("the request is not a JSON object")
        return request

    def save(self, request: dict[str, Any]) -> dict[str, Any]:
        """Write the program (and a test case when ``case`` names one) through the saver."""
        if self.saver is None:
            raise PlaygroundError(self.files.save_hint or "nothing to save to")
        program, sample = str(request.get("program", "")), str(request.get("sample", ""))
        case = request.get("case")
        if case is not None:
            case = str(case).strip()
            if not case or not all(c.isalnum() or c in "-_" for c in case):
                raise PlaygroundError("a test case name is letters, digits, - and _")
        try:
            self.compile(program)
        except (CompileErrors, CompileError) as exc:
            raise PlaygroundError(f"not saved: the program does not compile ({exc})") from None
        split_sample(sample)
        try:
            written = self.saver(program, sample, case)
        except OSError as exc:
            raise PlaygroundError(f"not saved: {exc.strerror or exc}") from None
        self.files.program_text, self.files.sample_text = program, sample
        return {"ok": True, "saved": written}

    def page(self) -> bytes:
        f = self.files
        save = ('<button type="button" class="primary" id="save">Save</button>'
                '<label><input type="checkbox" id="save-case"> and a test case named</label>'
                '<input type="text" id="case-name" value="playground" size="14" aria-label="test case name">'
                if self.saver else f'<span class="sub">{esc(f.save_hint)}</span>')
        body = f"""<meta name="playground-token" content="{esc(self.token)}">
<div class="play">
<section class="pane" aria-label="program"><div class="pane-head"><h2>Program</h2>
<code class="path">{esc(f.program_label)}</code>
<span class="sub status-line" id="compile-status"></span></div>
<div class="editor" id="program-editor"><div class="gutter" id="program-gutter" aria-hidden="true">1</div>
<textarea class="code" id="program" spellcheck="false" autocapitalize="off" autocomplete="off"
 aria-label="program text">{esc(f.program_text)}</textarea></div>
<ul class="errors" id="errors"></ul></section>
<section class="pane" aria-label="sample"><div class="pane-head"><h2>Sample</h2>
<code class="path">{esc(f.sample_name)}</code><span class="sub" id="sample-status"></span></div>
<div class="editor"><div class="gutter" id="sample-gutter" aria-hidden="true">1</div>
<textarea class="code" id="sample" spellcheck="false" autocapitalize="off" autocomplete="off" wrap="off"
 aria-label="sample log lines">{esc(f.sample_text)}</textarea></div></section>
</div>
<div class="results">
<section class="pane" aria-label="trace"><div class="pane-head"><h2>Lines</h2>
<span class="sub" id="trace-status"></span></div><ol class="trace" id="trace"></ol>
<div class="detail-box" id="detail"><p class="help">Choose a line to see which pattern matched it and
what it captured.</p></div></section>
<section class="pane" aria-label="metrics"><div class="pane-head"><h2>Metrics</h2>
<span class="sub" id="sites-status"></span></div><pre class="metrics" id="metrics"></pre>
<div class="save-row">{save}<span class="status-line" id="save-status" role="status"></span></div></section>
</div>"""
        return page("Playground", body, "/", "edit the program or the sample: results follow as you type",
                    nav=(("/", "Playground"),), script="playground.js")


def _line(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _local_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
