"""The metric store: programs write here, exposition reads from here."""

from logmetrics.defaults import (
    DEFAULT_MAX_LABEL_SETS,
    DEFAULT_MAX_LABEL_VALUE_BYTES,
    DEFAULT_MAX_SERIES_BYTES,
)
from logmetrics.store.metric import (
    Carried,
    Kind,
    LabelValues,
    Metric,
)
from logmetrics.store.registry import MetricStore

__all__ = ["DEFAULT_MAX_LABEL_SETS", "DEFAULT_MAX_LABEL_VALUE_BYTES", "DEFAULT_MAX_SERIES_BYTES", "Carried",
           "Kind", "LabelValues", "Metric", "MetricStore"]
