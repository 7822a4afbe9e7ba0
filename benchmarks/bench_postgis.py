"""geosvc on PostGIS against tipg on the same database: items req/s and p50/p95, and publishing 1M points.

One throw-away PostgreSQL/PostGIS cluster holds both: geosvc publishes the 2010 tracts and 300,000
generated parcels into it (``store.backend = "postgis"``), and the same features are loaded with
ogr2ogr into ``public`` tables (GiST index, primary key) for tipg. Each service is one process on
127.0.0.1 and gets the same wrk load: ``limit=100`` items requests for random bboxes (fixed seed).
Then the generated 1,000,000 points (``bench_publish.py``'s layer) are validated and published into
PostGIS and into the embedded store, each in a fresh process.

Run (after ``bash benchmarks/setup_baselines.sh``)::

    .venv/bin/python benchmarks/bench_postgis.py [--duration 10] [--write]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
import yaml
from bench_publish import _make_points
from bench_serve import fetch_keys, random_bboxes, run_wrk
from results import write_section

from baselines import postgis, services

ROOT = Path(__file__).resolve().parent.parent
N_PARCELS = 300_000
SEED = 2026


def make_parcels(root: Path) -> None:
    """300,000 seeded parcels (jittered quadrilaterals on a grid over Connecticut) and their record."""
    rng = np.random.default_rng(SEED)
    nx, ny = 600, 500
    x0, y0, x1, y1 = -73.60, 41.05, -71.85, 41.95
    dx, dy = (x1 - x0) / nx, (y1 - y0) / ny
    ix, iy = np.meshgrid(np.arange(nx), np.arange(ny))
    cx, cy = x0 + (ix.ravel() + 0.5) * dx, y0 + (iy.ravel() + 0.5) * dy
    jitter = rng.uniform(0.30, 0.48, (N_PARCELS, 4))
    rings = np.stack([
        np.column_stack([cx - jitter[:, 0] * dx, cy - jitter[:, 1] * dy]),
        np.column_stack([cx + jitter[:, 2] * dx, cy - jitter[:, 1] * dy]),
        np.column_stack([cx + jitter[:, 2] * dx, cy + jitter[:, 3] * dy]),
        np.column_stack([cx - jitter[:, 0] * dx, cy + jitter[:, 3] * dy]),
    ], axis=1)
    frame = gpd.GeoDataFrame({
        "parcel_id": np.arange(1, N_PARCELS + 1, dtype="int64"),
        "land_use": rng.choice(["residential", "commercial", "industrial", "open space"], N_PARCELS),
        "assessed": rng.integers(20_000, 2_000_000, N_PARCELS),
    }, geometry=shapely.polygons(rings), crs="EPSG:4326")
    frame.to_file(root / "parcels.gpkg", layer="parcels", driver="GPKG")
    record = {"id": "bench-parcels", "title": "Benchmark: 300,000 generated parcels", "theme": "testing",
              "source": {"path": "parcels.gpkg", "layer": "parcels"}, "id_field": "parcel_id",
              "geometry_type": "Polygon", "crs": "EPSG:4326", "update_cadence": "static", "sensitivity": "public"}
    (root / "layers").mkdir(exist_ok=True)
    (root / "layers" / "bench-parcels.yaml").write_text(yaml.safe_dump(record, sort_keys=False))


def publish_cli(env: dict[str, str], *ids: str) -> None:
    subprocess.run([str(services.GEOSVC), "publish", *ids], check=True, env={**os.environ, **env}, cwd=ROOT,
                   capture_output=True, text=True)


def publish_points(root: Path, backend_env: dict[str, str]) -> float:
    """Seconds to validate + publish the 1M points (a fresh process, in-process time)."""
    code = (
        "import time, json; from geosvc.settings import load_settings; from geosvc.records.loader import load_record;"
        "from geosvc.store.backends import open_store; from geosvc.store.publish import publish_layer;"
        "from geosvc.validate.layer import validate_layer; s = load_settings(); st = open_store(s);"
        "r = load_record(s.layers.dir / 'bench-points-1m.yaml'); t0 = time.perf_counter();"
        "rep = validate_layer(r, s); t1 = time.perf_counter(); l = publish_layer(r, rep, st, s);"
        "print(json.dumps({'validate_s': t1 - t0, 'publish_s': time.perf_counter() - t1, 'n': l.feature_count}))"
    )
    env = {**os.environ, "GEOSVC_DATA_ROOT": str(root), "GEOSVC_LAYERS_DIR": str(root / "layers"), **backend_env}
    out = subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--urls", type=int, default=5000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    rows, identity, publishes = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="bench_postgis-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        port = services.free_port()
        dsn = stack.enter_context(postgis.cluster(port))
        env = {"GEOSVC_STORE_BACKEND": "postgis", "GEOSVC_STORE_DSN": dsn, "GEOSVC_STORE_DIR": str(work / "store")}
        publish_cli(env, "ct-tracts-2010")
        make_parcels(work)
        publish_cli({**env, "GEOSVC_DATA_ROOT": str(work), "GEOSVC_LAYERS_DIR": str(work / "layers")},
                    "bench-parcels")
        from geosvc.settings import load_settings
        from geosvc.store.backends import open_store

        settings = load_settings(store_dir=work / "store", store_backend="postgis", store_dsn=dsn)
        store = open_store(settings)
        layers = {"ct-tracts-2010": ("tracts", 0.2), "bench-parcels": ("parcels", 0.02)}
        frames = {}
        for layer_id, (table, _) in layers.items():
            layer = store.get(layer_id)
            frames[layer_id] = store.read_features(layer)
            export = work / f"{table}.gpkg"
            frames[layer_id].to_file(export, layer=table, driver="GPKG")
            postgis.load_layer(dsn, export, table, table, layer.record.id_field)
        geosvc_svc = services.geosvc(work / "store", "LAYER")
        geosvc_svc.env.update(env)
        tipg_svc = services.tipg(f"postgresql://{postgis.USER}@127.0.0.1:{port}/{postgis.DBNAME}", "tracts")
        tipg_svc.ready_path = "/collections/public.parcels"
        for svc in (geosvc_svc, tipg_svc):
            stack.enter_context(services.running(svc, work))
        for layer_id, (table, box) in layers.items():
            layer = store.get(layer_id)
            key = layer.record.id_field
            bboxes = random_bboxes(frames[layer_id], settings.state.bbox, args.urls, SEED, box)
            geosvc_svc.items_path = f"/ogc/collections/{layer_id}/items"
            tipg_svc.items_path = f"/collections/public.{table}/items"
            same = 0
            import httpx

            with httpx.Client(timeout=120) as client:
                for bbox in bboxes[:10]:
                    ours = fetch_keys(client, geosvc_svc, bbox, key)[:2]
                    theirs = fetch_keys(client, tipg_svc, bbox, key)[:2]
                    same += ours == theirs
            identity[layer_id] = same
            for svc in (geosvc_svc, tipg_svc):
                paths = work / f"paths-{svc.name}-{table}.txt"
                paths.write_text("\n".join(svc.items_url(b, 100) for b in bboxes) + "\n")
                result = run_wrk(svc, paths, args.duration, args.connections, 2)
                print(f"{layer_id} {svc.name}: {result.rps:.1f} req/s p95 {result.p95_ms:.1f} ms", file=sys.stderr)
                rows.append((layer_id, result))
        database = postgis.postgis_version(dsn)
        stack.close()
        with postgis.cluster(services.free_port()) as points_dsn:
            root = work / "points"
            root.mkdir()
            _make_points(root)
            publishes["postgis"] = publish_points(root, {"GEOSVC_STORE_BACKEND": "postgis",
                                                         "GEOSVC_STORE_DSN": points_dsn,
                                                         "GEOSVC_STORE_DIR": str(root / "store-pg")})
            publishes["gpkg"] = publish_points(root, {"GEOSVC_STORE_DIR": str(root / "store-gpkg")})
    text = render(rows, identity, publishes, database, args, load_start)
    print(text)
    if args.write:
        write_section("bench_postgis", text)
    return 0


def render(rows, identity, publishes, database, args, load_start) -> str:
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    lines = [
        f"## geosvc on PostGIS vs tipg (`benchmarks/bench_postgis.py`), "
        f"{dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        "",
        f"One throw-away cluster ({database}) holds geosvc's version tables and the same features loaded by "
        "ogr2ogr into `public` tables (GiST index, primary key) for tipg. Items `limit=100`, random bboxes "
        f"(0.2° for the 833 tracts, 0.02° for the 300,000 parcels; seed {SEED}, {args.urls} URLs), wrk "
        f"`-t2 -c{args.connections} -d{args.duration}s` after a 3 s warm-up, one round, one server process each. "
        f"geosvc {git.stdout.strip()}. Load average at start / end: {load_start:.1f} / {os.getloadavg()[0]:.1f} "
        "(2 shared cores: absolute numbers move between runs).",
        "",
        "| layer | service | req/s | p50 ms | p95 ms | failed | req/s vs tipg | p95 vs tipg | same ids + numberMatched |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    by_layer: dict[str, dict] = {}
    for layer_id, r in rows:
        by_layer.setdefault(layer_id, {})[r.service] = r
    for layer_id, results in by_layer.items():
        ref = results["tipg"]
        for name, r in results.items():
            lines.append(f"| {layer_id} | {name} | {r.rps:.1f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.failures} | "
                         f"{r.rps / ref.rps:.2f}x | {r.p95_ms / ref.p95_ms:.2f}x | {identity[layer_id]}/10 |")
    pg, gp = publishes["postgis"], publishes["gpkg"]
    lines += [
        "",
        f"Validate + publish of the generated 1,000,000 points (fresh process each, in-process time): PostGIS "
        f"{pg['validate_s']:.1f} s + {pg['publish_s']:.1f} s, embedded store {gp['validate_s']:.1f} s + "
        f"{gp['publish_s']:.1f} s (publish {pg['publish_s'] / gp['publish_s']:.2f}x the embedded store's).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
