"""Benchmarks: `python -m benchmarks.throughput` (see README, Performance)."""

import pipeline  # noqa: F401  (sets OpenMP threads before any benchmark imports mxnet)
