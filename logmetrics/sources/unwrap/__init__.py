"""Envelopes around log lines, removed so that programs see the server's own line.

``syslog``: RFC 3164 and RFC 5424 headers, and RFC 6587 octet-counted framing.
``container``: the CRI format (Kubernetes) and Docker's json-file format.
"""
