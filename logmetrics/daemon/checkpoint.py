"""Metric values and read positions, saved together, so that counters survive restarts.

Exactly-once rests on one rule: values and positions in the checkpoint always
describe the same moment. Every line before the positions is counted in the
values, and none after. After a crash (even ``kill -9``) the daemon restarts
from the last complete commit: lines after its positions are read again and
counted once. A metric's values are restored only into a metric of the same
program whose declaration is unchanged (same kind, labels and buckets), with
the clocks of ``del ... after``: what a reload keeps (``store.Carried``), a
restart keeps too.

Cost. Rewriting every series each second made the checkpoint the daemon's
largest cost at high cardinality (a 3.2 MB JSON file for 100,000 label sets:
0.39 s a second on the main loop). Now:

* The main loop only *captures*: between two batches it copies each metric's
  values dict (a C-level copy, a few milliseconds per 100,000 series) and the
  positions. That copy is what makes values and positions of one moment; it is
  the only part that is proportional to all series, and it never waits on disk.
* A writer thread compares the capture with the last one it wrote and appends
  only what changed (new values, deleted label sets, moved positions) to a
  journal, as one *commit*, then fsyncs. The comparison is a Python loop, so
  the interpreter switches back to the main loop every few milliseconds.
* When the journal has grown as large as the base, the writer rewrites the
  base from its own copy and empties the journal (compaction), so the files
  stay about twice the size of the state and the cost of a write stays
  proportional to what changed, on average.
* A capture is offered at most once a second, never while the writer is still
  busy with the previous one, and never sooner than ``BUSY_FACTOR`` times the
  CPU time of the last write after it: the writer uses at most about
  1/BUSY_FACTOR of a core. The trade-off: with a very large, fast-changing
  state the checkpoint is written less often than every second. Nothing is
  lost by that (the positions move with the values); after a crash, more
  lines are read again.

Files, in the state directory: ``checkpoint.jsonl`` (the base) and
``checkpoint.journal.jsonl`` (commits since the base). Both hold JSON lines,
each a list naming what it does:

    ["reset", prog, metric, signature]      the metric starts empty (new, or redeclared)
    ["set", prog, metric, [[labels, value], ...]]
    ["del", prog, metric, [labels, ...]]
    ["expiry", prog, metric, [[labels, seconds, updated], ...]]   del ... after clocks
    ["noexpiry", prog, metric, [labels, ...]]
    ["drop", prog, metric]                  the metric is no longer loaded
    ["pos", {path: [dev, ino, head, head_len, offset], ...}]
    ["gone", [path, ...]]                   no longer followed
    ["commit", seq]

Lines take effect only at the ``commit`` line after them, so a torn last write
is ignored as a whole. A checkpoint of a version that saved no expiry records
loads with no clocks, as before. A checkpoint of the wrong shape (hand-edited, damaged,
from another version) never stops the daemon: what is malformed is dropped
with a warning, the rest is used. File names in paths that are not UTF-8 are
stored as JSON's ``\\udcXX`` escapes (Python's surrogateescape) and read back
as the same bytes. ``metrics.checkpoint.json``, the single file of versions
before 0.2, is read when there is no base yet, and removed by the first
compaction, together with the old per-log offset files.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logmetrics.atomicfile import atomic_writer, fsync_dir
from logmetrics.runtime.engine import Runtime
from logmetrics.sources.positions import LegacyOffsets, Position, position_from_json, position_to_json
from logmetrics.store import Carried

log = logging.getLogger(__name__)

BASE = "checkpoint.jsonl"
JOURNAL = "checkpoint.journal.jsonl"
LEGACY = "metrics.checkpoint.json"
#: Entries per JSON line: small enough that encoding one holds the interpreter for < 1 ms.
CHUNK = 1000
#: The writer may use at most 1/BUSY_FACTOR of a core (see the module docstring).
BUSY_FACTOR = 20
#: Seconds between two captures, at least.
MIN_INTERVAL = 1.0
#: The journal is compacted into the base once it is larger than the base and this.
MIN_COMPACT_BYTES = 1 << 20

MetricKey = tuple[str, str]  # (program, metric)


@dataclass
class Capture:
    """Values and positions of one moment, taken on the main loop."""

    metrics: dict[MetricKey, tuple[list[Any], Carried]]
    positions: dict[str, Position]


def capture(runtime: Runtime | None, positions: dict[str, Position]) -> Capture:
    """Copy every metric's values and ``positions`` (no values when ``runtime`` is None)."""
    metrics: dict[MetricKey, tuple[list[Any], Carried]] = {}
    for program in runtime.programs if runtime is not None else ():
        for name, metric in program.metrics.items():
            metrics[program.name, name] = (metric.signature, metric.carried())
    return Capture(metrics, dict(positions))


