"""Read positions: which file, identified how, and how far it has been processed.

A position is kept as a device, an inode, a fingerprint of the file's first
bytes (ext4 reuses a freed inode at once, so an inode alone cannot tell a new
file from the old one) and a byte offset. The daemon saves the positions of all
its files together with the metric values in one checkpoint
(``logmetrics/daemon/checkpoint.py``); this module says how one position is
written there and checked when read back.

Versions before 0.2 kept one pygtail-format offset file (``inode\\noffset\\n``)
and one ``.id`` file per log in the state directory. They are read once, when
there is no checkpoint yet (:class:`LegacyOffsets`), and no longer written.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: How many leading bytes identify a file.
FINGERPRINT_BYTES = 1024


@dataclass(frozen=True, slots=True)
class FileId:
    """What identifies a file across renames: device, inode and first bytes."""

    dev: int
    ino: int
    head: str  # hex sha1 of the first head_len bytes
    head_len: int


@dataclass(frozen=True, slots=True)
class Position:
    """How far a file has been processed: its identity and a byte offset."""

    file: FileId
    offset: int


def fingerprint(fd: int, st: os.stat_result) -> FileId:
    """The identity of an open file."""
    data = os.pread(fd, FINGERPRINT_BYTES, 0)
    return FileId(st.st_dev, st.st_ino, hashlib.sha1(data).hexdigest(), len(data))


def head_matches(fd: int, known: FileId) -> bool:
    """True if the file starts with the bytes ``known`` was identified by."""
    data = os.pread(fd, known.head_len, 0)
    return len(data) == known.head_len and hashlib.sha1(data).hexdigest() == known.head


def position_to_json(position: Position) -> list[Any]:
    """``[dev, ino, head, head_len, offset]``, as the checkpoint stores a position."""
    f = position.file
    return [f.dev, f.ino, f.head, f.head_len, position.offset]


def position_from_json(value: Any) -> Position | None:
    """The position :func:`position_to_json` wrote, or None if ``value`` is not one."""
    if not isinstance(value, list) or len(value) != 5:
        return None
    dev, ino, head, head_len, offset = value
    if not (_is_int(dev) and dev >= -1 and _is_int(ino) and ino >= 0 and isinstance(head, str)
            and _is_int(head_len) and 0 <= head_len <= FINGERPRINT_BYTES and _is_int(offset) and offset >= 0):
        return None
    if head_len and not re.fullmatch(r"[0-9a-f]{40}", head):
        return None
    return Position(FileId(dev, ino, head, head_len), offset)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class LegacyOffsets:
    """The per-log offset files of versions before 0.2, read only (see the module docstring)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)

    def files(self) -> list[Path]:
        """The legacy files present, to remove once their positions are in the checkpoint."""
        return sorted(p for p in self.state_dir.glob("*.offset")) + sorted(self.state_dir.glob("*.id"))

    def offset_file(self, path: str) -> Path:
        """``var_log_apache2_access.log.3f2a9c1b.offset``: the name an older version gave ``path``."""
        absolute = os.path.abspath(path)
        readable = re.sub(r"[^A-Za-z0-9._-]+", "_", absolute).strip("_")[-80:]
        digest = hashlib.sha1(os.fsencode(absolute)).hexdigest()[:8]
        return self.state_dir / f"{readable}.{digest}.offset"

    def get(self, path: str) -> Position | None:
        """The saved position of ``path``, or None (also when the file is damaged, with a warning)."""
        offset_file = self.offset_file(path)
        try:
            text = offset_file.read_text(encoding="ascii")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("cannot read %s (%s): reading %s as if new", offset_file, exc, path)
            return None
        try:
            inode_text, offset_text = text.split()
            inode, offset = int(inode_text), int(offset_text)
            if inode < 0 or offset < 0:
                raise ValueError
        except ValueError:
            log.warning("damaged offset file %s: reading %s as if new", offset_file, path)
            return None
        file_id = FileId(-1, inode, "", 0)  # inode only, unless the sidecar agrees
        try:
            dev, ino, head, head_len = offset_file.with_suffix(".id").read_text(encoding="ascii").split()
            known = position_from_json([int(dev), int(ino), head, int(head_len), offset])
            if known is not None and known.file.ino == inode:
                file_id = known.file
        except (OSError, ValueError, UnicodeDecodeError):
            pass
        return Position(file_id, offset)
