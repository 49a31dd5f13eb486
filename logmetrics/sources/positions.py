"""Read positions, persisted per log file in a state directory.

Each log has an offset file in pygtail's format, ``inode\\noffset\\n``, so
that pygtail (and logtail2-style tools) can resume from it, and a sidecar
``.id`` file with the device and a fingerprint of the file's first bytes:
ext4 reuses a freed inode at once, so an inode alone cannot tell a new file
from the old one. Both are written atomically (temp file, fsync, rename,
fsync of the directory). A damaged file is reported and treated as absent.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

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


def same_file(fd: int, st: os.stat_result, known: FileId) -> bool:
    """True if the open file is ``known``: same inode and the same first bytes."""
    if (st.st_dev, st.st_ino) != (known.dev, known.ino):
        return False
    return head_matches(fd, known)


def head_matches(fd: int, known: FileId) -> bool:
    """True if the file starts with the bytes ``known`` was identified by."""
    data = os.pread(fd, known.head_len, 0)
    return len(data) == known.head_len and hashlib.sha1(data).hexdigest() == known.head


class PositionStore:
    """Offset files in ``state_dir``, one per log path."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)

    def offset_file(self, path: str) -> Path:
        """``var_log_apache2_access.log.3f2a9c1b.offset``: readable, and unique per path."""
        absolute = os.path.abspath(path)
        readable = re.sub(r"[^A-Za-z0-9._-]+", "_", absolute).strip("_")[-80:]
        digest = hashlib.sha1(absolute.encode()).hexdigest()[:8]
        return self.state_dir / f"{readable}.{digest}.offset"

    def load(self, path: str) -> Position | None:
        """The saved position of ``path``, or None."""
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
        except ValueError:
            log.warning("damaged offset file %s: reading %s as if new", offset_file, path)
            return None
        file_id = FileId(-1, inode, "", 0)  # inode only, unless the sidecar agrees
        try:
            dev, ino, head, head_len = offset_file.with_suffix(".id").read_text(encoding="ascii").split()
            if int(ino) == inode:
                file_id = FileId(int(dev), inode, head, int(head_len))
        except (OSError, ValueError, UnicodeDecodeError):
            pass
        return Position(file_id, offset)

    def save(self, path: str, position: Position, previous: Position | None = None) -> None:
        """Persist ``position``; the identity file only when the file changed."""
        offset_file = self.offset_file(path)
        if previous is None or previous.file != position.file:
            f = position.file
            _atomic_write(offset_file.with_suffix(".id"), f"{f.dev}\n{f.ino}\n{f.head}\n{f.head_len}\n")
        _atomic_write(offset_file, f"{position.file.ino}\n{position.offset}\n")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
