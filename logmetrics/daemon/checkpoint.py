"""Metric values and read positions, saved together, so that counters survive restarts.

The checkpoint is one JSON file in the state directory, replaced atomically
(temp file, fsync, rename, fsync of the directory) every second while lines
flow and at shutdown. Values and positions in it always describe the same
moment: every line before the positions is counted in the values, and none
after. After a crash (even ``kill -9``) the daemon restarts from it: lines
after the positions are read again and counted once. A metric's values are
restored only into a metric of the same program whose declaration is
unchanged (same kind, labels and buckets).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from logmetrics.runtime.engine import Runtime
from logmetrics.sources.positions import FileId, Position

log = logging.getLogger(__name__)

FILENAME = "metrics.checkpoint.json"
VERSION = 1


def _signature(metric: Any) -> list[Any]:
    return [metric.export_name, metric.kind.value, list(metric.labels), list(metric.buckets)]


def save(runtime: Runtime, state_dir: Path, positions: dict[str, Position] | None = None) -> None:
    """Write every program's metric values, and the read positions, to the checkpoint file."""
    programs: dict[str, Any] = {}
    for program in runtime.programs:
        metrics = {}
        for name, metric in program.metrics.items():
            metrics[name] = {
                "signature": _signature(metric),
                "values": [[list(k), v] for k, v in metric.snapshot()],
            }
        programs[program.name] = metrics
    files = {
        path: [p.file.dev, p.file.ino, p.file.head, p.file.head_len, p.offset]
        for path, p in (positions or {}).items()
    }
    path = state_dir / FILENAME
    tmp = path.with_name(f".{FILENAME}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"version": VERSION, "programs": programs, "positions": files}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(state_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def restore(runtime: Runtime, state_dir: Path) -> tuple[int, dict[str, Position] | None]:
    """Load saved values into unchanged metrics.

    Returns how many metrics were restored, and the positions saved with them
    (None when there is no usable checkpoint: then the offset files are used).
    """
    path = state_dir / FILENAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return 0, None
    except (OSError, ValueError) as exc:
        log.warning("ignoring the metrics checkpoint %s: %s", path, exc)
        return 0, None
    if data.get("version") != VERSION:
        return 0, None
    restored = 0
    for program in runtime.programs:
        saved = data.get("programs", {}).get(program.name, {})
        for name, metric in program.metrics.items():
            entry = saved.get(name)
            if entry is None or entry.get("signature") != _signature(metric):
                continue
            metric.values.clear()
            for key, value in entry["values"]:
                metric.values[tuple(key)] = value
            restored += 1
    positions = {
        file: Position(FileId(dev, ino, head, head_len), offset)
        for file, (dev, ino, head, head_len, offset) in data.get("positions", {}).items()
    }
    return restored, positions
