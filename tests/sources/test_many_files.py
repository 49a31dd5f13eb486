"""The follower over many files: a backlog is handed out over several turns, every line once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from logmetrics.sources.follow import Follower


def test_a_backlog_over_many_files_is_read_over_several_turns_every_line_once(tmp_path: Path) -> None:
    for i in range(30):
        (tmp_path / f"f{i:02d}.log").write_text("old\n", encoding="utf-8")
    # No rescan during the test: after the first turn, files are read on their change events only.
    follower = Follower([str(tmp_path / "*.log")], from_end=True, rescan_interval=3600, turn_lines=250)
    follower.start()
    try:
        assert follower.poll() == []
        for i in range(30):
            with open(tmp_path / f"f{i:02d}.log", "a", encoding="utf-8") as f:
                f.write("".join(f"{i} {n}\n" for n in range(100)))
        seen: Counter[str] = Counter()
        turns = 0
        while True:
            batches = follower.poll()
            turns += 1
            taken = sum(len(lines) for _, lines in batches)
            assert taken <= 250 + 100  # the budget, and at most one file's read beyond it
            for path, lines in batches:
                seen.update(f"{Path(path).name} {line}" for line in lines)
            if not batches and not follower.behind:
                break
            assert turns < 100
        assert turns >= 3000 // 350
        assert len(seen) == 3000 and set(seen.values()) == {1}
    finally:
        follower.stop()
