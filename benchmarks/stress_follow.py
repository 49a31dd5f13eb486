"""Stress: exactly-once under rotations, kill -9, stalls and SIGHUP storms, with the real daemon.

    python benchmarks/stress_follow.py                 # 10 runs of 40 s of chaos each
    python benchmarks/stress_follow.py --runs 1 --seconds 20 --files 5

One writer process appends numbered lines to ``--files`` logs (``--rate``
lines/s in all) and rotates each log every ``--rotate-every`` seconds, in turn
by rename + create (the writer reopens 0.2 s later, writing to the renamed
file meanwhile, as a server does until its postrotate reload), by rename alone
(the path is missing until the writer reopens) and by copytruncate (copy and
truncate between two writes). Old generations are shifted ``.1`` -> ``.2``
and never deleted, so every written line stays readable.

Meanwhile the daemon (``logmetrics run``, the installed console script) is
killed with SIGKILL at random moments, often within its first second,
stopped with SIGSTOP for up to 3 s (and sometimes killed while stopped), and
sent storms of SIGHUP. At the end the writer stops, the daemon runs until it
has caught up, and each log's written and counted lines (and the sum of the
line numbers, so that a loss and a double count cannot cancel out) are
printed. For a file that differs, the blocks of 100 line numbers counted other
than once are listed with the generation files that hold them (which rotation
went wrong). The writer is paced by the clock: a turn that comes late writes
what is due, so the rate printed is the rate asked unless the machine cannot
give the writer that much. The exit status is 0 only if every run was exact
for every file.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

PROGRAM = """counter lines_total by log
counter number_sum by log
counter block_lines by log, block
/^(?P<log>f\\d+) (?P<block>\\d*?)\\d{1,2}$/ {
  block_lines[$log][$block]++
}
/^(?P<log>f\\d+) (?P<n>\\d+)$/ {
  lines_total[$log]++
  number_sum[$log] += $n
}
"""
#: Lines are also counted by block of 100 (``f03 12345`` is in block ``123`` of f03), so that a
#: difference says where: which generation was lost or read twice.
BLOCK = 100
SCRIPT = Path(sys.executable).with_name("logmetrics")
MODES = ("create", "rename", "copytruncate")


# --- the writer (its own process) --------------------------------------------------


def _shift(path: Path) -> None:
    """``.N`` -> ``.N+1`` for every rotated generation, oldest first, leaving ``.1`` free."""
    numbers = sorted((int(p.name.rsplit(".", 1)[1]) for p in path.parent.glob(path.name + ".*")),
                     reverse=True)
    for n in numbers:
        os.rename(f"{path}.{n}", f"{path}.{n + 1}")


def writer(folder: str, files: int, rate: int, rotate_every: float, seconds: float,
           counts: multiprocessing.Array) -> None:  # type: ignore[type-arg]
    paths = [Path(folder) / f"f{i:02d}.log" for i in range(files)]
    handles = [open(p, "a", encoding="ascii") for p in paths]  # noqa: SIM115 - a server's long-lived handles
    reopen_at: dict[int, float] = {}
    rotations = [0] * files
    tick = 0.01
    start = time.monotonic()
    next_rotation = start + rotate_every / files
    turn = 0
    while time.monotonic() - start < seconds:
        # Paced by the clock, not by the number of turns: a turn that comes late (a busy machine)
        # writes what is due by now, so the rate asked is the rate written.
        due = int(rate * (time.monotonic() - start) / files)
        for i, f in enumerate(handles):
            n = counts[i]
            if due > n:
                f.write("".join([f"f{i:02d} {k}\n" for k in range(n, due)]))
                f.flush()
                counts[i] = due
        now = time.monotonic()
        for i, when in list(reopen_at.items()):
            if now >= when:
                handles[i].close()
                handles[i] = open(paths[i], "a", encoding="ascii")  # noqa: SIM115
                del reopen_at[i]
        if now >= next_rotation:
            i = turn % files
            turn += 1
            next_rotation += rotate_every / files
            if i not in reopen_at:
                mode = MODES[rotations[i] % len(MODES)]
                rotations[i] += 1
                _shift(paths[i])
                if mode == "copytruncate":
                    shutil.copyfile(paths[i], f"{paths[i]}.1")
                    os.truncate(paths[i], 0)
                else:
                    os.rename(paths[i], f"{paths[i]}.1")
                    if mode == "create":
                        paths[i].touch()
                    reopen_at[i] = now + 0.2
        time.sleep(tick)
    for f in handles:
        f.close()


# --- the daemon ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Daemon:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.port = free_port()
        self.stderr = open(work / "daemon.err", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(SCRIPT), "run", "--progs", str(work / "progs"), "--logs", str(work / "logs" / "*.log"),
             "--listen", f"127.0.0.1:{self.port}", "--state-dir", str(work / "state"), "--from", "beginning"],
            stderr=self.stderr,
        )

    def wait_ready(self) -> None:
        """Until it answers (its files are followed and their positions fixed by then)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/healthy", timeout=5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the daemon did not start; see {self.work / 'daemon.err'}")

    def samples(self) -> dict[str, tuple[float, float]] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return None
        out: dict[str, list[float]] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name in ("lines_total", "number_sum_total"):
                    out.setdefault(s.labels["log"], [0.0, 0.0])[s.name == "number_sum_total"] = s.value
        return {k: (v[0], v[1]) for k, v in out.items()}

    def blocks(self) -> dict[str, dict[int, float]]:
        """Counted lines by log and block of ``BLOCK`` line numbers."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=30) as r:
            text = r.read().decode()
        out: dict[str, dict[int, float]] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == "block_lines_total":
                    out.setdefault(s.labels["log"], {})[int(s.labels["block"] or 0)] = s.value
        return out

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.stderr.close()

    def stop(self) -> int:
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        self.stderr.close()
        return code


def restart(work: Path, trace: bool = False) -> Daemon:
    if trace:
        _snapshot(work)
    daemon = Daemon(work)
    daemon.wait_ready()
    return daemon


def _snapshot(work: Path) -> None:
    """Keep the state a start resumes from, and the logs' generations then, in ``trace/NNN``."""
    trace = work / "trace"
    trace.mkdir(exist_ok=True)
    here = trace / f"{len(list(trace.iterdir())):03d}"
    if (work / "state").exists():
        shutil.copytree(work / "state", here / "state")
    here.mkdir(exist_ok=True)
    rows = []
    for path in sorted((work / "logs").iterdir()):
        try:  # the writer rotates meanwhile: a name may be gone by now
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                data = f.read()
        except FileNotFoundError:
            continue
        lines = data.splitlines()
        numbers = [line.split(b" ")[-1].decode() for line in lines[:1] + lines[-1:]]
        rows.append(f"{path.name} {st.st_ino} {st.st_size} {' '.join(numbers)}\n")
    (here / "logs.txt").write_text(f"{time.time():.3f}\n" + "".join(rows), encoding="utf-8")


