"""File names as people and Prometheus see them.

On Linux a file name is bytes, not text: ``b'\\xff.log'`` is a valid name. Python
lists such a name as a ``str`` holding a surrogate (``'\\udcff.log'``,
surrogateescape), which round-trips to the same bytes, and logmetrics keeps it
so wherever it names a file (following, the checkpoint). Where a name is shown
(a log message, the ``file`` label of logmetrics' own metrics, ``getfilename()``
in a program), it must be valid UTF-8: every byte that is not part of valid
UTF-8 is written ``\\xNN``, as Python's ``backslashreplace`` does, so
``b'\\xff.log'`` is shown as ``\\xff.log``. Names that are valid UTF-8 are shown
unchanged.
"""

from __future__ import annotations

import logging


def display(path: str) -> str:
    """``path`` as valid UTF-8 text (see the module docstring)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return path


class DisplayFormatter(logging.Formatter):
    """A log formatter that shows file names in messages as :func:`display` does."""

    def format(self, record: logging.LogRecord) -> str:
        return display(super().format(record))
