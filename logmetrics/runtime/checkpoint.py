"""Metric values saved at shutdown and restored at start, so counters survive a restart.

The checkpoint is one JSON file in the state directory, written atomically
when the daemon stops (after the last batch, with the read positions). A
metric's values are restored only into a metric of the same program whose
declaration is unchanged (same kind, labels and buckets).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from logmetrics.runtime.engine import Runtime

log = logging.getLogger(__name__)

FILENAME = "metrics.checkpoint.json"
VERSION = 1


def _signature(metric: Any) -> list[Any]:
    return [metric.export_name, metric.kind.value, list(metric.labels), list(metric.buckets)]


def save(runtime: Runtime, state_dir: Path) -> None:
    """Write every program's metric values to the checkpoint file."""
    programs: dict[str, Any] = {}
    for program in runtime.programs:
        metrics = {}
        for name, metric in program.metrics.items():
            metrics[name] = {
                "signature": _signature(metric),
                "values": [[list(k), v] for k, v in metric.snapshot()],
            }
        programs[program.name] = metrics
    path = state_dir / FILENAME
    tmp = path.with_name(f".{FILENAME}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"version": VERSION, "programs": programs}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def restore(runtime: Runtime, state_dir: Path) -> int:
    """Load saved values into unchanged metrics; returns how many metrics were restored."""
    path = state_dir / FILENAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return 0
    except (OSError, ValueError) as exc:
        log.warning("ignoring the metrics checkpoint %s: %s", path, exc)
        return 0
    if data.get("version") != VERSION:
        return 0
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
    return restored
