"""Helpers shared by several test folders and the benchmarks: imported as ``support.<module>``.

pytest puts ``tests/`` on ``sys.path`` (``pythonpath`` in pyproject.toml); benchmark scripts add it
themselves. (A top-level ``tests`` package installed by a dependency shadows ``tests.*`` imports.)
"""
