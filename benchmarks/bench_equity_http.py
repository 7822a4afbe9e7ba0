"""Equity API over HTTP: statewide by-town exposure latency (target: p50 < 150 ms when warm).

Publishes the four sample layers the answer needs into a temporary store, starts the real service
(``geosvc.api.app.serve``, full ``create_app``) in its own process and times
``POST /equity/exposure`` (drought DM >= 2 × 2010 tracts by town, all groups) with one keep-alive
client:

* cold: the first request (frames read, overlay weights built);
* warm repeat: the same request again (answers are cached per request + layer versions);
* warm new answer: a different answer on the same layers: another ``k`` (the unprotected table is
  reused; disclosure control and encoding run afresh) or another reference group (the table is
  recomputed from the cached frames and overlay weights);
* the same for GeoJSON and CSV.

Run: ``.venv/bin/python benchmarks/bench_equity_http.py [--repeat N] [--before REV]``; writes the
``bench_equity_http`` section of ``benchmarks/RESULTS.md``. ``--before REV`` adds the figures of that
section as committed at ``REV`` (an earlier run) next to this run's.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import write_section

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the tests' shared helpers (support.*)

from support.equity_catalog import DROUGHT, publish_equity_sample  # noqa: E402
from support.published_catalog import running_server  # noqa: E402

BODY = {"hazard": DROUGHT, "population": "ct-tracts-2010", "places": "ct-towns", "reference": "nh_white"}
REFERENCES = ["total", "rest", "hispanic", "nh_black", "nh_asian", "age65plus"]


def _time(client: httpx.Client, body: dict, fmt: str = "json") -> tuple[float, int]:
    start = time.perf_counter()
    response = client.post(f"/equity/exposure?f={fmt}", json=body)
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    return elapsed * 1000, len(response.content)


def _stats(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def run(repeat: int) -> list[tuple[str, int, float, float, int]]:
    """Rows: case, n, p50 ms, p95 ms, body bytes."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-equity-http-") as tmp:
        settings, _ = publish_equity_sample(Path(tmp) / "store")
        with running_server(settings) as base, httpx.Client(base_url=base, timeout=600) as client:
            cold, size = _time(client, BODY)
            rows.append(("cold: first request (JSON)", 1, cold, cold, size))
            for fmt in ("json", "geojson", "csv"):
                _time(client, BODY, fmt)
                times = [_time(client, BODY, fmt) for _ in range(repeat)]
                p50, p95 = _stats([t for t, _ in times])
                rows.append((f"warm repeat ({fmt})", repeat, p50, p95, times[0][1]))
            times = [_time(client, {**BODY, "k": 11 + i}) for i in range(1, repeat + 1)]
            p50, p95 = _stats([t for t, _ in times])
            rows.append(("warm new answer: other k (JSON)", repeat, p50, p95, times[0][1]))
            times = [_time(client, {**BODY, "reference": r, "k": 12}) for r in REFERENCES]
            p50, p95 = _stats([t for t, _ in times])
            rows.append(("warm new answer: other reference group (JSON; table recomputed)", len(REFERENCES), p50,
                         p95, times[0][1]))
            times = [_time(client, {**BODY, "k": 200 + i}, "geojson") for i in range(repeat)]
            p50, p95 = _stats([t for t, _ in times])
            rows.append(("warm new answer (GeoJSON)", repeat, p50, p95, times[0][1]))
    return rows


def previous(rev: str) -> tuple[dict[str, tuple[float, float]], str]:
    """p50 and p95 per case, and the machine line, of this section as committed at ``rev``."""
    text = subprocess.run(["git", "show", f"{rev}:benchmarks/RESULTS.md"], cwd=HERE, check=True,
                          capture_output=True, text=True).stdout
    section = text.split("<!-- bench_equity_http -->")[1]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and re.fullmatch(r"[\d.]+", cells[2]):
            rows[cells[0]] = (float(cells[2]), float(cells[3]))
    load = re.search(r"load average ([\d.]+)", section)
    return rows, load.group(1) if load else "?"


def write_results(text: str) -> None:
    """Write this benchmark's section of RESULTS.md."""
    write_section("bench_equity_http", f"## Equity API over HTTP (`benchmarks/bench_equity_http.py`)\n\n{text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="requests per warm case")
    parser.add_argument("--before", metavar="REV", help="show this section's figures as committed at REV too")
    args = parser.parse_args()
    load_start = os.getloadavg()[0]
    rows = run(args.repeat)
    load = os.getloadavg()
    before, before_load = previous(args.before) if args.before else ({}, "")
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared; load average {load[0]:.1f} at the end), "
        f"Python {platform.python_version()}. One uvicorn process (full `create_app`), one keep-alive httpx "
        "client on the same machine; request = drought DM >= 2 × 833 tracts by 169 towns, all 7 groups, "
        "JSON unless stated. Target: warm p50 < 150 ms.",
        "",
    ]
    if before:
        lines += [f"Before: the figures of this section at {args.before} (load average {before_load} then; "
                  f"{load_start:.1f} at the start of this run).", ""]
        lines += ["| case | requests | p50 ms | p95 ms | body bytes | p50 ms before | p95 ms before |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {case} | {n} | {p50:.1f} | {p95:.1f} | {size:,} | {before.get(case, (float('nan'),) * 2)[0]:.1f} "
                  f"| {before.get(case, (float('nan'),) * 2)[1]:.1f} |" for case, n, p50, p95, size in rows]
    else:
        lines += ["| case | requests | p50 ms | p95 ms | body bytes |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {case} | {n} | {p50:.1f} | {p95:.1f} | {size:,} |" for case, n, p50, p95, size in rows]
    text = "\n".join(lines)
    print(text)
    write_results(text)


if __name__ == "__main__":
    main()
