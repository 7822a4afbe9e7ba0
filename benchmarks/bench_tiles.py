"""Vector tiles benchmark: tile latency at z8, z12 and z15 on 300,000 generated parcels, and QGIS 3.22
rendering the state (z8) and a town (z14) from the tiles and, side by side, from OGC API Features.

The parcels are generated (numpy seed :data:`SEED`): a jittered grid of ~200 m quadrilaterals sharing
their corners (no overlaps, like a cadastre) over Connecticut's extent, kept where the centre falls in a
real town (``ct-towns``), each with the town name, a land use, an area and a value. They are validated
and published into a temporary store and served by ``geosvc serve`` on 127.0.0.1.

Tiles are requested one at a time (one client, keep-alive). "cold" requests are the first for a tile and
attribute choice (the server builds the tile); z8 has only a handful of tiles over the state, so its cold
samples are the same tiles with several ``properties`` choices (each a full build); "warm" repeats one.

Run::

    .venv/bin/python benchmarks/bench_tiles.py [--store postgis] [--write]

``--store postgis`` publishes into a throw-away PostgreSQL/PostGIS cluster (tiles built by ``ST_AsMVT``)
instead of the embedded store. ``--write`` replaces the ``bench_tiles`` (``bench_tiles_postgis``) section
of ``benchmarks/RESULTS.md``. Nothing is kept.
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

import numpy as np
from results import write_section

ROOT = Path(__file__).resolve().parent.parent
GEOSVC = Path(sys.executable).parent / "geosvc"
PROBE = ROOT / "tests" / "clients" / "qgis_tiles_probe.py"
SEED = 20261201
N_PARCELS = 300_000
LAYER = "bench-parcels-300k"
CELL = 0.0024  # degrees of longitude; latitude cells are scaled to stay about square
STATE_CENTER = (-72.7, 41.5)
TOWN_CENTER = (-72.6851, 41.7637)  # Hartford
LAND_USES = ["residential", "commercial", "industrial", "agricultural", "open space", "institutional"]


def make_parcels(root: Path, settings) -> None:
    """Write the seeded parcels GeoPackage and its layer record under ``root``."""
    import geopandas as gpd
    import pyogrio
    import shapely
    import yaml

    towns = pyogrio.read_dataframe(settings.data.root / "towns" / "cb_2017_09_cousub_500k.shp").to_crs("OGC:CRS84")
    rng = np.random.default_rng(SEED)
    minx, miny, maxx, maxy = towns.total_bounds
    dy = CELL * np.cos(np.radians((miny + maxy) / 2))
    xs, ys = np.arange(minx, maxx + CELL, CELL), np.arange(miny, maxy + dy, dy)
    gx, gy = np.meshgrid(xs, ys)
    gx = gx + rng.uniform(-0.3, 0.3, gx.shape) * CELL
    gy = gy + rng.uniform(-0.3, 0.3, gy.shape) * dy
    rings = np.stack([np.stack([gx[:-1, :-1], gy[:-1, :-1]], -1), np.stack([gx[:-1, 1:], gy[:-1, 1:]], -1),
                      np.stack([gx[1:, 1:], gy[1:, 1:]], -1), np.stack([gx[1:, :-1], gy[1:, :-1]], -1),
                      np.stack([gx[:-1, :-1], gy[:-1, :-1]], -1)], axis=2).reshape(-1, 5, 2)
    parcels = shapely.polygons(rings)
    centres = shapely.centroid(parcels)
    where_parcel, where_town = towns.sindex.query(centres, predicate="within")
    order = np.argsort(where_parcel)
    where_parcel, where_town = where_parcel[order], where_town[order]
    if len(where_parcel) < N_PARCELS:
        raise SystemExit(f"only {len(where_parcel)} cells fall in towns; make CELL smaller")
    pick = np.sort(rng.choice(len(where_parcel), N_PARCELS, replace=False))
    geoms, town_names = parcels[where_parcel[pick]], towns["NAME"].to_numpy()[where_town[pick]]
    frame = gpd.GeoDataFrame({
        "parcel_id": np.arange(1, N_PARCELS + 1, dtype="int64"),
        "town": town_names,
        "land_use": rng.choice(LAND_USES, N_PARCELS, p=[0.62, 0.1, 0.05, 0.08, 0.1, 0.05]),
        "area_m2": np.round(gpd.GeoSeries(geoms, crs="OGC:CRS84").to_crs("EPSG:6434").area.to_numpy(), 1),
        "assessed_value": rng.lognormal(12.3, 0.6, N_PARCELS).round(-2),
    }, geometry=geoms, crs="OGC:CRS84")
    pyogrio.write_dataframe(frame, root / "parcels.gpkg", layer="parcels", use_arrow=True)
    record = {
        "id": LAYER, "title": "Benchmark: 300,000 generated parcels",
        "description": f"Jittered-grid parcels inside Connecticut's towns (numpy seed {SEED}).",
        "keywords": ["benchmark"], "theme": "testing", "publisher": {"agency": "geosvc benchmarks"},
        "contact": {"name": "Bench", "email": "bench@example.org"}, "license": {"name": "CC0-1.0"},
        "attribution": "generated", "source": {"path": "parcels.gpkg", "layer": "parcels"},
        "id_field": "parcel_id", "geometry_type": "Polygon", "crs": "OGC:CRS84", "update_cadence": "static",
        "last_updated": "2026-12-01", "temporal_extent": {"start": "2026-12-01"},
    }
    (root / "layers").mkdir(exist_ok=True)
    (root / "layers" / f"{LAYER}.yaml").write_text(yaml.safe_dump(record, sort_keys=False))


def publish(root: Path, store: dict[str, str]):
    """Generate, validate and publish the parcels into ``root/store`` (``store``: backend settings);
    the PublishedLayer and seconds taken."""
    from geosvc.records.loader import load_record
    from geosvc.settings import load_settings
    from geosvc.store.backends import open_store
    from geosvc.store.publish import publish_layer
    from geosvc.validate.layer import validate_layer

    make_parcels(root, load_settings())
    settings = load_settings(data_root=root, layers_dir=root / "layers", store_dir=root / "store", **store)
    record = load_record(settings.layers.dir / f"{LAYER}.yaml")
    started = time.perf_counter()
    report = validate_layer(record, settings)
    if not report.ok:
        raise SystemExit(f"{LAYER} failed validation: {[f.code for f in report.findings]}")
    layer = publish_layer(record, report, open_store(settings), settings)
    return layer, time.perf_counter() - started


def sample_tiles(layer, zoom: int, n: int, seed: int) -> list[tuple[int, int, int]]:
    """Up to ``n`` distinct tiles at ``zoom`` under random points of the layer's extent."""
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    rng = np.random.default_rng(seed + zoom)
    minx, miny, maxx, maxy = layer.bbox
    seen: dict[tuple[int, int, int], None] = {}
    for lon, lat in zip(rng.uniform(minx, maxx, n * 20), rng.uniform(miny, maxy, n * 20), strict=True):
        tile = tms.tile(lon, lat, zoom)
        seen.setdefault((zoom, tile.x, tile.y), None)
        if len(seen) == n:
            break
    return list(seen)


