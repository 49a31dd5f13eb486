"""``logmetrics run``: the command-line options to a :class:`~logmetrics.daemon.daemon.Daemon`."""

from __future__ import annotations

import argparse
import logging
from dataclasses import fields
from typing import Any

from logmetrics.commands.common import program_paths
from logmetrics.daemon.daemon import Daemon, DaemonOptions
from logmetrics.pathnames import DisplayFormatter
from logmetrics.runtime.routes import LogSpec


def run_daemon(args: argparse.Namespace) -> int:
    """Start the daemon with ``args``; returns its exit status when it stops."""
    handler = logging.StreamHandler()
    handler.setFormatter(DisplayFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # --log-level is logmetrics' own: the libraries' debug output (watchdog logs every inotify
    # event) would feed on itself when stderr goes to a file in a watched folder.
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.getLogger("logmetrics").setLevel(getattr(logging, args.log_level.upper()))
    return Daemon(daemon_options(args)).run()


def daemon_options(args: argparse.Namespace) -> DaemonOptions:
    """The daemon's options from ``run``'s command line. Three are resolved here (the parsed
    ``--logs``, the programs they name, ``--from``); every other field of DaemonOptions is the
    option of the same name, so a new option is one field and one flag."""
    specs = [LogSpec.parse(spec) for spec in args.logs]
    resolved: dict[str, Any] = {
        "logs": specs, "program_paths": program_paths(args, specs), "from_end": args.start == "end",
    }
    given = {f.name: getattr(args, f.name) for f in fields(DaemonOptions) if f.name not in resolved}
    return DaemonOptions(**given, **resolved)
