"""Self-metrics of the stream sources and container logs: ``logmetrics_source_*``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from logmetrics.exposition.families import MetricFamily, counter, gauge
from logmetrics.sources.hub import SourceHub
from logmetrics.sources.stream import StreamStats


class StreamCollector:
    """Per stream source (``source`` label: the ``--logs`` URL, ``-``, or a named pipe's path)."""

    def __init__(self, sources: SourceHub) -> None:
        self.sources = sources

    def collect(self) -> Iterator[MetricFamily]:
        streams = sorted(self.sources.stream_stats().items())
        counters: dict[str, tuple[str, Callable[[StreamStats], int]]] = {
            "logmetrics_source_lines": ("Lines read from a stream source (before tag filters)",
                                        lambda s: s.lines),
            "logmetrics_source_bytes": ("Bytes read from a stream source", lambda s: s.bytes),
            "logmetrics_source_connections": ("Connections accepted (sockets) or opens (pipes, stdin)",
                                              lambda s: s.connections),
            "logmetrics_source_malformed_syslog_frames": ("Frames that were not syslog messages, skipped",
                                                          lambda s: s.malformed_syslog),
        }
        for name, (doc, get) in counters.items():
            family = counter(name, doc, ["source"])
            for source, stats in streams:
                family.add([source], get(stats))
            yield family
        open_now = gauge("logmetrics_source_open_connections",
                         "Connections (or pipes) open now", ["source"])
        for source, stats in streams:
            open_now.add([source], stats.open_connections)
        yield open_now
        dropped = counter(
            "logmetrics_source_dropped",
            "What a stream source dropped: overlong (a datagram or syslog frame over the limit, "
            "dropped; a line over it, cut), connections (over the limit, closed), accept_failed "
            "(out of descriptors), receive_buffer (UDP datagrams the kernel dropped, socket buffer "
            "full)", ["source", "reason"])
        for source, stats in streams:
            for reason, count in sorted(stats.dropped.items()):
                dropped.add([source, reason], count)
        yield dropped
        containers = sorted(self.sources.unwrap_stats().items())
        malformed = counter(
            "logmetrics_container_log_malformed_lines",
            "Lines of a container log not in its format (CRI or Docker json-file)", ["file"])
        cut = counter(
            "logmetrics_container_log_overlong_lines",
            "Joined container log lines cut at the maximum line length", ["file"])
        for path, unwrap in containers:
            malformed.add([path], unwrap.malformed)
            cut.add([path], unwrap.overlong)
        yield malformed
        yield cut
