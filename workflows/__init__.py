"""Temporal workflows. Deterministic and free of I/O: they decide, activities act."""
