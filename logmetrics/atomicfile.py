"""Replacing a file so that a reader, or a restart after a crash, sees the old file or the new one.

The one way logmetrics writes a file that must never be seen half-written (the
checkpoint, the textfile for node_exporter): the new content goes to a hidden
temporary file beside the target, is flushed to disk (fsync), renamed over the
target, and the folder is fsynced so that the rename itself survives a power
loss. On any failure the temporary file is removed and the target is left as
it was. A cache, whose entries are checked when read and may be lost, is
written with ``durable=False``: still never seen half-written, but without the
fsyncs, which cost milliseconds each.

    write_atomic(Path("/var/lib/logmetrics/x.json"), b"{}")
    with atomic_writer(path) as f:      # for content written in pieces
        for chunk in chunks:
            f.write(chunk)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def atomic_writer(path: Path, mode: int = 0o644, durable: bool = True) -> Iterator[BinaryIO]:
    """A binary file whose content replaces ``path`` when the block ends without an exception."""
    folder = path.parent
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp makes it 0600; a textfile is read by node_exporter's user
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(folder)


def write_atomic(path: Path, data: bytes, mode: int = 0o644, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` (see the module docstring); raises OSError on failure."""
    with atomic_writer(path, mode, durable) as f:
        f.write(data)


def fsync_dir(folder: Path) -> None:
    """Make the creations, renames and removals in ``folder`` durable."""
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
