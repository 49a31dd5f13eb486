"""Which programs read which logs.

mtail runs every program on every line of every log. That stays the default,
but a log named as ``PROGRAM=GLOB`` (on ``run --logs`` or a dry-run file) is
read by that program only, and a program named that way reads nothing else.
So ``apache_access=/var/log/apache2/access.log`` and
``apache_error=/var/log/apache2/error.log`` can run side by side without each
counting the other's lines as unparsed.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from logmetrics.errors import LogmetricsError
from logmetrics.runtime.loader import program_name
from logmetrics.runtime.program import Program
from logmetrics.sources.address import CONTAINER_FORMATS, AddressError, SourceAddress

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LogSpec:
    """One ``--logs`` value: a glob, and the program bound to it (None: every unbound program).

    ``glob`` is what lines are routed by: a file glob (for container logs, without the
    ``cri://`` prefix), or a stream's whole URL (``-``, ``syslog+udp://...?tag=x``).
    """

    glob: str
    program: str | None = None
    address: SourceAddress | None = None

    @property
    def source(self) -> SourceAddress:
        """What the value names (see sources/address.py)."""
        return self.address or SourceAddress(self.glob, "file", path=self.glob)

    @classmethod
    def parse(cls, spec: str) -> LogSpec:
        """``GLOB``, ``URL`` or ``PROGRAM=...``; a file that exists under the whole name is a plain path.

        Raises LogmetricsError for a URL that cannot be used (unknown kind, no port, ...).
        """
        name, sep, rest = spec.partition("=")
        program = None
        if sep and rest and _NAME.fullmatch(name) and not os.path.exists(spec):
            program, spec = program_name(name), rest
        try:
            address = SourceAddress.parse(spec)
        except AddressError as exc:
            raise LogmetricsError(f"--logs {exc}") from None
        glob_ = address.path if address.kind in CONTAINER_FORMATS else spec
        return cls(glob_, program, None if address.kind == "file" else address)


class LogRouter:
    """Chooses the programs for the lines of a file, from the specs its path matched."""

    def __init__(self, specs: Sequence[LogSpec]) -> None:
        self.specs = list(specs)
        self.bound = frozenset(s.program for s in self.specs if s.program)
        self._cache: dict[tuple[str, str], tuple[frozenset[str], bool]] = {}

    def _targets(self, path: str, stream: str) -> tuple[frozenset[str], bool]:
        """(programs bound to the file, whether unbound programs read it too)."""
        cached = self._cache.get((path, stream))
        if cached is None:
            wanted = os.path.abspath(path)
            names: set[str] = set()
            unbound = False
            for spec in self.specs:
                if spec.program in names or (spec.program is None and unbound):
                    continue
                if stream and not spec.source.reads_stream(stream):
                    continue
                matches = {os.path.abspath(p) for p in glob.glob(spec.glob, recursive=True)}
                if wanted in matches or spec.glob == path:
                    if spec.program is None:
                        unbound = True
                    else:
                        names.add(spec.program)
            # A file no spec matches any more (rotated away, say) keeps the default.
            cached = (frozenset(names), unbound or not names)
            self._cache[(path, stream)] = cached
            readers = sorted(names) + (["every program not bound to a log"] if cached[1] else [])
            log.info("%s%s is read by %s", path, f" ({stream})" if stream else "", ", ".join(readers))
        return cached

    def select(self, path: str, programs: Sequence[Program], stream: str = "") -> list[Program]:
        """The programs that read ``path`` (for a container log read by stream, its ``stream``)."""
        if not self.bound:
            return list(programs)
        names, unbound = self._targets(path, stream)
        return [p for p in programs if p.name in names or (unbound and p.name not in self.bound)]
