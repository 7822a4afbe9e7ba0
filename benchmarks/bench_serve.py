"""Serving benchmark: items requests/s and p50/p95 latency for the 2010 tracts, four services side by side.

Every service is one process on 127.0.0.1 and gets the same wrk load: ``limit=100`` items requests for
random 0.2 degree bboxes inside Connecticut (fixed seed), 8 connections, a fixed duration:

- ``geosvc``: ``geosvc serve`` on the embedded store (the layer published into a temporary store);
- ``pygeoapi-geojson``: stock pygeoapi 0.24, GeoJSON provider on the published tracts exported to GeoJSON;
- ``pygeoapi-postgresql``: stock pygeoapi 0.24, PostgreSQL provider on the same tracts in PostGIS;
- ``tipg``: tipg on the same PostGIS table (a throw-away cluster in a temporary folder).

Before the load runs, a sample of the bboxes is fetched whole (``limit=1000``) from every service and the
feature ids are compared with each other and with a direct shapely query of the published GeoPackage.
QGIS 3.22 then loads the layer through its OAPIF provider (``tests/clients/qgis_probe.py``).

Run (after ``bash benchmarks/setup_baselines.sh``)::

    .venv/bin/python benchmarks/bench_serve.py [--duration 15] [--write]

``--write`` replaces the ``bench_serve`` section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from results import write_section

import geopandas as gpd
import httpx
import numpy as np
import shapely

from baselines import cpu, postgis, services

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "baselines" / "wrk_paths.lua"
QGIS_PROBE = ROOT / "tests" / "clients" / "qgis_probe.py"
BOX = 0.2  # degrees
TABLE = "tracts"


@dataclass
class LoadResult:
    """One wrk run."""

    service: str
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    failures: int  # non-2xx, socket errors and timeouts
    kb_per_response: float
    cpu_s: float | None = None  # CPU time of the service's processes (tipg: and PostgreSQL's) during the run

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per request (independent of how busy the shared machine is)."""
        return float("nan") if self.cpu_s is None else self.cpu_s * 1e3 / max(self.requests, 1)


def random_bboxes(layer: gpd.GeoDataFrame, state_bbox, n: int, seed: int,
                  box: float = BOX) -> list[tuple[float, ...]]:
    """``n`` random ``box``-sized bboxes inside the state extent that touch at least one feature."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = state_bbox
    boxes: list[tuple[float, ...]] = []
    while len(boxes) < n:
        x, y = rng.uniform(minx, maxx - box), rng.uniform(miny, maxy - box)
        bbox = (round(x, 6), round(y, 6), round(x + box, 6), round(y + box, 6))
        if len(layer.sindex.query(shapely.box(*bbox), predicate="intersects")):
            boxes.append(bbox)
    return boxes


def expected_keys(layer: gpd.GeoDataFrame, key: str, bbox) -> list[str]:
    """Ids of the features whose geometry intersects ``bbox``, straight from the GeoPackage."""
    hits = layer.sindex.query(shapely.box(*bbox), predicate="intersects")
    return sorted(str(v) for v in layer[key].iloc[hits])


def fetch_keys(client: httpx.Client, service: services.Service, bbox, key: str,
               limit: int = 1000) -> tuple[list[str], int | None, float]:
    """Sorted ids of one items page, its ``numberMatched`` and the request's wall time in ms."""
    started = time.perf_counter()
    response = client.get(service.base_url + service.items_url(bbox, limit))
    elapsed = (time.perf_counter() - started) * 1e3
    response.raise_for_status()
    body = response.json()
    keys = sorted(str(f["properties"].get(key, f.get("id"))) for f in body["features"])
    return keys, body.get("numberMatched"), elapsed


def compare_features(svcs, layer, key: str, bboxes) -> dict[str, dict]:
    """Per service: how many sample bboxes returned exactly the expected ids (whole match and first page),
    and the median time of a ``limit=100`` request made alone (one client, no concurrent load from us)."""
    report = {}
    for service in svcs:
        whole = page = matched = 0
        alone = []
        with httpx.Client(timeout=120) as client:  # keep-alive, as wrk's connections
            for bbox in bboxes:
                expected = expected_keys(layer, key, bbox)
                keys, number, _ = fetch_keys(client, service, bbox, key)
                whole += keys == expected
                matched += number == len(expected)
                first, _, elapsed = fetch_keys(client, service, bbox, key, limit=100)
                alone.append(elapsed)
                page += len(first) == min(100, len(expected)) and set(first) <= set(expected)
        report[service.name] = {"samples": len(bboxes), "identical": whole, "number_matched": matched,
                                "pages": page, "alone_ms": float(np.median(alone))}
    return report


