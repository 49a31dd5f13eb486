"""The metric store: programs write here, exposition reads from here."""

from logmetrics.store.metric import DEFAULT_MAX_LABEL_SETS, Kind, LabelValues, Metric
from logmetrics.store.registry import MetricStore

__all__ = ["DEFAULT_MAX_LABEL_SETS", "Kind", "LabelValues", "Metric", "MetricStore"]
