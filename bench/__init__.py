"""Benchmarks: each script starts its own dev server and worker processes, drives them, and
prints progress lines followed by one JSON summary as its last line (docs/performance.md).
"""
