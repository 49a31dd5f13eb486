"""The pages people read: the daemon's status page and match inspector, /json, and the playground.

Server-rendered HTML with a small stylesheet and script from ``assets/``
(no outside assets: the machine may have no internet), plain text for
terminals, JSON for tools. The HTTP server (``exposition.server``) routes
every path it does not own itself to :mod:`logmetrics.web.routes`.
"""
