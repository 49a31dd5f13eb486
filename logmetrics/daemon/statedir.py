"""The state directory: where it is, and that one daemon at a time owns it.

Two daemons on one state directory would overwrite each other's checkpoint
and reset each other's counters without a word. So the directory is locked
for the daemon's whole life: ``flock`` on a ``lock`` file in it, which holds
the owner's pid. The kernel drops the lock when the process ends, however it
ends (``kill -9`` included), so a stale lock file never blocks a restart.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from logmetrics.errors import LogmetricsError

LOCK_NAME = "lock"


def default_state_dir() -> Path:
    """``/var/lib/logmetrics`` for root, else ``$XDG_STATE_HOME/logmetrics``."""
    if os.geteuid() == 0:
        return Path("/var/lib/logmetrics")
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "logmetrics"


class StateDir:
    """A state directory, created if needed and locked until :meth:`close` or the process ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.mkdir(parents=True, exist_ok=True)
            fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise LogmetricsError(f"cannot use the state directory {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"pid {holder}" if holder else "a process whose pid is not recorded"
            raise LogmetricsError(
                f"the state directory {path} is in use by another logmetrics ({who}); "
                "give each instance its own --state-dir") from None
        except OSError as exc:  # a file system without locks (some NFS setups)
            os.close(fd)
            raise LogmetricsError(f"cannot lock the state directory {path}: {exc.strerror or exc}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd: int | None = fd

    def close(self) -> None:
        """Release the lock (the lock file stays: removing it would race a starting daemon)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
        return int(text) if text else None
    except (OSError, UnicodeDecodeError, ValueError):
        return None
