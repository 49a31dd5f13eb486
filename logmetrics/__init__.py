"""logmetrics: follow log files and turn them into Prometheus metrics.

Programs are written in the mtail language, extended with grok patterns.
"""

__version__ = "0.1.0"