# --- reading -------------------------------------------------------------------------------------


@dataclass
class Saved:
    """What a checkpoint holds once read and checked."""

    metrics: dict[MetricKey, tuple[list[Any], Carried]] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    seq: int = 0
    found: bool = False  # some checkpoint (new or legacy) was there
    #: The files hold exactly this, nothing torn or dropped: the next write may append to them.
    clean: bool = False


class _Problems:
    """Malformed parts of a checkpoint, counted and reported once per kind."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.counts: dict[str, int] = {}
        #: A file ends in something unreadable (a torn last write, damage): not to be appended to.
        self.torn = False

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def report(self) -> None:
        for what, n in self.counts.items():
            log.warning("checkpoint %s: dropped %d %s", self.source, n, what)


def _labels(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _apply(op: Any, saved: Saved, problems: _Problems) -> bool:
    """Apply one checked line to ``saved``; False if the line is not an operation at all."""
    if not isinstance(op, list) or not op or not isinstance(op[0], str):
        return False
    kind, args = op[0], op[1:]
    if kind in ("reset", "set", "del", "drop", "expiry", "noexpiry"):
        if len(args) < 2 or not isinstance(args[0], str) or not isinstance(args[1], str):
            return False
        key = (args[0], args[1])
        if kind == "drop":
            saved.metrics.pop(key, None)
        elif kind == "reset":
            if len(args) != 3 or not isinstance(args[2], list):
                return False
            saved.metrics[key] = (args[2], Carried())
        elif key not in saved.metrics or len(args) != 3 or not isinstance(args[2], list):
            return False
        else:
            _apply_values(kind, args[2], saved.metrics[key][1], problems)
        return True
    if kind == "pos" and len(args) == 1 and isinstance(args[0], dict):
        for path, value in args[0].items():
            position = position_from_json(value)
            if position is None:
                problems.add("malformed positions")
                saved.positions.pop(path, None)
            else:
                saved.positions[path] = position
        return True
    if kind == "gone" and len(args) == 1 and isinstance(args[0], list):
        for path in args[0]:
            if isinstance(path, str):
                saved.positions.pop(path, None)
        return True
    return False


def _apply_values(kind: str, entries: list[Any], carried: Carried, problems: _Problems) -> None:
    """A set, del, expiry or noexpiry record's entries into one metric's ``carried``.
    Clocks are checked when restored (``Metric.carry_over``)."""
    if kind in ("set", "expiry"):
        width = 2 if kind == "set" else 3
        for entry in entries:
            labels = _labels(entry[0]) if isinstance(entry, list) and len(entry) == width else None
            if labels is None:
                problems.add("malformed label sets")
            elif kind == "set":
                carried.values[labels] = entry[1]
            else:
                carried.expiry[labels], carried.updated[labels] = entry[1], entry[2]
        return
    for entry in entries:
        labels = _labels(entry)
        if labels is not None:
            if kind == "del":
                carried.values.pop(labels, None)
            carried.expiry.pop(labels, None)
            carried.updated.pop(labels, None)


def _replay(path: Path, saved: Saved, problems: _Problems) -> bool:
    """Apply the commits in ``path`` newer than ``saved.seq``; False if there is no such file.

    Reading stops at the first line that is not JSON naming an operation: what
    follows the last complete commit is a torn write, or damage, and is ignored
    as a whole (values and positions of an earlier moment are still consistent)."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return False
    except OSError as exc:
        log.warning("cannot read the checkpoint %s: %s", path, exc.strerror or exc)
        return False
    pending: list[list[Any]] = []
    with f:
        for number, raw in enumerate(f, 1):
            op = _parse(raw)
            if op is None:
                log.warning("checkpoint %s: line %d is not a checkpoint record; it and what follows "
                            "are ignored", path, number)
                problems.torn = True
                break
            if op[0] != "commit":
                pending.append(op)
                continue
            seq = op[1] if len(op) == 2 else None
            if not isinstance(seq, int) or isinstance(seq, bool):
                log.warning("checkpoint %s: line %d is a malformed commit; it and what follows are "
                            "ignored", path, number)
                problems.torn = True
                break
            if seq > saved.seq:  # older commits are already in the base
                for pending_op in pending:
                    if not _apply(pending_op, saved, problems):
                        problems.add("malformed records")
                saved.seq = seq
            pending = []
    if pending:
        log.warning("checkpoint %s: the last write was not complete; its %d records are ignored",
                    path, len(pending))
        problems.torn = True
    return True


