"""Expanding ``--logs`` globs again and again, cheaply: a folder is listed again only when it changed.

Expanding a glob lists its folder and matches every name: with thousands of
logs, tens of milliseconds at each rescan, for an answer that rarely changes.
A glob with wildcards in its last part only (``/var/log/apache2/*.log``, or a
plain path) is expanded again only when its folder's state changed: a folder's
modification time changes whenever a name is added to, removed from or renamed
in it. The time is trusted only once it is :data:`MTIME_TRUST` seconds older
than the listing (see :class:`_Listing`), every listing is redone after
:data:`RELIST_AFTER` seconds whatever the time says, and :meth:`GlobLister.forget`
expands a folder's globs again at once (on a create or move event). Other
globs (``**``, wildcards in folder names) are expanded every time. Folders are
left out of every expansion (a directory a log glob matches is not a log).
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

#: A listing is reused only if its folder's time is at least this much older than the listing:
#: file systems keep times at a granularity (2 s on FAT, a clock tick on ext4), and a name added
#: within the same granule as the time seen would not change it.
MTIME_TRUST = 5.0
#: A listing is redone after this long even if its folder's time did not change (file systems
#: that keep no folder times).
RELIST_AFTER = 60.0


@dataclass
class _Listing:
    """One glob's last expansion, and the state (device, inode, mtime) of its folder then.

    Reused while the folder's state is unchanged and its time was at least
    :data:`MTIME_TRUST` older than the moment the listing started: a change after
    that moment gives the folder a later time, so a different state."""

    folder: str
    state: tuple[int, int, int]
    trusted: bool
    paths: list[str]
    until: float  # monotonic time after which it is redone anyway


class GlobLister:
    """Expands globs, reusing the last expansion of those whose folder did not change.

    ``always=True`` expands every glob every time (``--poll``: on NFS and FUSE a
    folder's time may be cached or not kept)."""

    def __init__(self, always: bool = False) -> None:
        self.always = always
        self._listings: dict[str, _Listing] = {}
        self._folders: dict[str, dict[str, bool]] = {}  # per other glob: each path, and if it is a folder

    def expand(self, pattern: str) -> tuple[list[str], bool]:
        """The absolute paths ``pattern`` matches now, folders left out, and False if they are the
        last expansion's (its folder unchanged). The list is shared: do not change it."""
        absolute = os.path.abspath(pattern)
        folder = os.path.dirname(absolute)
        if "**" in absolute or glob.has_magic(folder):
            return self._without_folders(pattern, glob.glob(pattern, recursive=True)), True
        if self.always:
            return _list(folder, os.path.basename(absolute)), True
        try:
            st = os.stat(folder)
        except OSError:
            self._listings.pop(pattern, None)
            return [], True
        state = (st.st_dev, st.st_ino, st.st_mtime_ns)
        last = self._listings.get(pattern)
        if last is not None and last.trusted and last.state == state and time.monotonic() < last.until:
            return last.paths, False
        started = time.time()
        paths = _list(folder, os.path.basename(absolute))
        self._listings[pattern] = _Listing(folder, state, started - st.st_mtime_ns / 1e9 >= MTIME_TRUST,
                                           paths, time.monotonic() + RELIST_AFTER)
        return paths, True

    def _without_folders(self, pattern: str, found: list[str]) -> list[str]:
        """``found`` made absolute, folders left out; each path is stat()ed once, when first seen."""
        known = self._folders.get(pattern, {})
        kinds = {}
        for path in map(os.path.abspath, found):
            kinds[path] = known[path] if path in known else os.path.isdir(path)
        self._folders[pattern] = kinds
        return [path for path, is_folder in kinds.items() if not is_folder]

    def forget(self, *paths: str) -> None:
        """Expand again, at the next call, the globs of the folders ``paths`` are in."""
        folders = {os.path.dirname(path) for path in paths if path}
        for pattern in [p for p, listing in self._listings.items() if listing.folder in folders]:
            del self._listings[pattern]


def _list(folder: str, name: str) -> list[str]:
    """The entries of ``folder`` matching the glob ``name`` that are not folders, as ``glob`` matches
    them (a name starting with a dot only if ``name`` does); the entries' types come with the
    listing, so that no entry is stat()ed (on most file systems)."""
    if not glob.has_magic(name):
        path = os.path.join(folder, name)
        return [path] if os.path.lexists(path) and not os.path.isdir(path) else []
    match = _matcher(name)
    hidden = name.startswith(".")
    out = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if (hidden or not entry.name.startswith(".")) and match(entry.name):
                    try:
                        if entry.is_dir():
                            continue
                    except OSError:
                        pass
                    out.append(os.path.join(folder, entry.name))
    except OSError:
        return []
    return out


@lru_cache(maxsize=64)
def _matcher(name: str) -> Callable[[str], re.Match[str] | None]:
    return re.compile(fnmatch.translate(name)).match
