"""Our Prometheus text writer (used by dry-run and test) writes exactly what prometheus-client's
``generate_latest`` writes for the same store (used by /metrics)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest

from logmetrics.exposition.render import registry_for
from logmetrics.exposition.text import go_float, render_text
from logmetrics.store import Kind, Metric, MetricStore
from logmetrics.store.metric import DEFAULT_MAX_LABEL_SETS

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
    expected = generate_latest(registry_for(store, prog_label, timestamps)).decode()
    assert render_text(store, prog_label, timestamps) == expected


def test_go_float_examples():
    assert go_float(1) == "1.0"
    assert go_float(0.005) == "0.005"
    assert go_float(1e6) == "1e+06"
    assert go_float(1234567.5) == "1.2345675e+06"
    assert go_float(-1e6) == "-1000000.0"
    assert go_float(math.inf) == "+Inf" and go_float(-math.inf) == "-Inf" and go_float(math.nan) == "NaN"