def _parse(raw: bytes) -> list[Any] | None:
    if not raw.endswith(b"\n"):
        return None
    try:
        op = json.loads(raw)
    except ValueError:
        return None
    return op if isinstance(op, list) and op and isinstance(op[0], str) else None


def _read_legacy(path: Path, saved: Saved, problems: _Problems) -> bool:
    """The single JSON file of versions before 0.2 (same content, one object)."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return False
    except (OSError, ValueError) as exc:
        log.warning("ignoring the metrics checkpoint %s: %s", path, exc)
        return False
    if not isinstance(data, dict) or data.get("version") != 1:
        log.warning("ignoring the metrics checkpoint %s: not a version 1 checkpoint", path)
        return False
    programs = data.get("programs", {})
    if not isinstance(programs, dict):
        problems.add("malformed program tables")
        programs = {}
    for prog, metrics in programs.items():
        if not isinstance(metrics, dict):
            problems.add("malformed program tables")
            continue
        for name, entry in metrics.items():
            if not isinstance(entry, dict) or not _apply(["reset", prog, name, entry.get("signature")],
                                                           saved, problems):
                problems.add("malformed metrics")
            elif not _apply(["set", prog, name, entry.get("values")], saved, problems):
                problems.add("malformed metrics")
                saved.metrics.pop((prog, name), None)
    positions = data.get("positions")
    if positions is not None and not _apply(["pos", positions], saved, problems):
        problems.add("malformed position tables")
    return True


def read(state_dir: Path) -> Saved:
    """Everything the checkpoint in ``state_dir`` holds that is well-formed."""
    saved = Saved()
    problems = _Problems(state_dir)
    if _replay(state_dir / BASE, saved, problems):
        _replay(state_dir / JOURNAL, saved, problems)
        saved.found = True
        saved.clean = not (problems.counts or problems.torn or (state_dir / LEGACY).exists())
    else:
        saved.found = _read_legacy(state_dir / LEGACY, saved, problems)
    problems.report()
    return saved


def restore(runtime: Runtime, saved: Saved) -> int:
    """Load saved values into unchanged metrics; returns how many metrics were restored."""
    restored = dropped = 0
    for program in runtime.programs:
        for name, metric in program.metrics.items():
            entry = saved.metrics.get((program.name, name))
            if entry is None or entry[0] != metric.signature:
                continue
            dropped += metric.carry_over(entry[1])
            restored += 1
    if dropped:
        log.warning("checkpoint: dropped %d saved values that their metric cannot hold", dropped)
    return restored


# --- writing -------------------------------------------------------------------------------------


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]


def _full(capture: Capture) -> Iterator[list[Any]]:
    """The operations that rebuild ``capture`` from nothing."""
    for (prog, name), (signature, carried) in capture.metrics.items():
        yield ["reset", prog, name, signature]
        for chunk in _chunks(list(carried.values.items())):
            yield ["set", prog, name, chunk]
        yield from _clock_changes(prog, name, Carried(), carried)
    paths = list(capture.positions.items())
    for chunk in _chunks(paths):
        yield ["pos", {p: position_to_json(pos) for p, pos in chunk}]


def _changes(old: Capture, new: Capture) -> Iterator[list[Any]]:
    """The operations that turn ``old`` into ``new``."""
    for key in old.metrics.keys() - new.metrics.keys():
        yield ["drop", *key]
    for (prog, name), (signature, carried) in new.metrics.items():
        before = old.metrics.get((prog, name))
        if before is None or before[0] != signature:
            yield ["reset", prog, name, signature]
            earlier = Carried()
        else:
            earlier = before[1]
        previous, values = earlier.values, carried.values
        missing = object()
        changed = [(k, v) for k, v in values.items() if previous.get(k, missing) != v]
        for chunk in _chunks(changed):
            yield ["set", prog, name, chunk]
        deleted = [k for k in previous if k not in values] if previous else []
        for chunk in _chunks(deleted):
            yield ["del", prog, name, chunk]
        yield from _clock_changes(prog, name, earlier, carried)
    moved = [(p, pos) for p, pos in new.positions.items() if old.positions.get(p) != pos]
    for chunk in _chunks(moved):
        yield ["pos", {p: position_to_json(pos) for p, pos in chunk}]
    gone = [p for p in old.positions if p not in new.positions]
    for chunk in _chunks(gone):
        yield ["gone", chunk]


def _clock_changes(prog: str, name: str, old: Carried, new: Carried) -> Iterator[list[Any]]:
    """The records that turn ``old``'s ``del ... after`` clocks into ``new``'s."""
    if not (old.expiry or new.expiry):
        return
    changed = [[k, after, new.updated.get(k)] for k, after in new.expiry.items()
               if (old.expiry.get(k), old.updated.get(k)) != (after, new.updated.get(k))]
    for chunk in _chunks(changed):
        yield ["expiry", prog, name, chunk]
    # A deleted label set's clock goes with its "del" record.
    stopped = [k for k in old.expiry if k not in new.expiry and (k in new.values or k not in old.values)]
    for chunk in _chunks(stopped):
        yield ["noexpiry", prog, name, chunk]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _encode(ops: Iterable[list[Any]], seq: int) -> Iterator[bytes]:
    for op in ops:
        yield json.dumps(op, separators=(",", ":")).encode("ascii") + b"\n"
    yield b'["commit",%d]\n' % seq


class Checkpoint:
    """The checkpoint of one state directory: read once at start, then written by a thread.

    ``values=False`` (``--no-checkpoint``) keeps only the positions: counters
    start at zero on every start, files resume where they were.
    """

    def __init__(self, state_dir: Path, *, values: bool = True) -> None:
        self.state_dir = state_dir
        self.values = values
        self._written: Capture | None = None  # the writer's copy of what the files hold
        self._seq = 0
        self._journal_bytes = 0
        self._base_bytes = 0
        self._compact = True  # the first write rewrites the base (and drops an older layout)
        self._queue: list[Capture] = []
        self._wanted = threading.Event()  # set by the main loop (never from a signal handler)
        self._idle = threading.Event()
        self._idle.set()
        self._stopping = False
        self._next = 0.0
        #: Whether the last write succeeded (False while writes fail).
        self.ok = True
        self._thread: threading.Thread | None = None

    def load(self, runtime: Runtime) -> tuple[int, dict[str, Position] | None]:
        """Restore saved values into ``runtime``; returns (metrics restored, saved positions or None)."""
        saved = read(self.state_dir)
        if not saved.found:
            return 0, None
        self._seq = saved.seq
        if saved.clean and not any(LegacyOffsets(self.state_dir).files()):
            # The files hold exactly what was read: the first write appends what changed since,
            # instead of rewriting the base (with thousands of files, that rewrite and its fsync
            # held up the start: the first checkpoint is on disk before /-/ready answers).
            self._written = Capture(dict(saved.metrics), dict(saved.positions))
            self._compact = False
            self._base_bytes = _size(self.state_dir / BASE)
            self._journal_bytes = _size(self.state_dir / JOURNAL)
        restored = restore(runtime, saved) if self.values else 0
        return restored, saved.positions

    def legacy_positions(self) -> LegacyOffsets:
        """Where a state directory of a version before 0.2 kept positions."""
        return LegacyOffsets(self.state_dir)

    def commit(self, runtime: Runtime, positions: Callable[[], dict[str, Position]]) -> bool:
        """Hand the writer a capture of now, unless it is busy or was just written.

        Returns True if a capture was handed over (its write follows on the writer thread)."""
        if not self._idle.is_set() or time.monotonic() < self._next:
            return False
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="checkpoint", daemon=True)
            self._thread.start()
        self._idle.clear()
        self._queue.append(capture(runtime if self.values else None, positions()))
        self._wanted.set()
        return True

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until the writer has written what it was handed; True if that is on disk."""
        return self._idle.wait(timeout) and self.ok

    def close(self, runtime: Runtime, positions: Callable[[], dict[str, Position]],
              timeout: float = 60.0) -> bool:
        """Write the final checkpoint and stop the writer; True only if it is on disk."""
        if not self._idle.wait(timeout):
            log.error("the checkpoint writer is stuck; the final checkpoint is not written")
            return False
        self._stopping = True
        if self._thread is not None:
            self._wanted.set()
            self._thread.join(timeout)
        try:
            return self._write(capture(runtime if self.values else None, positions()))
        except Exception:  # the daemon is stopping: say what failed, never that it was saved
            log.exception("the final checkpoint failed")
            return False

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopping:
                return
            while self._queue:
                started, cpu = time.monotonic(), time.thread_time()
                try:
                    self._write(self._queue.pop())
                except Exception:  # a bug must not stop every later save: say so, try again later
                    log.exception("the checkpoint writer failed")
                    self.ok, self._compact = False, True
                # Spaced by the CPU the write took, not its fsync's wait: a slow disk costs no CPU.
                self._next = started + max(MIN_INTERVAL, BUSY_FACTOR * (time.thread_time() - cpu))
                self._idle.set()

    def _write(self, new: Capture) -> bool:
        """Append the changes since the last write (or rewrite the base); True if durable."""
        seq = self._seq + 1
        try:
            compact = self._compact or self._written is None or (
                self._journal_bytes > max(MIN_COMPACT_BYTES, self._base_bytes))
            if compact:
                self._write_base(new, seq)
            else:
                assert self._written is not None
                self._append(_encode(_changes(self._written, new), seq))
        except OSError as exc:
            if self.ok:
                log.error("cannot save the checkpoint in %s: %s; will retry", self.state_dir,
                          exc.strerror or exc)
            self.ok = False
            self._compact = True  # the journal may end in a partial commit: start afresh
            return False
        if not self.ok:
            log.info("the checkpoint in %s is saved again", self.state_dir)
        self.ok = True
        self._seq = seq
        self._written = new
        return True

    def _write_base(self, new: Capture, seq: int) -> None:
        size = 0
        with atomic_writer(self.state_dir / BASE) as f:
            for line in _encode(_full(new), seq):
                f.write(line)
                size += len(line)
        # The base now holds everything: an older journal's commits (seq <= this) are skipped on
        # reading, so emptying it can come second.
        with open(self.state_dir / JOURNAL, "wb") as journal:
            os.fsync(journal.fileno())
        self._base_bytes, self._journal_bytes = size, 0
        if self._compact:
            self._remove_older_layout()
        self._compact = False

    def _append(self, lines: Iterable[bytes]) -> None:
        data = b"".join(lines)
        with open(self.state_dir / JOURNAL, "ab") as journal:
            journal.write(data)
            journal.flush()
            os.fsync(journal.fileno())
        self._journal_bytes += len(data)

    def _remove_older_layout(self) -> None:
        old = [self.state_dir / LEGACY, *LegacyOffsets(self.state_dir).files()]
        removed = 0
        for path in old:
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("cannot remove %s, no longer used: %s", path, exc.strerror or exc)
        if removed:
            log.info("removed %d files of an older state directory layout from %s", removed,
                     self.state_dir)
            fsync_dir(self.state_dir)
