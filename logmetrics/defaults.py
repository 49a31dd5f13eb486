"""Defaults the command line shows, kept apart so that ``--help`` imports nothing heavy."""

#: Output formats of dry-run.
FORMATS = ("prometheus", "openmetrics", "json")

#: Prometheus' exporter port range (9100-9999) is fully allocated; 3904 sits
#: beside mtail's 3903, so both can run side by side while moving over.
DEFAULT_PORT = 3904
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"

#: How often ``run --textfile`` rewrites its file, in seconds.
DEFAULT_TEXTFILE_INTERVAL = 15.0

#: Files whose ``logmetrics_log_*`` self-metrics are series of their own (``run --max-file-metrics``);
#: the others are summed under ``file="other"``.
DEFAULT_MAX_FILE_METRICS = 100

# The store's guards (logmetrics/store/metric.py), which --max-label-sets and its kin set.
#: Label sets a dimensioned metric may hold unless its program sets ``limit``.
DEFAULT_MAX_LABEL_SETS = 10_000
#: Longest label value (UTF-8 bytes) a new label set may carry; longer ones are refused.
DEFAULT_MAX_LABEL_VALUE_BYTES = 1024
#: Label value bytes one metric may hold over all its label sets (8 MiB).
DEFAULT_MAX_SERIES_BYTES = 8 << 20
