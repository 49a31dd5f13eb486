"""What the envelope around a line said: syslog's header, a container log's path.

Programs read these through builtins (``syslog_tag()``, ``pod_name()``, ...;
see docs/sources.md). A line read from a plain file or socket has the empty
envelope: strings are ``""`` and the time is 0.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Envelope:
    """Facts about a line that are not in the line."""

    tag: str = ""  # syslog: the tag (RFC 3164) or APP-NAME (RFC 5424)
    hostname: str = ""  # syslog: the sender's HOSTNAME field
    time: float = 0.0  # syslog: the message time, seconds since the epoch (0: none)
    namespace: str = ""  # container logs: the pod's namespace
    pod: str = ""  # container logs: the pod's name
    container: str = ""  # container logs: the container's name
    stream: str = ""  # container logs read by stream (``?stream=``): stdout or stderr


#: The envelope of a line that has none.
NO_ENVELOPE = Envelope()
