"""The status page at ``/``: is it reading my logs, are my programs matching, is anything refused?

Rendered from a snapshot (see snapshot.py) as HTML for a browser or as
aligned plain text for ``curl -H 'Accept: text/plain'``. With thousands of
files the page lists the ones that need attention first (read errors, then
the most bytes behind) and shows :data:`FILES_SHOWN` of them unless asked
for all; a filter narrows them by path.
"""

from __future__ import annotations

import heapq
from typing import Any

from logmetrics.web.html import ago, count, duration, esc, meter, page, rate, size, stamp

KEPT = "The previous version keeps running."
#: Files listed before "show all".
FILES_SHOWN = 100


def _file_order(entry: dict[str, Any]) -> tuple[int, int, str]:
    return (-entry["errors"], -entry["lag"], entry["path"])


def select_files(files: list[dict[str, Any]], query: str, show_all: bool) -> tuple[list[dict[str, Any]], int]:
    """The files to list (filtered by ``query``, worst first) and how many matched the filter."""
    if query:
        files = [f for f in files if query in f["path"]]
    if show_all:
        return sorted(files, key=_file_order), len(files)
    return heapq.nsmallest(FILES_SHOWN, files, key=_file_order), len(files)


def _tile(label: str, value: str, note: str = "", warn: bool = False, ident: str = "") -> str:
    cls = "tile warn" if warn else "tile"
    attr = f' id="{ident}"' if ident else ""
    return (f'<div class="{cls}"{attr}><div class="tile-label">{esc(label)}</div>'
            f'<div class="tile-value">{value}</div><div class="tile-note">{note}</div></div>')