def chaos(daemon: Daemon, seconds: float, rng: random.Random, events: list[str], trace: bool) -> Daemon:
    """Kill, stall and signal the daemon until ``seconds`` have passed; returns the running one."""
    work = daemon.work
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        action = rng.random()
        if action < 0.3:  # kill -9 soon after a start (once it answers), often within its first second
            time.sleep(rng.uniform(0.0, 1.0) if rng.random() < 0.5 else rng.uniform(1.0, 4.0))
            daemon.kill()
            events.append("kill")
            daemon = restart(work, trace)
        elif action < 0.55:  # a stall, sometimes ended by kill -9
            time.sleep(rng.uniform(0.5, 2.0))
            daemon.signal(signal.SIGSTOP)
            time.sleep(rng.uniform(0.2, 3.0))
            if rng.random() < 0.4:
                daemon.kill()
                events.append("kill-while-stopped")
                daemon = restart(work, trace)
            else:
                daemon.signal(signal.SIGCONT)
                events.append("stall")
        elif action < 0.75:  # a SIGHUP storm
            for _ in range(rng.randint(50, 300)):
                daemon.signal(signal.SIGHUP)
                time.sleep(0.005)
            events.append("hup-storm")
        else:
            time.sleep(rng.uniform(0.5, 2.0))
    return daemon


