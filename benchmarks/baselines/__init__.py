"""Baseline services for ``benchmarks/bench_serve.py``: a throw-away PostGIS cluster, stock pygeoapi and tipg."""
