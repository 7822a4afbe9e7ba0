"""Validate + publish benchmark: the 2010 tracts layer and a generated 1,000,000-point layer.

Each case runs in a fresh process (``--measure CASE``) that itself runs the work in a child
(``--work CASE``) and reads the child's peak RSS with ``resource.getrusage(RUSAGE_CHILDREN)``,
so every number is one process's own peak. The work process prints the in-process seconds of
validate and publish; the measuring process adds the wall time including interpreter start-up.

Usage::

    .venv/bin/python benchmarks/bench_publish.py            # print results
    .venv/bin/python benchmarks/bench_publish.py --write    # also replace the bench_publish section of RESULTS.md

Target (issue 2): 1M points validated and published in < 20 s with peak RSS < 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import write_section

HERE = Path(__file__).resolve().parent
N_POINTS = 1_000_000
SEED = 20261125
CASES = ("tracts", "points_1m")
TARGET_SECONDS, TARGET_RSS_MB = 20.0, 1536.0


def _make_points(root: Path) -> None:
    """Write the seeded 1M-point GeoPackage and its record under ``root`` (data root and layers dir)."""
    import geopandas as gpd
    import numpy as np
    import pyogrio
    import shapely
    import yaml

    rng = np.random.default_rng(SEED)
    lon = rng.uniform(-73.70, -71.80, N_POINTS)
    lat = rng.uniform(40.98, 42.04, N_POINTS)
    frame = gpd.GeoDataFrame(
        {
            "site_id": np.arange(1, N_POINTS + 1, dtype="int64"),
            "category": rng.choice(["clinic", "school", "library", "shelter"], N_POINTS),
            "capacity": rng.integers(10, 500, N_POINTS),
        },
        geometry=shapely.points(lon, lat),
        crs="EPSG:4326",
    )
    pyogrio.write_dataframe(frame, root / "points_1m.gpkg", layer="points", use_arrow=True)
    record = {
        "id": "bench-points-1m",
        "title": "Benchmark: 1,000,000 generated points",
        "description": f"Uniform random points over Connecticut's extent (numpy seed {SEED}).",
        "keywords": ["benchmark"],
        "theme": "testing",
        "publisher": {"agency": "geosvc benchmarks"},
        "contact": {"name": "Bench", "email": "bench@example.org"},
        "license": {"name": "CC0-1.0"},
        "attribution": "generated",
        "source": {"path": "points_1m.gpkg", "layer": "points"},
        "id_field": "site_id",
        "geometry_type": "Point",
        "crs": "EPSG:4326",
        "update_cadence": "static",
        "last_updated": "2026-11-25",
        "temporal_extent": {"start": "2026-11-25"},
    }
    (root / "layers").mkdir()
    (root / "layers" / "bench-points-1m.yaml").write_text(yaml.safe_dump(record, sort_keys=False))


def _work(case: str, root: Path) -> None:
    """Validate and publish one case into a temp store; print JSON timings."""
    from geosvc.records.loader import load_record
    from geosvc.settings import load_settings
    from geosvc.store.gpkg import GpkgStore
    from geosvc.store.publish import publish_layer
    from geosvc.validate.layer import validate_layer

    if case == "tracts":
        settings = load_settings(store_dir=root / "store")
        record = load_record(settings.layers.dir / "ct-tracts-2010.yaml")
    else:
        settings = load_settings(data_root=root, layers_dir=root / "layers", store_dir=root / "store")
        record = load_record(settings.layers.dir / "bench-points-1m.yaml")
    store = GpkgStore(settings)
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    report = validate_layer(record, settings)
    store.record_validation(report)
    validated = time.perf_counter()
    if not report.ok:
        raise SystemExit(f"{record.id} failed validation: {[f.code for f in report.findings]}")
    steps: dict[str, float] = {}
    last = [validated, "start"]

    def step(message: str) -> None:  # seconds spent in each publish step
        now = time.perf_counter()
        steps[last[1]] = round(now - last[0], 2)
        last[:] = [now, message]

    layer = publish_layer(record, report, store, settings, step=step)
    done = time.perf_counter()
    step("done")
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_end.ru_utime - cpu_start.ru_utime) + (cpu_end.ru_stime - cpu_start.ru_stime)
    print(json.dumps({
        "layer": record.id, "features": layer.feature_count,
        "validate_s": validated - start, "publish_s": done - validated, "artifact_mb": store.file(layer).stat().st_size / 2**20,
        "cpu_s": cpu, "steps": steps,
    }))


def _measure(case: str, root: Path) -> None:
    """Run ``--work`` in a child; print its timings plus wall time and the child's peak RSS."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--work", case, "--root", str(root)], capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"{case}: worker failed: {proc.stderr.strip().splitlines()[-1:]}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kilobytes on Linux
    print(json.dumps({**json.loads(proc.stdout.strip().splitlines()[-1]), "wall_s": wall, "peak_rss_mb": peak_kb / 1024}))


def _run_case(case: str, root: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--measure", case, "--root", str(root)], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _section(rows: list[dict]) -> str:
    lines = [
        "## Validate + publish (`benchmarks/bench_publish.py`)",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()}, {os.cpu_count()} cores "
        "(shared with other work), Python " + platform.python_version() + ". Each case in a fresh process; "
        "peak RSS of that process (`getrusage(RUSAGE_CHILDREN)`). `validate + publish` is in-process time; "
        "`wall` adds interpreter start-up and imports; `cpu` is the CPU time (user + sys, all threads) of "
        "validate + publish, i.e. roughly what they take on an idle machine. Publish time is almost all "
        "GDAL writing the GeoPackage and its R-tree (see `steps`).",
        "",
        "| layer | features | validate s | publish s | validate + publish s | cpu s | wall s | peak RSS MB | GPKG MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['layer']} | {r['features']:,} | {r['validate_s']:.2f} | {r['publish_s']:.2f} | "
            f"{r['validate_s'] + r['publish_s']:.2f} | {r['cpu_s']:.2f} | {r['wall_s']:.2f} | {r['peak_rss_mb']:.0f} | {r['artifact_mb']:.1f} |"
        )
    points = next(r for r in rows if r["layer"] == "bench-points-1m")
    seconds = points["validate_s"] + points["publish_s"]
    ok = seconds < TARGET_SECONDS and points["peak_rss_mb"] < TARGET_RSS_MB
    lines += ["", "Publish steps (s): " + "; ".join(f"{r['layer']}: {r['steps']}" for r in rows)]
    lines += [
        "",
        f"Load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.",
        "",
        f"Target for 1M points: validate + publish < {TARGET_SECONDS:.0f} s and < {TARGET_RSS_MB:.0f} MB peak: "
        f"**{'met' if ok else 'NOT met'}** ({seconds:.1f} s validate + publish, {points['wall_s']:.1f} s wall "
        f"with start-up, {points['cpu_s']:.1f} s CPU, {points['peak_rss_mb']:.0f} MB).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the bench_publish section of RESULTS.md")
    parser.add_argument("--work", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--measure", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.work:
        return _work(args.work, args.root)
    if args.measure:
        return _measure(args.measure, args.root)

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_publish_") as tmp:
        root = Path(tmp)
        _make_points(root)
        for case in CASES:
            (root / "store").mkdir(exist_ok=True)
            rows.append(_run_case(case, root))
            subprocess.run(["rm", "-rf", str(root / "store")], check=True)
            print(json.dumps(rows[-1]), flush=True)
    section = _section(rows)
    print(section)
    if args.write:
        write_section("bench_publish", section)


if __name__ == "__main__":
    main()
