"""A --logs glob that matches no file: said once in the log, and counted in a self-metric an alert
can watch (logmetrics_log_glob_files), through the installed console script."""

from __future__ import annotations

import time
from pathlib import Path

from tests.cli.test_daemon import Daemon, counting_progs, wait_for


def test_globs_that_match_nothing_are_logged_once_and_counted(tmp_path):
    progs = counting_progs(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("line 1\n", encoding="utf-8")
    present, later, typo = str(logs / "*.log"), str(logs / "later" / "*.log"), str(logs / "acess.log")
    daemon = Daemon(tmp_path, progs, present, "--logs", later, "--logs", typo, "--from", "beginning")
    try:
        samples = daemon.samples()
        assert samples[f"logmetrics_log_glob_files{{glob={present}}}"] == 1.0
        assert samples[f"logmetrics_log_glob_files{{glob={later}}}"] == 0.0
        assert samples[f"logmetrics_log_glob_files{{glob={typo}}}"] == 0.0

        (logs / "later").mkdir()
        (logs / "later" / "b.log").write_text("line 2\n", encoding="utf-8")
        (logs / "c.log").write_text("line 3\n", encoding="utf-8")
        assert wait_for(lambda: daemon.samples().get(f"logmetrics_log_glob_files{{glob={later}}}") == 1.0)
        assert wait_for(lambda: daemon.samples().get(f"logmetrics_log_glob_files{{glob={present}}}") == 2.0)
        assert wait_for(lambda: daemon.samples().get("lines_total") == 3.0)
        time.sleep(2.5)  # more rescans: the typo is still reported only once
        assert daemon.samples()[f"logmetrics_log_glob_files{{glob={typo}}}"] == 0.0
    finally:
        assert daemon.stop() == 0
    log = Path(daemon.stderr.name).read_text(encoding="utf-8", errors="replace")
    assert log.count(f"{typo} matches no file yet") == 1
    assert log.count(f"{later} matches no file yet") == 1
    assert f"{present} matches no file" not in log
