"""What the checkpoint costs: CPU beside mtail, and how long it holds up the main loop.

``python benchmarks/bench_checkpoint.py [--repeat N] [--seconds S] [--only daemon,loop]``

- ``daemon``: a program labelling each request by its path, 50,000 lines/s
  written in batches, with 1,000, 10,000 and 100,000 distinct paths (label
  sets). Three daemons, interleaved run by run: logmetrics, logmetrics
  ``--no-checkpoint`` (what the checkpoint adds is the difference) and mtail,
  which saves nothing. Figures: CPU in % of one core over the writing window,
  medians of ``--repeat`` runs (the same runs as ``bench_sidecar.py``'s
  ``cardinality`` case, plus the third daemon).
- ``loop``: in one process, the same program holding 1,000 / 10,000 / 100,000
  label sets, one second of lines (50,000) between two saves: how long a save
  keeps the main loop from reading (the capture; before the writer thread,
  the whole save), and what the write itself costs.

Runs the logmetrics installed beside the Python that runs this script; without
mtail on the PATH, mtail's column is left empty.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_sidecar import LABEL_SETS, PATHS_PROGRAM, follow_once, interleaved, median
from common import mtail_binary

RATE = 50_000
NO_CHECKPOINT = "logmetrics --no-checkpoint"


def case_daemon(repeat: int, seconds: float, sizes: list[int]) -> None:
    kinds = ["logmetrics", NO_CHECKPOINT] + (["mtail"] if mtail_binary() else [])

    def once(kind: str, paths: int) -> tuple[float, ...]:
        if kind == NO_CHECKPOINT:
            return follow_once("logmetrics", PATHS_PROGRAM, RATE, seconds, "batch", paths,
                               ("--no-checkpoint",))
        return follow_once(kind, PATHS_PROGRAM, RATE, seconds, "batch", paths)

    print(f"\n# daemon CPU, % of one core: requests by path at {RATE:,} lines/s, batched")
    print(f"{'label sets':>10} {'logmetrics':>11} {'--no-checkpoint':>16} {'checkpoint':>11} {'mtail':>7} "
          f"{'ratio':>6}")
    for paths in sizes:
        runs = interleaved(kinds, repeat, lambda k, p=paths: once(k, p))
        ours, bare = median(runs["logmetrics"], 0), median(runs[NO_CHECKPOINT], 0)
        theirs = median(runs["mtail"], 0) if "mtail" in runs else None
        mtail = f"{theirs:.1f}%" if theirs is not None else "-"
        ratio = f"x{ours / theirs:.2f}" if theirs else "-"
        print(f"{paths:>10,} {ours:>10.1f}% {bare:>15.1f}% {ours - bare:>+10.1f}% {mtail:>7} {ratio:>6}",
              flush=True)


def case_loop(repeat: int, sizes: list[int]) -> None:
    from logmetrics.grok import PatternLibrary
    from logmetrics.runtime.engine import Runtime
    from logmetrics.runtime.program import Program
    from logmetrics.sources.positions import FileId, Position

    try:
        from logmetrics.daemon.checkpoint import Checkpoint, capture
    except ImportError:  # a version whose save runs whole on the main loop
        Checkpoint = None
        from logmetrics.daemon import checkpoint as old

    print(f"\n# main loop held per save, one second of lines ({RATE:,}) between saves; "
          f"medians of {repeat + 1} saves")
    print(f"{'label sets':>10} {'loop held ms':>13} {'(max)':>7} {'of it CPU ms':>13} {'write CPU ms':>13} "
          f"{'bytes written':>14}")
    library = PatternLibrary.load()
    for paths in sizes:
        runtime = Runtime([], max_label_sets=10**6)
        runtime.add(Program.compile(PATHS_PROGRAM, "bench.mtail", library))
        state = Path(tempfile.mkdtemp(prefix="logmetrics-bench-checkpoint-"))
        cp = Checkpoint(state) if Checkpoint is not None else None
        held: list[float] = []
        held_cpu: list[float] = []
        cpu: list[float] = []
        written: list[float] = []
        i = 0
        for n in range(repeat + 3):
            lines = [f'1.2.3.4 - - [x] "GET /item/{(i + k) % paths} HTTP/1.1" 200 1' for k in range(RATE)]
            i += RATE
            runtime.process(lines, "/var/log/access.log")
            positions = {"/var/log/access.log": Position(FileId(1, 2, "a" * 40, 1024), i * 60)}
            t0, c0 = time.perf_counter(), time.process_time()
            if cp is not None:
                snapshot = capture(runtime, positions)
                t1, c1 = time.perf_counter(), time.process_time()
                held_cpu.append(1000 * (c1 - c0))
                journal = cp._journal_bytes
                cp._write(snapshot)  # what the writer thread does
                t_cpu = time.process_time() - c1
                # A journal that shrank was compacted: the base was written.
                size = cp._journal_bytes - journal if cp._journal_bytes >= journal else cp._base_bytes
            else:
                old.save(runtime, state, positions)
                t1 = time.perf_counter()
                t_cpu = time.process_time() - c0
                held_cpu.append(1000 * t_cpu)
                size = sum(f.stat().st_size for f in state.iterdir())
            if n >= 2:  # past the first, full write
                held.append(1000 * (t1 - t0))
                cpu.append(1000 * t_cpu)
                written.append(size)
        print(f"{paths:>10,} {statistics.median(held):>13.1f} {max(held):>7.1f} "
              f"{statistics.median(held_cpu[2:]):>13.1f} {statistics.median(cpu):>13.1f} "
              f"{statistics.median(written):>14,.0f}", flush=True)
        for f in state.iterdir():
            f.unlink()
        state.rmdir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (default 3)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the writer writes (default 5)")
    parser.add_argument("--only", default="loop,daemon", help="comma-separated cases (default loop,daemon)")
    parser.add_argument("--label-sets", default=",".join(map(str, LABEL_SETS)),
                        help="comma-separated label set counts (default 1000,10000,100000)")
    args = parser.parse_args(argv)
    chosen = args.only.split(",")
    sizes = [int(n) for n in args.label_sets.split(",")]
    print(f"# {os.cpu_count()} cores; ratio = logmetrics / mtail")
    if "loop" in chosen:
        case_loop(args.repeat, sizes)
    if "daemon" in chosen:
        case_daemon(args.repeat, args.seconds, sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
