"""Our Prometheus text and OpenMetrics writers write exactly what prometheus-client's writers write
for the same store (built with its own family types: tests/exposition/reference.py), both straight
from the store (a whole scrape, dry-run, test) and through families (a scrape filtered by name,
logmetrics' own metrics)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from logmetrics.exposition.collector import StoreCollector
from logmetrics.exposition.text import go_float, go_label_float, render_text, write_families
from logmetrics.store import Kind, Metric, MetricStore
from logmetrics.store.metric import DEFAULT_MAX_LABEL_SETS
from tests.exposition.reference import reference_registry

NAMES = st.from_regex(r"[a-z0-9][a-z0-9_.:\-]{0,8}(_total)?", fullmatch=True)
LABELS = st.lists(st.sampled_from(["method", "status", "path", "zone", "a_b"]), max_size=3, unique=True)
LABEL_VALUES = st.text(alphabet=st.sampled_from('abc "\\\n\u00e9\u4e2d{}=,0'), max_size=6)
NUMBERS = st.one_of(
    st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.1, 1e6, 1234567.5, 12345678.0, 1e21, 1e-7, 5e-324, -0.0]),
)
BUCKETS = st.lists(st.floats(min_value=1e-6, max_value=1e9), min_size=1, max_size=4, unique=True).map(
    lambda b: tuple(sorted(b)))


@st.composite
def metrics(draw) -> Metric:
    kind = draw(st.sampled_from(list(Kind)))
    labels = tuple(draw(LABELS))
    name = draw(NAMES)
    metric = Metric(name=name, export_name=name, kind=kind, labels=labels,
                    program=draw(st.sampled_from(["a.mtail", "b.mtail"])), hidden=draw(st.booleans()),
                    buckets=draw(BUCKETS) if kind is Kind.HISTOGRAM else ())
    keys = draw(st.lists(st.tuples(*[LABEL_VALUES] * len(labels)), max_size=3, unique=True)) if labels \
        else draw(st.sampled_from([[()], []]))
    for key in keys:
        if kind is Kind.HISTOGRAM:
            counts = draw(st.lists(st.integers(0, 10**6), min_size=len(metric.buckets) + 1,
                                   max_size=len(metric.buckets) + 1))
            metric.values[key] = [*counts, draw(NUMBERS)]
        elif kind is Kind.TEXT:
            metric.values[key] = draw(LABEL_VALUES)
        else:
            metric.values[key] = draw(NUMBERS)
        if draw(st.booleans()):
            metric.stamps[key] = draw(st.floats(0, 4e9))
    assert metric.max_label_sets == DEFAULT_MAX_LABEL_SETS
    return metric


@settings(max_examples=300, deadline=None)
@given(st.lists(metrics(), max_size=6), st.booleans(), st.booleans())
def test_same_bytes_as_prometheus_client(found, prog_label, timestamps):
    store = MetricStore()
    for program in ("a.mtail", "b.mtail"):
        store.set_program(program, [m for m in found if m.program == program])
    expected = generate_latest(reference_registry(store, prog_label, timestamps)).decode()
    assert render_text(store, prog_label, timestamps) == expected
    # The same store as our own families (a scrape filtered by name), by our family writer.
    assert write_families(StoreCollector(store, prog_label, timestamps).collect()) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(metrics(), max_size=6), st.booleans(), st.booleans())
def test_same_openmetrics_as_prometheus_client(found, prog_label, timestamps):
    """As /metrics serves OpenMetrics. One known difference: prometheus-client writes a ``:`` in a
    sample's name as ``_`` (not in its family's name); we keep it in both, as the format wants."""
    store = MetricStore()
    found = [m for m in found if ":" not in m.export_name]
    for program in ("a.mtail", "b.mtail"):
        store.set_program(program, [m for m in found if m.program == program])
    expected = generate_openmetrics(reference_registry(store, prog_label, timestamps)).decode()
    assert render_text(store, prog_label, timestamps, openmetrics=True) + "# EOF\n" == expected
    written = write_families(StoreCollector(store, prog_label, timestamps).collect(), openmetrics=True)
    assert written is not None and written + "# EOF\n" == expected


def test_go_float_examples():
    assert go_float(1) == "1.0"
    assert go_float(0.005) == "0.005"
    assert go_float(1e6) == "1e+06"
    assert go_float(1234567.5) == "1.2345675e+06"
    assert go_float(-1e6) == "-1000000.0"
    assert go_float(math.inf) == "+Inf" and go_float(-math.inf) == "-Inf" and go_float(math.nan) == "NaN"


# Bucket bounds and what Go's strconv.FormatFloat(v, 'g', -1, 64) gives for them (client_golang's
# ``le`` and ``quantile``); mtail's own output, compared in tests/programs, holds the common ones.
GO_LABELS = [
    (1, "1"), (1.0, "1"), (10, "10"), (60, "60"), (0.005, "0.005"), (2.5, "2.5"), (0.25, "0.25"),
    (0.0001, "0.0001"), (1e-05, "1e-05"), (1.5e-07, "1.5e-07"), (100000, "100000"), (123456, "123456"),
    (999999, "999999"), (1e6, "1e+06"), (1234567, "1.234567e+06"), (1.5e6, "1.5e+06"), (1e21, "1e+21"),
    (1e100, "1e+100"), (5e-324, "5e-324"), (0, "0"), (-0.0, "-0"), (-1, "-1"), (-2.5e-5, "-2.5e-05"),
    (0.1 + 0.2, "0.30000000000000004"), (math.inf, "+Inf"), (-math.inf, "-Inf"),
]


def test_bucket_bounds_are_written_as_the_go_client_writes_them():
    assert [(value, go_label_float(value)) for value, _text in GO_LABELS] == GO_LABELS
    assert go_label_float(math.nan) == "NaN"


def _one_histogram() -> MetricStore:
    metric = Metric(name="lat", export_name="lat", kind=Kind.HISTOGRAM, labels=("m",), program="a.mtail",
                    buckets=(0.005, 1.0, 10.0, 1e6))
    metric.values[("x",)] = [1, 2, 0, 0, 0, 3.5]
    store = MetricStore()
    store.set_program("a.mtail", [metric])
    return store


def test_le_labels_in_every_writer():
    """Our writers (from the store, and through families) and prometheus-client's, in both formats."""
    store = _one_histogram()
    registry = reference_registry(store)
    texts = (render_text(store), render_text(store, openmetrics=True),
             write_families(StoreCollector(store).collect()),
             generate_latest(registry).decode(), generate_openmetrics(registry).decode())
    for text in texts:
        bounds = [line.split('le="')[1].split('"')[0] for line in text.splitlines() if "_bucket{" in line]
        assert bounds == ["0.005", "1", "10", "1e+06", "+Inf"], text


def test_a_yielding_render_writes_the_same_text():
    from logmetrics.exposition.text import YIELD_EVERY

    counter = Metric(name="hits", export_name="hits", kind=Kind.COUNTER, labels=("path",), program="a.mtail")
    latency = Metric(name="latency", export_name="latency", kind=Kind.HISTOGRAM, labels=("path",),
                     program="a.mtail", buckets=(0.5,))
    for i in range(2 * YIELD_EVERY + 7):
        counter.values[(f"/{i}",)] = i
        latency.values[(f"/{i}",)] = [i, 1, 0.25 * i]
    store = MetricStore()
    store.set_program("a.mtail", [counter, latency])
    for openmetrics in (False, True):
        text = render_text(store, prog_label=True, openmetrics=openmetrics, yielding=True)
        assert text == render_text(store, prog_label=True, openmetrics=openmetrics)
        assert text.count("\n") == 2 * 2 + (2 * YIELD_EVERY + 7) * 5
