"""Which page answers which request, in which format, and the packaged assets.

The HTTP server calls a :data:`Pages` handler for every path it does not
serve itself, after it has checked basic auth; what the handler returns is
sent with the web config's security headers. A handler returns None for a
path it does not know.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from logmetrics.web import inspector, status
from logmetrics.web.html import ASSET_PATH
from logmetrics.web.mtailjson import render_mtail_json
from logmetrics.web.snapshot import CachedStats, RateTracker, StatusInputs, take_snapshot

#: (status line, headers, body)
Answer = tuple[str, list[tuple[str, str]], bytes]
#: What the HTTP server calls: the WSGI environ in, an answer or None out.
Pages = Callable[[dict[str, Any]], Answer | None]

ASSETS = Path(__file__).with_name("assets")
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".svg": "image/svg+xml"}
#: The pages' own policy: nothing from elsewhere, no inline script.
CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


def answer(body: bytes | str, content_type: str, code: str = "200 OK") -> Answer:
    """An answer with the headers every page sends."""
    data = body.encode() if isinstance(body, str) else body
    headers = [("Content-Type", content_type), ("Cache-Control", "no-store"),
               ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer")]
    if content_type == HTML:
        headers += [("Content-Security-Policy", CSP), ("X-Frame-Options", "DENY")]
    return code, headers, data


@cache
def _asset(name: str) -> bytes | None:
    path = ASSETS / name
    if "/" in name or name.startswith(".") or path.suffix not in _TYPES or not path.is_file():
        return None
    return path.read_bytes()


def serve_asset(path: str) -> Answer | None:
    """``/-/assets/NAME``: a file of the package's assets folder, or None."""
    if not path.startswith(ASSET_PATH):
        return None
    name = path[len(ASSET_PATH):]
    data = _asset(name)
    if data is None:
        return answer("no such asset\n", TEXT, "404 Not Found")
    code, headers, body = answer(data, _TYPES[Path(name).suffix])
    headers = [(k, "max-age=300" if k == "Cache-Control" else v) for k, v in headers]
    return code, headers, body


def wants_text(environ: dict[str, Any], query: dict[str, str]) -> bool:
    """Plain text when asked for (``Accept: text/plain`` without HTML, or ``?format=text``)."""
    if query.get("format") in ("text", "html"):
        return query["format"] == "text"
    accept = environ.get("HTTP_ACCEPT", "")
    return "text/plain" in accept and "text/html" not in accept


def query_of(environ: dict[str, Any]) -> dict[str, str]:
    """The query string's parameters (the last of each name)."""
    return dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""))[-20:])


class StatusPages:
    """The daemon's pages: ``/``, ``/inspect``, ``/json``, ``/status.json`` and the assets."""

    def __init__(self, inputs: StatusInputs) -> None:
        self.inputs = replace(inputs, file_stats=CachedStats(inputs.file_stats))
        self.rates = RateTracker()

    def __call__(self, environ: dict[str, Any]) -> Answer | None:
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return None
        path = environ.get("PATH_INFO", "/")
        if path.startswith(ASSET_PATH):
            return serve_asset(path)
        query = query_of(environ)
        if path == "/json":
            return answer(render_mtail_json(self.inputs.runtime.store), JSON)
        if path not in ("/", "/inspect", "/status.json"):
            return None
        snap = take_snapshot(self.inputs, self.rates, files=path != "/inspect")
        if path == "/status.json":
            return answer(json.dumps(snap, separators=(",", ":")) + "\n", JSON)
        text = wants_text(environ, query)
        if path == "/":
            files_q, show_all = query.get("q", ""), query.get("files") == "all"
            if text:
                return answer(status.render_text(snap, files_q, show_all), TEXT)
            return answer(status.render_html(snap, files_q, show_all), HTML)
        unmatched = self.inputs.activity.unmatched()
        program = query.get("prog", "")
        if text:
            return answer(inspector.render_text(snap, unmatched, program), TEXT)
        return answer(inspector.render_html(snap, unmatched, program), HTML)