def time_tiles(client, base: str, tiles, properties: list[str | None]) -> dict:
    """Cold latency of every (tile, properties) pair, then one warm repeat per tile; sizes and counts."""
    cold, sizes, empty = [], [], 0
    for query in properties:
        for z, x, y in tiles:
            url = f"{base}/{z}/{y}/{x}" + (f"?properties={query}" if query else "")
            started = time.perf_counter()
            response = client.get(url)
            cold.append((time.perf_counter() - started) * 1e3)
            response.raise_for_status()
            empty += response.status_code == 204
            if query is None:
                sizes.append(len(response.content))
    warm = []
    for z, x, y in tiles:
        started = time.perf_counter()
        client.get(f"{base}/{z}/{y}/{x}").raise_for_status()
        warm.append((time.perf_counter() - started) * 1e3)
    return {"tiles": len(tiles), "cold_n": len(cold), "cold_p50": float(np.percentile(cold, 50)),
            "cold_p95": float(np.percentile(cold, 95)), "cold_max": max(cold), "warm_p50": float(np.median(warm)),
            "kb_p50": float(np.median(sizes)) / 1e3 if sizes else 0.0, "kb_max": max(sizes) / 1e3 if sizes else 0.0,
            "empty": empty}


def qgis_render(ogc_url: str, work: Path) -> dict:
    """QGIS 3.22 rendering the two views from vector tiles, then (another process) from OAPIF."""
    spec = {"template": f"{ogc_url}/collections/{LAYER}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}", "layer": LAYER,
            "zmax": 16,
            "views": [{"name": "state z8", "center": list(STATE_CENTER), "zoom": 8, "size": [512, 384]},
                      {"name": "town z14", "center": list(TOWN_CENTER), "zoom": 14, "size": [1024, 768]}]}
    out = _probe({**spec, "png": str(work / "qgis")}, work / "qgis-tiles.json")
    oapif = _probe({**spec, "tiles": False, "oapif": {"landing": ogc_url, "typename": LAYER}}, work / "qgis-oapif.json")
    out["oapif"] = oapif.get("oapif", {"error": oapif.get("error")})
    return out


def _probe(spec: dict, path: Path) -> dict:
    path.write_text(json.dumps(spec))
    proc = subprocess.run(["/usr/bin/python3", str(PROBE), str(path)], capture_output=True, text=True,
                          timeout=1800, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if lines:  # QGIS may crash on exit after printing
        return json.loads(lines[-1])
    return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}"}


