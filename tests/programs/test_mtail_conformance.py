"""mtail's own example programs give mtail's numbers.

For every example program shipped with Debian's mtail, a sample log in
tests/data/mtail runs through logmetrics and is compared, series by series,
with the output the real mtail produced (committed as NAME.prom), and with
the mtail binary itself when it is installed. Deliberate differences, which
the comparison normalises: counters are exported with the ``_total`` suffix
(client_python's convention), and the ``prog`` label is off by default
(``--prog-label`` turns it on).
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from logmetrics.exposition.render import render
from logmetrics.runtime.engine import Runtime
from logmetrics.runtime.program import Program
from logmetrics.sources.static import read_batches
from tests.helpers import REPO, SHARED_DATA, library

EXAMPLES = Path("/usr/share/doc/mtail/examples")
DATA = REPO / "tests" / "data" / "mtail"
NAMES = sorted(p.stem for p in DATA.glob("*.prom"))
LOGS = {"lighttpd": ["lighttpd.access.log"], "vsftpd": ["vsftpd.log", "xferlog"]}

needs_examples = pytest.mark.skipif(not EXAMPLES.exists(), reason="mtail's examples are not installed")

Series = dict[tuple[str, frozenset], float]


def series(text: str) -> Series:
    """Samples keyed by (name without a counter's _total, labels without prog)."""
    out: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            name = sample.name
            if family.type == "counter" and name.endswith("_total"):
                name = name[: -len("_total")]
            # Bucket bounds are compared as text: queries name le="1", as mtail writes it.
            labels = {k: v for k, v in sample.labels.items() if k != "prog"}
            out[(name, frozenset(labels.items()))] = sample.value
    return out


def logs_for(name: str) -> list[Path]:
    return [DATA / log for log in LOGS.get(name, [f"{name}.log"])]


def run_logmetrics(name: str) -> Series:
    program = Program.load(EXAMPLES / f"{name}.mtail", library())
    runtime = Runtime([program])
    for log in logs_for(name):
        for batch in read_batches(str(log)):
            runtime.process(batch, str(log))
    return series(render(runtime.store))


def as_mtail_buckets(ours: Series, theirs: Series) -> Series:
    """Our histograms as mtail 3.0.0~rc50 writes them.

    mtail counts an observation at or below 0 in _sum and _count but in no
    bucket, and writes no bucket for a bound of 0, so its +Inf bucket can be
    smaller than _count. We keep Prometheus' semantics (every observation is in
    +Inf); this maps ours onto mtail's, with the number of such observations
    read from mtail's own _count minus +Inf, to compare everything else exactly.
    """
    out = dict(ours)
    for (name, labels), value in theirs.items():
        if not name.endswith("_bucket") or ("le", "+Inf") not in labels:
            continue
        rest = labels - {("le", "+Inf")}
        below_zero = theirs[(name[: -len("_bucket")] + "_count", rest)] - value
        for key in list(out):
            if key[0] == name and rest <= key[1]:
                if ("le", "0") in key[1]:
                    del out[key]
                else:
                    out[key] -= below_zero
    return out


def assert_same(ours: Series, theirs: Series) -> None:
    ours = as_mtail_buckets(ours, theirs)
    assert set(ours) == set(theirs), (set(ours) ^ set(theirs))
    for key, value in theirs.items():
        assert math.isclose(ours[key], value, rel_tol=1e-9, abs_tol=1e-9), (key, ours[key], value)


def test_every_example_has_conformance_data():
    if EXAMPLES.exists():
        assert sorted(p.stem for p in EXAMPLES.glob("*.mtail")) == NAMES
    assert len(NAMES) == 17


@needs_examples
@pytest.mark.parametrize("name", NAMES)
def test_same_numbers_as_mtail(name):
    expected = series((DATA / f"{name}.prom").read_text(encoding="utf-8"))
    assert_same(run_logmetrics(name), expected)


@pytest.mark.skipif(shutil.which("mtail") is None, reason="the mtail binary is not installed")
@needs_examples
@pytest.mark.parametrize("name", NAMES)
def test_same_numbers_as_live_mtail(name):
    result = subprocess.run(
        ["mtail", "--one_shot", "--one_shot_format=prometheus", "--progs", str(EXAMPLES / f"{name}.mtail"),
         "--logs", ",".join(str(p) for p in logs_for(name))],
        capture_output=True, text=True, timeout=60, cwd=DATA,
    )
    assert result.returncode == 0, result.stderr
    assert_same(run_logmetrics(name), series(result.stdout))


METRICS_LOG = SHARED_DATA / "apache" / "access_metrics_format.log.gz"


@needs_examples
@pytest.mark.skipif(not METRICS_LOG.exists(), reason="shared test data is not present")
def test_apache_metrics_on_the_whole_real_log():
    """apache_metrics.mtail over all 345,562 lines of the real metrics-format log."""
    program = Program.load(EXAMPLES / "apache_metrics.mtail", library())
    runtime = Runtime([program])
    for batch in read_batches(str(METRICS_LOG)):
        runtime.process(batch, "access.log")
    ours = series(render(runtime.store))
    expected = series((DATA / "apache_metrics.full-log.expected").read_text(encoding="utf-8"))
    assert_same(ours, expected)
    assert program.stats.lines_matched == 345_562