def run_wrk(service: services.Service, paths_file: Path, duration: int, connections: int,
            threads: int) -> LoadResult:
    """One bounded wrk run against ``service`` (loopback only); a short unrecorded warm-up first."""
    def wrk(seconds: int) -> dict:
        cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(LUA),
               service.base_url, "--", str(paths_file)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
        return json.loads(re.search(r"^WRK_JSON (.*)$", out, re.M).group(1))

    wrk(3)
    cpu_start = cpu.tree_seconds(service.cpu_pids) if service.cpu_pids else None
    res = wrk(duration)
    cpu_s = cpu.tree_seconds(service.cpu_pids) - cpu_start if service.cpu_pids else None
    return LoadResult(
        service=service.name, requests=res["requests"], seconds=res["duration_us"] / 1e6,
        p50_ms=res["p50_us"] / 1e3, p95_ms=res["p95_us"] / 1e3, p99_ms=res["p99_us"] / 1e3,
        failures=res["non2xx"] + res["connect_errors"] + res["read_errors"] + res["write_errors"] + res["timeouts"],
        kb_per_response=res["bytes"] / max(res["requests"], 1) / 1e3, cpu_s=cpu_s,
    )


def qgis_load(service: services.Service, landing_path: str, collection: str, key: str, bbox, workdir: Path) -> dict:
    """QGIS 3.22 opening the collection from the landing page: load time, count, bbox request."""
    spec = workdir / f"qgis-{service.name}.json"
    spec.write_text(json.dumps({"landing": service.base_url + landing_path, "page_size": 1000,
                                "layers": [{"id": collection, "keys": ["id", key], "rect": list(bbox)}]}))
    proc = subprocess.run(["/usr/bin/python3", str(QGIS_PROBE), str(spec)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    if proc.returncode:
        return {"error": proc.stderr.strip()[-300:]}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {**out["layers"][0], "qgis_version": out["qgis_version"]}


def publish(store_dir: Path, layer_id: str):
    """Publish ``layer_id`` into a fresh store through the CLI; return its PublishedLayer, its GeoPackage
    and the settings."""
    env = {**os.environ, "GEOSVC_STORE_DIR": str(store_dir)}
    subprocess.run([str(services.GEOSVC), "publish", layer_id], check=True, env=env, cwd=ROOT,
                   capture_output=True, text=True)
    from geosvc.settings import load_settings
    from geosvc.store.gpkg import GpkgStore

    settings = load_settings(store_dir=store_dir)
    store = GpkgStore(settings)
    layer = store.get(layer_id)
    return layer, store.file(layer), settings


def versions(dsn: str) -> dict[str, str]:
    """Versions of everything measured."""
    def py_version(venv: str, dist: str) -> str:
        code = f"import importlib.metadata as m; print(m.version('{dist}'))"
        return subprocess.run([str(ROOT / venv / "bin" / "python"), "-c", code], capture_output=True,
                              text=True).stdout.strip()

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return {
        "machine": f"{os.cpu_count()} cores, {cpu}",
        "geosvc": git.stdout.strip(),
        "pygeoapi": py_version(".venv-pygeoapi", "pygeoapi"),
        "tipg": py_version(".venv-tipg", "tipg"),
        "database": postgis.postgis_version(dsn),
        "wrk": (wrk.stdout + wrk.stderr).split()[1],
    }


def render(results: list[LoadResult], identity: dict, qgis: dict, meta: dict, params: dict) -> str:
    """The markdown section: parameters, table with ratios vs tipg, identity check, QGIS."""
    ref = next((r for r in results if r.service == "tipg"), results[0])
    lines = [
        f"## Serving benchmark (`benchmarks/bench_serve.py`), {params['date']}",
        "",
        f"2010 tracts (`{params['layer']}`, 833 features), items `limit={params['limit']}`, random {BOX}° bboxes "
        f"inside Connecticut (seed {params['seed']}, {params['n_urls']} URLs), wrk {meta['wrk']} "
        f"`-t{params['threads']} -c{params['connections']} -d{params['duration']}s` after a 3 s warm-up, best of "
        f"{params['rounds']} interleaved rounds, one server process each, all on 127.0.0.1. "
        f"Machine: {meta['machine']}. geosvc {meta['geosvc']}, pygeoapi {meta['pygeoapi']}, tipg {meta['tipg']}, "
        f"{meta['database']}.",
        "",
        f"Load average (1 min) at start / end: {params['load_start']:.1f} / {os.getloadavg()[0]:.1f} — the machine "
        "is shared, so absolute numbers move from run to run; the ratios come from one run.",
        "",
        "| service | req/s | p50 ms | p95 ms | p99 ms | failed | KB/response | req/s vs tipg | p95 vs tipg "
        "| CPU ms/request | 1 client p50 ms | identical features |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        ident = identity.get(r.service, {})
        lines.append(
            f"| {r.service} | {r.rps:.1f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.p99_ms:.1f} | {r.failures} | "
            f"{r.kb_per_response:.0f} | "
            f"{r.rps / ref.rps:.2f}x | {r.p95_ms / ref.p95_ms:.2f}x | {r.cpu_ms:.2f} | "
            f"{ident.get('alone_ms', float('nan')):.1f} | "
            f"{ident.get('identical', 0)}/{ident.get('samples', 0)} bboxes "
            f"(numberMatched {ident.get('number_matched', 0)}, first pages {ident.get('pages', 0)}) |"
        )
    lines += ["", "Identical features: for each sample bbox the ids of every matching feature (`limit=1000`) equal a "
              "direct shapely intersects query of the published GeoPackage; `numberMatched` equals that count; "
              "the `limit=100` page has min(100, matched) features, all of them expected. "
              "\"1 client p50\": median time of those `limit=100` requests made one at a time. \"CPU ms/request\": "
              "user + system CPU of the service's process tree during the measured run (tipg: plus the PostgreSQL "
              "server's) per request — what the shared cores cannot distort.", ""]
    if params.get("before"):
        lines += [f"`geosvc@REV`: geosvc at an earlier commit ({', '.join(params['before'])}; its source exported "
                  "with `git archive`, its own store published by its own CLI), served in the same run for a "
                  "before/after comparison.", ""]
    for name, probe in qgis.items():
        if "load_seconds" in probe:
            lines.append(
                f"QGIS {probe['qgis_version']} OAPIF load of all {probe['fetched']} tracts from {name}: "
                f"**{probe['load_seconds']:.2f} s** wall, {probe['load_cpu_seconds']:.2f} s CPU of the QGIS process "
                f"(featureCount {probe['feature_count']}; bbox request {'right' if probe.get('rect_ok') else 'WRONG'})."
            )
        else:
            lines.append(f"QGIS load from {name}: failed ({probe.get('error') or 'invalid layer'}).")
    return "\n".join(lines) + "\n"


def _arguments(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="ct-tracts-2010")
    parser.add_argument("--duration", type=int, default=15, help="seconds of load per service")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2010)
    parser.add_argument("--urls", type=int, default=20000,
                        help="distinct bboxes in the load (no service sees a repeat)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved load rounds; the best per service counts")
    parser.add_argument("--samples", type=int, default=12, help="bboxes checked for identical features")
    parser.add_argument("--only", nargs="*", help="service names to load (default: all)")
    parser.add_argument("--before", metavar="REV", nargs="*", default=[],
                        help="also serve geosvc at these commits (before/after in one run)")
    parser.add_argument("--write", action="store_true", help="write the section into benchmarks/RESULTS.md")
    return parser.parse_args(argv)


def before_tree(rev: str, work: Path, layer_id: str, data_root: Path) -> tuple[Path, Path]:
    """geosvc's source at ``rev`` (``git archive``) and a store with ``layer_id`` published by it."""
    tree, store = work / f"geosvc-{rev}", work / f"store-{rev}"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    env = {**os.environ, "PYTHONPATH": str(tree), "GEOSVC_STORE_DIR": str(store), "GEOSVC_DATA_ROOT": str(data_root)}
    subprocess.run([str(services.GEOSVC), "publish", layer_id], check=True, env=env, cwd=tree, capture_output=True)
    return tree, store


def start_services(stack: contextlib.ExitStack, work: Path, layer, gpkg: Path, only: list[str] | None,
                   before: dict[str, tuple[Path, Path]] | None = None):
    """The published tracts as GeoJSON and in a fresh PostGIS cluster; the four services running on them.

    Returns the services and the cluster's DSN; ``stack`` stops everything.
    """
    key = layer.record.id_field
    geojson = work / "tracts.geojson"
    gpd.read_file(gpkg, layer=layer.id).to_file(geojson, driver="GeoJSON")
    pg_port = services.free_port()
    dsn = stack.enter_context(postgis.cluster(pg_port))
    postgis.load_layer(dsn, gpkg, layer.id, TABLE, key)
    pg = {"host": "127.0.0.1", "port": pg_port, "dbname": postgis.DBNAME, "user": postgis.USER, "password": ""}
    svcs = [
        services.geosvc(work / "store", layer.id),
        services.pygeoapi("pygeoapi-geojson", work, TABLE, layer.bbox, services.geojson_provider(geojson, key)),
        services.pygeoapi("pygeoapi-postgresql", work, TABLE, layer.bbox, services.postgresql_provider(pg, TABLE, key)),
        services.tipg(f"postgresql://{postgis.USER}@127.0.0.1:{pg_port}/{postgis.DBNAME}", TABLE,
                      postmaster=postgis.postmaster_pid(dsn)),
    ]
    for k, (rev, (tree, store)) in enumerate((before or {}).items(), 1):
        svcs.insert(k, services.geosvc(store, layer.id, name=f"geosvc@{rev}", tree=tree))
    svcs = [s for s in svcs if not only or s.name in only]
    for service in svcs:
        stack.enter_context(services.running(service, work))
    return svcs, dsn


def load_all(svcs, bboxes, work: Path, args) -> list[LoadResult]:
    """Interleaved wrk rounds (alternating order); each service's best round counts."""
    best: dict[str, LoadResult] = {}
    for round_ in range(args.rounds):
        for service in svcs if round_ % 2 == 0 else svcs[::-1]:
            paths = work / f"paths-{service.name}.txt"
            paths.write_text("\n".join(service.items_url(b, args.limit) for b in bboxes) + "\n")
            result = run_wrk(service, paths, args.duration, args.connections, args.threads)
            print(f"round {round_ + 1} {service.name}: {result.rps:.1f} req/s, p95 {result.p95_ms:.1f} ms",
                  file=sys.stderr)
            if service.name not in best or result.rps > best[service.name].rps:
                best[service.name] = result
    return [best[s.name] for s in svcs]


def qgis_loads(svcs, layer, frame, bbox, work: Path) -> dict[str, dict]:
    """QGIS loading the tracts from geosvc and, for comparison, from stock pygeoapi on PostGIS."""
    key, probes = layer.record.id_field, {}
    for service in svcs:
        if service.name == "geosvc":
            probes[service.name] = qgis_load(service, "/ogc", layer.id, key, bbox, work)
        elif service.name == "pygeoapi-postgresql":
            probes[service.name] = qgis_load(service, "", TABLE, key, bbox, work)
    for probe in probes.values():
        probe["rect_ok"] = probe.get("rect_keys") == expected_keys(frame, key, bbox)
    return probes


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench_serve-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        layer, gpkg, settings = publish(work / "store", args.layer)
        frame = gpd.read_file(gpkg, layer=layer.id)
        bboxes = random_bboxes(frame, settings.state.bbox, args.urls, args.seed)
        before = {rev: before_tree(rev, work, layer.id, settings.data.root) for rev in args.before}
        svcs, dsn = start_services(stack, work, layer, gpkg, args.only, before)
        identity = compare_features(svcs, frame, layer.record.id_field, bboxes[: args.samples])
        results = load_all(svcs, bboxes, work, args)
        qgis = qgis_loads(svcs, layer, frame, bboxes[0], work)
        params = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "layer": layer.id,
                  "limit": args.limit, "seed": args.seed, "n_urls": args.urls, "threads": args.threads,
                  "connections": args.connections, "duration": args.duration, "load_start": load_start,
                  "rounds": args.rounds, "before": args.before}
        text = render(results, identity, qgis, versions(dsn), params)
    print(text)
    if args.write:
        write_section("bench_serve", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