def render(params: dict, latency: dict, qgis: dict) -> str:
    lines = [
        f"## Vector tiles (`benchmarks/bench_tiles.py`), {params['date']}",
        "",
        f"{N_PARCELS:,} generated parcels (`{LAYER}`, seed {SEED}; validate + publish {params['publish_s']:.1f} s), "
        f"`geosvc serve` (one process, {params['store']}) on 127.0.0.1, tiles requested one at a time. "
        f"Machine: {params['machine']}; load average (1 min) at start / end {params['load_start']:.1f} / "
        f"{os.getloadavg()[0]:.1f} (shared machine: absolute numbers move between runs).",
        "",
        "| zoom | tiles | cold requests | cold p50 ms | cold p95 ms | cold max ms | warm p50 ms | KB p50 | KB max | empty (204) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for zoom, r in latency.items():
        lines.append(f"| z{zoom} | {r['tiles']} | {r['cold_n']} | {r['cold_p50']:.1f} | {r['cold_p95']:.1f} | "
                     f"{r['cold_max']:.1f} | {r['warm_p50']:.1f} | {r['kb_p50']:.1f} | {r['kb_max']:.1f} | {r['empty']} |")
    lines += ["", "Cold: the first request of a tile and attribute choice (z8 repeats its few tiles with 4 "
              "`properties` choices, each built anew). Warm: the same tile again (in-process LRU of encoded tiles). "
              "Overview rule: parcels under half a pixel are left out; a tile holds at most 10,000 features, the "
              "largest where more would show (marked with `Geosvc-Tile-Truncated`), so z8 tiles hold the largest "
              "~200 m parcels rather than nothing.", ""]
    if "error" in qgis:
        lines.append(f"QGIS render: failed ({qgis['error']}).")
    else:
        lines += [f"QGIS {qgis['qgis_version']} offscreen render (fresh layer, `QgsMapRendererSequentialJob`, "
                  "wall seconds until the image is complete; coverage = share of non-background pixels):", "",
                  "| view | vector tiles s | tiles coverage | OAPIF s | OAPIF coverage |", "|---|---:|---:|---:|---:|"]
        oapif_views = qgis.get("oapif") or {}
        for name, tiles in qgis["tiles"].items():
            oapif = oapif_views.get(name, {})
            lines.append(f"| {name} | {tiles['seconds']:.2f} | {tiles['coverage']:.2f} | "
                         f"{oapif.get('seconds', float('nan')):.2f} | {oapif.get('coverage', float('nan')):.2f} |")
        if oapif_views.get("error"):
            lines += ["", f"OAPIF render failed: {oapif_views['error']}"]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def _database(backend: str):
    """Store settings of ``backend``: none (embedded), or those of a throw-away PostGIS cluster."""
    if backend != "postgis":
        yield {}
        return
    from baselines.postgis import Cluster
    from support.serverproc import free_port

    db = Cluster(free_port())
    db.start()
    try:
        yield {"store_backend": "postgis", "store_dsn": db.dsn()}
    finally:
        db.remove()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60, help="distinct tiles at z12 and z15")
    parser.add_argument("--no-qgis", action="store_true")
    parser.add_argument("--store", choices=["gpkg", "postgis"], default="gpkg")
    parser.add_argument("--write", action="store_true", help="write the section into benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    import httpx

    sys.path.insert(0, str(ROOT / "tests"))
    from support.serverproc import free_port, running

    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench_tiles-") as tmp, _database(args.store) as store:
        work = Path(tmp)
        layer, publish_s = publish(work, store)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        command = [str(GEOSVC), "serve", "--host", "127.0.0.1", "--port", str(port)]
        env = {"GEOSVC_STORE_DIR": str(work / "store"),
               **{f"GEOSVC_{k.upper()}": v for k, v in store.items()}}
        with running(command, f"{base_url}/health", work / "serve.log", env=env, cwd=ROOT):
            tiles_base = f"{base_url}/ogc/collections/{LAYER}/tiles/WebMercatorQuad"
            latency = {}
            with httpx.Client(timeout=300) as client:
                latency[8] = time_tiles(client, tiles_base, sample_tiles(layer, 8, 8, SEED),
                                        [None, "parcel_id", "town", "land_use"])
                for zoom in (12, 15):
                    latency[zoom] = time_tiles(client, tiles_base, sample_tiles(layer, zoom, args.samples, SEED), [None])
                    print(f"z{zoom}: {latency[zoom]}", file=sys.stderr)
            qgis = {"error": "skipped (--no-qgis)"} if args.no_qgis else qgis_render(f"{base_url}/ogc", work)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "")
    params = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "publish_s": publish_s,
              "machine": f"{os.cpu_count()} cores, {cpu}", "load_start": load_start,
              "store": "PostGIS store, tiles by ST_AsMVT" if args.store == "postgis" else "embedded store"}
    text = render(params, latency, qgis)
    print(text)
    if args.write:
        write_section("bench_tiles_postgis" if args.store == "postgis" else "bench_tiles", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
