"""The daemon behind ``logmetrics run``: the main loop, signals, checkpoints and self-metrics.

It sits on top of everything else and owns no rule of the others: sources read
lines, the runtime runs them through programs, the store holds values, and
exposition serves them; the daemon only decides when each happens.
"""
