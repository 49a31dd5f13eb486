"""Signals as flags: the handlers take no lock and do no work.

A Python signal handler runs in the main thread between two bytecodes, possibly
while that thread holds a lock (inside ``Event.wait``, inside ``logging``). So
the handlers here only assign an attribute; ``signal.set_wakeup_fd`` makes the C
level write the signal number to the daemon's wake-up pipe, which ends the
main loop's sleep, and the loop acts on the flags (logging included) itself.
"""

from __future__ import annotations

import signal
from types import FrameType


class SignalFlags:
    """What the signals asked for since the main loop last looked."""

    def __init__(self) -> None:
        self.stop_signal: int | None = None  # the first SIGTERM/SIGINT received
        self.reload = False  # a SIGHUP arrived

    def install(self, wake_fd: int) -> None:
        """Handle SIGTERM, SIGINT and SIGHUP; write each signal's number to ``wake_fd``."""
        signal.set_wakeup_fd(wake_fd, warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)

    def _on_stop(self, signum: int, _frame: FrameType | None) -> None:
        if self.stop_signal is None:
            self.stop_signal = signum

    def _on_hup(self, _signum: int, _frame: FrameType | None) -> None:
        self.reload = True

    def take_reload(self) -> bool:
        """True once per burst of SIGHUPs."""
        asked, self.reload = self.reload, False
        return asked