def _programs_html(snap: dict[str, Any]) -> str:
    rows = []
    now = snap["now"]
    for p in snap["programs"]:
        name = esc(p["name"])
        seen, matched = p["lines_seen"], p["lines_matched"]
        share = f"{100 * matched / seen:.1f}%" if seen else "–"
        problem = p["runtime_errors"] or p["load_error"]
        state = ('<span class="badge bad">load error</span>' if p["load_error"] else
                 '<span class="badge ok">running</span>' if p["running"] else "")
        loaded = (f'<span title="{esc(stamp(p["loaded_at"]))}">{esc(ago(p["loaded_at"], now))}</span>'
                  if p["loaded_at"] else "–")
        rows.append(f"""<tr data-prog="{name}"{' class="problem"' if problem else ''}>
<td data-label="Program"><a class="name" href="/inspect#prog-{name}">{name}</a> {state}
<div class="path">{esc(p["path"] or "")}</div></td>
<td data-label="Lines seen" class="num"><span data-field="seen">{count(seen)}</span>
<div class="sub">{rate(p["seen_rate"])}/s</div></td>
<td data-label="Matched" class="num"><span data-field="matched">{count(matched)}</span>
<div class="sub">{share} · {rate(p["matched_rate"])}/s</div></td>
<td data-label="Runtime errors" class="num{' bad' if p['runtime_errors'] else ''}">
<span data-field="errors">{count(p["runtime_errors"])}</span></td>
<td data-label="Loaded" class="num">{loaded}<div class="sub">{count(p["loads_ok"])} ok · \
{count(p["loads_failed"])} failed</div></td></tr>""")
        if p["load_error"]:
            rows.append(f'<tr class="detail"><td colspan="5"><pre class="error">{esc(p["load_error"])}'
                        f'</pre><div class="sub">{KEPT if p["running"] else ""}'
                        "</div></td></tr>")
        for message in p["recent_errors"]:
            rows.append(f'<tr class="detail"><td colspan="5"><code class="error">{esc(message)}</code>'
                        "</td></tr>")
    if not rows:
        return '<p class="empty">No program is loaded.</p>'
    return ('<div class="table-wrap"><table class="rows" id="programs"><thead><tr><th>Program</th>'
            '<th class="num">Lines seen</th><th class="num">Matched</th><th class="num">Runtime errors</th>'
            '<th class="num">Loaded</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table></div>")


def _files_html(snap: dict[str, Any], query: str, show_all: bool) -> str:
    now = snap["now"]
    shown, matching = select_files(snap["files"], query, show_all)
    rows = []
    for f in shown:
        path = esc(f["path"])
        behind = f["lag"] > 0
        rows.append(f"""<tr data-file="{path}"{' class="problem"' if f['errors'] else ''}>
<td data-label="File" class="path-cell"><span class="name">{path}</span></td>
<td data-label="Read" class="num"><span title="{count(f['position'])} of {count(f['size'])} bytes">\
{size(f['position'])} / {size(f['size'])}</span> {meter(f['position'], f['size'] or 1, warn=behind)}</td>
<td data-label="Behind" class="num{' warn' if behind else ''}">{size(f['lag'])}</td>
<td data-label="Lines" class="num"><span data-field="lines">{count(f['lines'])}</span>
<div class="sub">{rate(f['lines_rate'])}/s</div></td>
<td data-label="Rotations" class="num" data-field="rotations">{count(f['rotations'])}</td>
<td data-label="Last read" class="num">{esc(ago(f['last_read'], now))}</td>
<td data-label="Read errors" class="num{' bad' if f['errors'] else ''}" data-field="read-errors">\
{count(f['errors'])}</td></tr>""")
    total = len(snap["files"])
    more = ""
    if matching > len(shown):
        more = (f'<p class="more">Showing the {len(shown)} files that most need attention '
                f'of {count(matching)}. '
                f'<a href="?files=all{"&amp;q=" + esc(query) if query else ""}#files">Show all</a></p>')
    search = ""
    if total > 10 or query:
        search = (f'<form class="filter" method="get" action="/#files"><label>Filter files '
                  f'<input type="search" name="q" value="{esc(query)}" placeholder="part of a path"></label>'
                  f'<button type="submit">Filter</button></form>')
    if not rows:
        empty = "No file matches the filter." if query else "No file is followed yet."
        body = f'<p class="empty">{empty}</p>'
    else:
        body = ('<div class="table-wrap"><table class="rows" id="files-table"><thead><tr><th>File</th>'
                '<th class="num">Read</th><th class="num">Behind</th><th class="num">Lines</th>'
                '<th class="num">Rotations</th><th class="num">Last read</th><th class="num">Read errors</th>'
                '</tr></thead><tbody>' + "".join(rows) + "</tbody></table></div>")
    return search + body + more


def _streams_html(snap: dict[str, Any]) -> str:
    now = snap["now"]
    rows = []
    for s in snap["streams"]:
        dropped = ", ".join(f"{count(n)} {reason}" for reason, n in sorted(s["dropped_by"].items()))
        rows.append(f"""<tr data-source="{esc(s['source'])}"{' class="problem"' if s['dropped'] else ''}>
<td data-label="Source"><span class="name">{esc(s['source'])}</span></td>
<td data-label="Lines" class="num" data-field="lines">{count(s['lines'])}</td>
<td data-label="Bytes" class="num">{size(s['bytes'])}</td>
<td data-label="Connections" class="num">{count(s['open'])} open<div class="sub">{count(s['connections'])} \
in all</div></td>
<td data-label="Last read" class="num">{esc(ago(s['last_read'], now))}</td>
<td data-label="Dropped" class="num{' bad' if s['dropped'] else ''}">{count(s['dropped'])}\
<div class="sub">{esc(dropped)}</div></td></tr>""")
    return ('<div class="table-wrap"><table class="rows" id="streams-table"><thead><tr><th>Source</th>'
            '<th class="num">Lines</th><th class="num">Bytes</th><th class="num">Connections</th>'
            '<th class="num">Last read</th><th class="num">Dropped</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table></div>")


def _metrics_html(snap: dict[str, Any]) -> str:
    rows = []
    for m in snap["metrics"]:
        sets = m["label_sets"]
        full = sets is not None and sets >= m["cap"]
        used = "–" if sets is None else f'{count(sets)} / {count(m["cap"])}'
        bar = "" if sets is None else meter(sets, m["cap"], warn=full or m["refused"] > 0)
        cap_note = "limit" if m["cap_is_limit"] else "--max-label-sets"
        rows.append(f"""<tr data-metric="{esc(m['name'])}"{' class="problem"' if m['refused'] else ''}>
<td data-label="Metric"><span class="name">{esc(m['name'])}</span><div class="path">{esc(m['program'])}\
{' · hidden' if m['hidden'] else ''}</div></td>
<td data-label="Kind">{esc(m['kind'])}</td>
<td data-label="Label sets" class="num">{used} {bar}<div class="sub">{'' if sets is None else cap_note}\
</div></td>
<td data-label="Refused" class="num{' bad' if m['refused'] else ''}" data-field="refused">\
{count(m['refused'])}</td>
</tr>""")
    if not rows:
        return '<p class="empty">No metric is declared.</p>'
    return ('<div class="table-wrap"><table class="rows" id="metrics-table"><thead><tr><th>Metric</th>'
            '<th>Kind</th>'
            '<th class="num">Label sets</th><th class="num">Refused</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table></div>")


def render_html(snap: dict[str, Any], query: str = "", show_all: bool = False) -> bytes:
    """The status page."""
    t = snap["totals"]
    tiles = "".join([
        _tile("Lines read", f'<span data-field="lines">{count(snap["lines"])}</span>',
              f'{rate(snap["lines_rate"])} lines/s', ident="tile-lines"),
        _tile("Files", count(t["files"]), f'{count(t["lagging"])} behind', ident="tile-files"),
        _tile("Programs", count(t["programs"]),
              f'{count(t["failing"])} with load errors' if t["failing"] else "all loaded",
              warn=t["failing"] > 0, ident="tile-programs"),
        _tile("Problems", count(t["read_errors"] + t["runtime_errors"] + t["refused"]),
              f'{count(t["read_errors"])} read · {count(t["runtime_errors"])} runtime · '
              f'{count(t["refused"])} refused',
              warn=(t["read_errors"] + t["runtime_errors"] + t["refused"]) > 0, ident="tile-problems"),
    ])
    subtitle = (f'up {esc(duration(snap["uptime"]))} · since {esc(stamp(snap["started"]))} · '
                f'Python {esc(snap["python"])}')
    streams = ""
    if snap["streams"]:
        streams = (f'<section id="streams"><h2>Streams <span class="count">{count(len(snap["streams"]))}'
                   f'</span></h2>{_streams_html(snap)}</section>')
    body = f"""<section class="tiles">{tiles}</section>
<section id="programs-section"><h2>Programs <span class="count">{count(len(snap["programs"]))}</span></h2>
{_programs_html(snap)}</section>
<section id="files"><h2>Files <span class="count">{count(t["files"])}</span></h2>
{_files_html(snap, query, show_all)}</section>
{streams}
<section id="metrics-section"><h2>Metrics <span class="count">{count(len(snap["metrics"]))}</span></h2>
{_metrics_html(snap)}</section>
<footer>Numbers as of {esc(stamp(snap["now"]))}; rates over the last minute. The same numbers are in
<a href="/metrics">/metrics</a> (<code>logmetrics_*</code>) and
<a href="/status.json">/status.json</a>.</footer>"""
    return page("Status", body, "/", subtitle)


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def render_text(snap: dict[str, Any], query: str = "", show_all: bool = False) -> str:
    """The status page as aligned plain text, for a terminal."""
    t = snap["totals"]
    now = snap["now"]
    out = [f"logmetrics {snap['version']}, up {duration(snap['uptime'])} (since {stamp(snap['started'])})",
           f"lines read {count(snap['lines'])} ({rate(snap['lines_rate'])}/s); files {count(t['files'])} "
           f"({count(t['lagging'])} behind); programs {count(t['programs'])} ({count(t['failing'])} with "
           f"load errors); read errors {count(t['read_errors'])}, "
           f"runtime errors {count(t['runtime_errors'])}, "
           f"label sets refused {count(t['refused'])}", "", "PROGRAMS"]
    rows = []
    for p in snap["programs"]:
        rows.append([p["name"], count(p["lines_seen"]), count(p["lines_matched"]), count(p["runtime_errors"]),
                     f"{rate(p['matched_rate'])}/s", ago(p["loaded_at"], now) if p["loaded_at"] else "-",
                     "LOAD ERROR" if p["load_error"] else ""])
    out += _table(["program", "seen", "matched", "errors", "matched/s", "loaded", ""], rows, {1, 2, 3, 4})
    for p in snap["programs"]:
        if p["load_error"]:
            out += ["", f"{p['name']}: does not load:",
                    *("  " + line for line in p["load_error"].splitlines())]
    shown, matching = select_files(snap["files"], query, show_all)
    out += ["", "FILES" + (f" (the {len(shown)} that most need attention of {matching}; ?files=all for all)"
                            if matching > len(shown) else "")]
    rows = [[f["path"], count(f["position"]), count(f["size"]), count(f["lag"]), count(f["lines"]),
             count(f["rotations"]), ago(f["last_read"], now), count(f["errors"])] for f in shown]
    out += _table(["file", "position", "size", "behind", "lines", "rotations", "last read", "errors"], rows,
                  {1, 2, 3, 4, 5, 7})
    if snap["streams"]:
        out += ["", "STREAMS"]
        rows = [[s["source"], count(s["lines"]), count(s["bytes"]), count(s["open"]), count(s["connections"]),
                 ago(s["last_read"], now), count(s["dropped"])] for s in snap["streams"]]
        out += _table(["source", "lines", "bytes", "open", "connections", "last read", "dropped"], rows,
                      {1, 2, 3, 4, 6})
    out += ["", "METRICS"]
    rows = [[m["program"], m["name"], m["kind"], "-" if m["label_sets"] is None else count(m["label_sets"]),
             "-" if m["label_sets"] is None else count(m["cap"]), count(m["refused"])]
            for m in snap["metrics"]]
    out += _table(["program", "metric", "kind", "label sets", "cap", "refused"], rows, {3, 4, 5})
    return "\n".join(out) + "\n"
