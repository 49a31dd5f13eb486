"""What every page shares: escaping, number formats, and the page shell (header, navigation, assets)."""

from __future__ import annotations

import html
import time

from logmetrics import __version__

#: The pages' own stylesheet and script, served from the package (see routes.py).
ASSET_PATH = "/-/assets/"


def esc(value: object) -> str:
    """Text made safe for HTML content and attribute values."""
    return html.escape(str(value), quote=True)


def count(value: float) -> str:
    """An exact count with thousands separators: ``12,345``."""
    return f"{int(value):,}"


def rate(value: float) -> str:
    """A per-second rate, short: ``0``, ``0.25``, ``12.5``, ``1,234``."""
    if value == 0:
        return "0"
    if value < 10:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if value < 100:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:,.0f}"


def size(value: float) -> str:
    """Bytes for a person: ``512 B``, ``3.4 kB``, ``12.0 MB``."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover - the loop returns


def duration(seconds: float) -> str:
    """``42s``, ``5m 03s``, ``3h 12m``, ``4d 7h``."""
    seconds = int(max(0, seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def ago(when: float | None, now: float) -> str:
    """``never``, ``just now``, ``5m 03s ago``."""
    if when is None:
        return "never"
    if now - when < 1:
        return "just now"
    return duration(now - when) + " ago"


def stamp(when: float) -> str:
    """A local date and time, to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))


def meter(value: float, total: float, warn: bool = False) -> str:
    """A small horizontal bar: how much of ``total`` ``value`` is (SVG: no inline style, so a strict
    Content-Security-Policy allows it)."""
    share = 0.0 if total <= 0 else max(0.0, min(1.0, value / total))
    kind = " warn" if warn else ""
    return (f'<svg class="meter{kind}" viewBox="0 0 100 6" preserveAspectRatio="none" role="img" '
            f'aria-label="{share * 100:.0f}%"><rect class="track" width="100" height="6" rx="3"/>'
            f'<rect class="fill" width="{share * 100:.1f}" height="6" rx="3"/></svg>')


NAV = (("/", "Status"), ("/inspect", "Inspector"), ("/metrics", "Metrics"), ("/json", "JSON"))


def page(title: str, body: str, active: str, subtitle: str = "", nav: tuple[tuple[str, str], ...] = NAV,
         script: str | None = None) -> bytes:
    """A whole HTML page: header with navigation, then ``body``."""
    links = "".join(
        f'<a href="{href}"{" aria-current=page" if href == active else ""}>{esc(label)}</a>'
        for href, label in nav
    )
    script_tag = f'<script src="{ASSET_PATH}{script}" defer></script>' if script else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} · logmetrics</title>
<link rel="stylesheet" href="{ASSET_PATH}style.css">{script_tag}
</head><body>
<header class="top"><div class="brand"><span class="logo" aria-hidden="true"></span>logmetrics
<span class="version">{esc(__version__)}</span></div>
<nav>{links}</nav><div class="subtitle">{subtitle}</div></header>
<main>
{body}
</main>
</body></html>
""".encode()
