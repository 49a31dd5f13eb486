"""The match inspector at ``/inspect``: why does my pattern not match?

For each program, every pattern site (each regex or grok condition in its
source, at its ``file:line``) with the number of lines it matched since the
program was loaded, so that a pattern that never matches shows at once;
and, when the daemon keeps them (``run --keep-unmatched N``), the last lines
no program matched, per file.
"""

from __future__ import annotations

from typing import Any

from logmetrics.web.html import ago, count, esc, meter, page

_UNCOUNTED = "under ! or !~, or in a condition that mixes &amp;&amp; and ||"
_NO_SITES = "This program has no pattern: every line runs its statements."


def _sites_html(program: dict[str, Any]) -> str:
    sites = program["sites"]
    if not sites:
        return f'<p class="empty">{_NO_SITES}</p>'
    seen = program["lines_seen"]
    rows = []
    for site in sites:
        matched = site["matched"]
        dead = matched == 0
        badge = '<span class="badge bad">never matched</span>' if dead and seen else ""
        shown = (f'<span data-field="site-matched">{count(matched)}</span> lines' if matched is not None
                 else f'<span class="sub" title="{_UNCOUNTED}">not counted</span>')
        bar = meter(matched, seen or 1, warn=dead) if matched is not None else ""
        rows.append(f"""<li class="site{' dead' if dead else ''}" data-site="{esc(site['where'])}">
<div class="site-head"><span class="where" title="column {site['col']}">{esc(site['where'])}</span> {badge}
<span class="site-count">{shown}</span></div>
<code class="site-text">{esc(site['text'])}</code>{bar}</li>""")
    return '<ol class="sites">' + "".join(rows) + "</ol>"


def _unmatched_html(snap: dict[str, Any], unmatched: dict[str, list[Any]]) -> str:
    if not snap["keep_unmatched"]:
        return ('<p class="empty">Unmatched lines are not kept: logs may hold secrets. Start the daemon '
                'with <code>--keep-unmatched N</code> to keep the last N lines no program matched, '
                'per file.</p>')
    if not unmatched:
        return '<p class="empty">Every line read so far was matched by some program.</p>'
    now = snap["now"]
    parts = []
    for path, lines in unmatched.items():
        items = "".join(f'<li><span class="when">{esc(ago(u.seen, now))}</span>'
                        f'<code>{esc(u.text)}</code></li>' for u in reversed(lines))
        parts.append(f'<details class="unmatched" open data-file="{esc(path)}"><summary><span class="name">'
                     f'{esc(path)}</span> <span class="count">{count(len(lines))}</span></summary>'
                     f'<ol class="lines">{items}</ol></details>')
    return "".join(parts)


def render_html(snap: dict[str, Any], unmatched: dict[str, list[Any]], program: str = "") -> bytes:
    """The inspector page; ``program`` narrows it to one program."""
    cards = []
    programs = [p for p in snap["programs"] if not program or p["name"] == program]
    for p in programs:
        seen, matched = p["lines_seen"], p["lines_matched"]
        dead = sum(1 for s in p["sites"] if s["matched"] == 0)  # None: not counted
        share = f"{100 * matched / seen:.1f}%" if seen else "–"
        note = (f'<span class="badge bad">{count(dead)} never matched</span>' if dead and seen else "")
        cards.append(f"""<article class="card" id="prog-{esc(p['name'])}" data-prog="{esc(p['name'])}">
<header><h3>{esc(p['name'])}</h3> {note}<div class="path">{esc(p['path'] or '')}</div>
<div class="sub"><span data-field="matched">{count(matched)}</span> of <span data-field="seen">\
{count(seen)}</span> lines matched ({share}) · {count(len(p['sites']))} pattern sites</div></header>
{_sites_html(p)}</article>""")
    if not cards:
        cards.append('<p class="empty">No program is loaded.</p>')
    body = f"""<section id="sites"><h2>Pattern sites</h2>
<p class="help">Lines each pattern matched since its program was loaded. A pattern inside another's block
counts the lines that reached it and matched.</p>
<div class="cards">{''.join(cards)}</div></section>
<section id="unmatched"><h2>Lines no program matched</h2>{_unmatched_html(snap, unmatched)}</section>"""
    return page("Inspector", body, "/inspect", "pattern sites and unmatched lines")


def render_text(snap: dict[str, Any], unmatched: dict[str, list[Any]], program: str = "") -> str:
    """The inspector as plain text."""
    out: list[str] = []
    for p in snap["programs"]:
        if program and p["name"] != program:
            continue
        out.append(f"{p['name']}: {count(p['lines_matched'])} of {count(p['lines_seen'])} lines matched")
        if not p["sites"]:
            out.append(f"  {_NO_SITES}")
        width = max((len(s["where"]) for s in p["sites"]), default=0)
        for s in p["sites"]:
            flag = "  NEVER MATCHED" if s["matched"] == 0 and p["lines_seen"] else ""
            shown = "not counted" if s["matched"] is None else count(s["matched"])
            out.append(f"  {s['where'].ljust(width)}  {shown.rjust(12)}  {s['text']}{flag}")
        out.append("")
    if not snap["keep_unmatched"]:
        out.append("unmatched lines are not kept (run --keep-unmatched N keeps them)")
    else:
        out.append("LINES NO PROGRAM MATCHED")
        for path, lines in unmatched.items():
            out.append(f"{path}:")
            out += [f"  {u.text}" for u in lines]
    return "\n".join(out) + "\n"