def one_run(number: int, args: argparse.Namespace) -> bool:
    rng = random.Random(args.seed + number if args.seed is not None else None)
    work = Path(tempfile.mkdtemp(prefix="logmetrics-stress-"))
    (work / "progs").mkdir()
    (work / "progs" / "stress.mtail").write_text(PROGRAM, encoding="utf-8")
    (work / "logs").mkdir()
    counts = multiprocessing.Array("q", args.files, lock=False)
    for i in range(args.files):  # the logs exist, and are followed, before the first line
        (work / "logs" / f"f{i:02d}.log").touch()
    daemon = restart(work, args.trace)
    writing = multiprocessing.Process(target=writer, args=(str(work / "logs"), args.files, args.rate,
                                                           args.rotate_every, args.seconds, counts))
    writing.start()
    events: list[str] = []
    daemon = chaos(daemon, args.seconds, rng, events, args.trace)
    writing.join()
    daemon.signal(signal.SIGCONT)
    written = {f"f{i:02d}": counts[i] for i in range(args.files)}
    expected = {k: (float(n), float(n * (n - 1) // 2)) for k, n in written.items()}
    deadline = time.monotonic() + 120
    got: dict[str, tuple[float, float]] = {}
    while time.monotonic() < deadline:
        got = daemon.samples() or got
        if got == expected:
            break
        time.sleep(0.5)
    time.sleep(1.5)  # anything counted twice shows up after the totals were first reached
    got = daemon.samples() or got
    exact = got == expected
    blocks = daemon.blocks() if not exact else {}
    daemon.stop()
    print(f"run {number + 1}: {args.seconds:.0f} s, {sum(written.values()):,} lines "
          f"({sum(written.values()) / args.seconds:,.0f} lines/s), "
          f"{sum(e.startswith('kill') for e in events)} kill -9 ({events.count('kill-while-stopped')} while "
          f"stopped), {events.count('stall')} stalls, {events.count('hup-storm')} SIGHUP storms: "
          f"{'exact' if exact else 'NOT EXACT'}")
    for name in sorted(written):
        counted = got.get(name, (0.0, 0.0))
        mark = "" if counted == expected[name] else "   <-- differs (sum of numbers too)" \
            if counted[0] == expected[name][0] else "   <-- differs"
        if args.verbose or mark:
            print(f"  {name}.log  written {written[name]:>9,}  counted {counted[0]:>11,.0f}{mark}")
        if mark:
            _explain(work / "logs" / f"{name}.log", written[name], blocks.get(name, {}))
    if exact:
        shutil.rmtree(work)
    else:
        print(f"  kept for inspection: {work}")
    return exact


def _explain(log: Path, written: int, counted: dict[int, float]) -> None:
    """Print the blocks of line numbers counted other than once, and the generations holding them."""
    wrong = []
    for block in range((written + BLOCK - 1) // BLOCK):
        want = min(BLOCK, written - block * BLOCK)
        if counted.get(block, 0.0) != want:
            wrong.append((block, counted.get(block, 0.0), want))
    generations = []
    for path in log.parent.glob(log.name + "*"):
        with open(path, "rb") as f:
            numbers = [int(line.split()[1]) for line in f if line.endswith(b"\n")]
        if numbers:
            st = path.stat()
            generations.append((numbers[0], numbers[-1], path.name, st.st_ino, st.st_size))
    generations.sort()
    for block, got, want in wrong[:20]:
        first, last = block * BLOCK, block * BLOCK + want - 1
        held = ", ".join(f"{name} (inode {ino}, {size} bytes, lines {lo}-{hi})"
                         for lo, hi, name, ino, size in generations if lo <= last and hi >= first)
        print(f"    lines {first}-{last}: counted {got:.0f} of {want}; in {held or 'no file'}")
    if len(wrong) > 20:
        print(f"    ... and {len(wrong) - 20} more blocks")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=40.0, help="of writing and chaos, per run")
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--rate", type=int, default=10_000, help="lines per second, all files together")
    parser.add_argument("--rotate-every", type=float, default=2.0, help="seconds between rotations of a file")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--trace", action="store_true",
                        help="keep, for each start, the state it resumed from and the logs' generations "
                             "(in the run's folder, trace/NNN)")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every file, not only differences")
    args = parser.parse_args()
    if not SCRIPT.exists():
        print(f"no {SCRIPT}: install logmetrics in this Python's environment", file=sys.stderr)
        return 2
    exact = 0
    for number in range(args.runs):
        exact += one_run(number, args)
    print(f"{exact} of {args.runs} runs exact")
    return 0 if exact == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
