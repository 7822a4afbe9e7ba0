"""Scale benchmark (issue 8): ``geosvc serve --workers 2`` on the sample catalog plus 1M points and 300k parcels.

Generates (seeded, in a temporary folder, never committed) 1,000,000 points inside Connecticut and
300,000 parcels (Voronoi cells of random points clipped to the state outline, the union of the
``ct-towns`` layer), publishes them with the sample catalog through the CLI, and measures, in one run:

1. the time from starting ``geosvc serve --workers 2`` to the first 200 on ``/health`` and on an items
   request of the 1M-point layer;
2. RSS of each worker process (``/proc/<pid>/status``) after a warm-up and after the load;
3. items req/s and p50/p95 on each large layer (random bbox, ``limit=100`` and ``limit=1000``), wrk in its
   own process, against tipg (as many uvicorn workers) on the same tables in PostGIS, interleaved;
4. the same on the 2010 tracts sample layer (as ``bench_serve.py``), geosvc vs tipg;
5. publish-to-served: a new version of a sample layer published with ``geosvc publish`` while the server
   runs; each request opens a new connection, the worker that answered is found from the server-side
   socket (``/proc/net/tcp`` inode in the worker's fds); the time runs from the catalog commit (the store's
   generation moving, polled every 2 ms) until every worker answers with the new version's ETag.

Run (after ``bash benchmarks/setup_baselines.sh``)::

    .venv/bin/python benchmarks/bench_scale.py [--duration 10] [--rounds 2] [--write]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_serve import LoadResult, random_bboxes, run_wrk, versions
from results import write_section

import geopandas as gpd
import httpx
import numpy as np
import pyogrio
import shapely
import yaml

from baselines import cpu, postgis, services
from baselines.services import serverproc

ROOT = Path(__file__).resolve().parent.parent
SHARED = (ROOT / ".." / "shared" / "data").resolve()
SEED = 20261201
N_POINTS, N_PARCELS = 1_000_000, 300_000
POINTS, PARCELS, TRACTS, REPUBLISH = "bench-points-1m", "bench-parcels-300k", "ct-tracts-2010", "ct-hospitals"
TABLES = {POINTS: "points", PARCELS: "parcels", TRACTS: "tracts"}
KEYS = {POINTS: "site_id", PARCELS: "parcel_id"}
TARGETS = {"start_s": 3.0, "rss_mb": 400.0, "sample_x": 20.0, "publish_s": 2.0}


# -- data ----------------------------------------------------------------------------------------
def _record(layer_id: str, title: str, path: str, key: str, geometry_type: str) -> dict:
    return {
        "id": layer_id, "title": title,
        "description": f"Generated for benchmarks/bench_scale.py (numpy seed {SEED}); never committed.",
        "keywords": ["benchmark"], "theme": "testing", "publisher": {"agency": "geosvc benchmarks"},
        "contact": {"name": "Bench", "email": "bench@example.org"}, "license": {"name": "CC0-1.0"},
        "attribution": "generated", "source": {"path": path}, "id_field": key, "geometry_type": geometry_type,
        "crs": "EPSG:4326", "update_cadence": "static", "last_updated": "2026-12-01",
        "temporal_extent": {"start": "2026-12-01"},
    }


def state_outline() -> shapely.Geometry:
    """Connecticut: the union of the towns (CRS84)."""
    record = yaml.safe_load((ROOT / "layers" / "ct-towns.yaml").read_text())
    towns = gpd.read_file(SHARED / record["source"]["path"]).to_crs("EPSG:4326")
    outline = shapely.make_valid(towns.union_all())
    shapely.prepare(outline)
    return outline


def points_inside(outline, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform random points inside ``outline`` (rejection sampling), as an (n, 2) array."""
    minx, miny, maxx, maxy = outline.bounds
    found: list[np.ndarray] = []
    total = 0
    while total < n:
        xy = np.column_stack([rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)])
        xy = xy[shapely.contains_xy(outline, xy[:, 0], xy[:, 1])]
        found.append(xy)
        total += len(xy)
    return np.concatenate(found)[:n]


def generate(data: Path, n_points: int = N_POINTS, n_parcels: int = N_PARCELS) -> dict[str, float]:
    """Write the two generated layers under ``data/bench`` and their records; return seconds per step."""
    rng = np.random.default_rng(SEED)
    seconds = {}
    start = time.perf_counter()
    outline = state_outline()
    xy = points_inside(outline, n_points, rng)
    points = gpd.GeoDataFrame(
        {"site_id": np.arange(1, n_points + 1, dtype="int64"),
         "category": rng.choice(["clinic", "school", "library", "shelter", "pharmacy"], n_points),
         "capacity": rng.integers(10, 500, n_points)},
        geometry=shapely.points(xy), crs="EPSG:4326")
    (data / "bench").mkdir()
    pyogrio.write_dataframe(points, data / "bench" / "points_1m.gpkg", layer="points", use_arrow=True)
    seconds["points"] = time.perf_counter() - start

    start = time.perf_counter()
    seeds = points_inside(outline, n_parcels, rng)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=shapely.box(
        *outline.bounds), ordered=True))
    inside = shapely.contains(outline, cells)
    cells[~inside] = shapely.intersection(cells[~inside], outline)
    cells = cells[~shapely.is_empty(cells) & (shapely.area(cells) > 0)]
    parcels = gpd.GeoDataFrame(
        {"parcel_id": np.arange(1, len(cells) + 1, dtype="int64"),
         "land_use": rng.choice(["residential", "commercial", "industrial", "agricultural", "open space"], len(cells)),
         "assessed_value": rng.integers(20_000, 2_000_000, len(cells)),
         "year_built": rng.integers(1700, 2026, len(cells))},
        geometry=cells, crs="EPSG:4326")
    pyogrio.write_dataframe(parcels, data / "bench" / "parcels_300k.gpkg", layer="parcels", use_arrow=True,
                            promote_to_multi=True)
    seconds["parcels"] = time.perf_counter() - start
    seconds["parcel_count"], seconds["point_count"] = len(parcels), len(points)
    return seconds


def roots(work: Path) -> dict[str, str]:
    """Data root (the shared data linked in, plus ``bench/``) and layers folder (sample records linked,
    the republished one copied, the generated ones written); the environment that points geosvc at them."""
    data, layers = work / "data", work / "layers"
    data.mkdir()
    layers.mkdir()
    for entry in SHARED.iterdir():
        (data / entry.name).symlink_to(entry)
    for record in (ROOT / "layers").glob("*.yaml"):
        if record.stem == REPUBLISH:
            (layers / record.name).write_text(record.read_text())
        else:
            (layers / record.name).symlink_to(record)
    for rec in (_record(POINTS, "Benchmark: 1,000,000 generated points", "bench/points_1m.gpkg", "site_id", "Point"),
                _record(PARCELS, "Benchmark: 300,000 generated parcels", "bench/parcels_300k.gpkg", "parcel_id",
                        "MultiPolygon")):
        (layers / f"{rec['id']}.yaml").write_text(yaml.safe_dump(rec, sort_keys=False))
    return {"GEOSVC_DATA_ROOT": str(data), "GEOSVC_LAYERS_DIR": str(layers), "GEOSVC_STORE_DIR": str(work / "store")}


def cli(env: dict[str, str], *args: str) -> float:
    """Run ``geosvc ARGS`` with ``env``; its wall seconds."""
    start = time.perf_counter()
    proc = subprocess.run([str(services.GEOSVC), *args], env={**os.environ, **env}, cwd=ROOT, capture_output=True,
                          text=True)
    if proc.returncode:
        raise SystemExit(f"geosvc {' '.join(args)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return time.perf_counter() - start


# -- server processes ----------------------------------------------------------------------------
def children(pid: int) -> list[int]:
    """Direct child processes of ``pid``."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def worker_pids(master: int) -> list[int]:
    """uvicorn's worker processes (spawned children running the app, not multiprocessing's helpers)."""
    pids = []
    for pid in children(master):
        with contextlib.suppress(OSError):  # exited meanwhile
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(pid)
    return sorted(pids)


def rss_mb(pid: int) -> dict[str, float]:
    """VmRSS, its anonymous / file-backed parts, the peak, and PSS (shared pages split between the
    processes sharing them), MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            fields["Pss"] = int(line.split()[1]) / 1024
    return fields


def wait_200(url: str, timeout: float = 300) -> float:
    """Seconds until the first 200 answer of ``url`` (asking every 20 ms)."""
    start, last = time.perf_counter(), "no answer"
    while time.perf_counter() - start < timeout:
        try:
            response = httpx.get(url, timeout=30)
            if response.status_code == 200:
                return time.perf_counter() - start
            last = f"{response.status_code} {response.text[:300]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.02)
    raise RuntimeError(f"no 200 from {url} in {timeout} s (last: {last})")


@contextlib.contextmanager
def watch_workers(port: int):
    """Every worker pid that the server on ``port`` (a child of this process) runs while the block runs,
    sampled every 0.1 s: more than ``--workers`` means uvicorn restarted workers."""
    seen: set[int] = set()
    stop = threading.Event()

    def sample():
        while not stop.wait(0.1):
            for pid in children(os.getpid()):
                with contextlib.suppress(OSError):
                    if f"--port\0{port}\0".encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                        seen.update(worker_pids(pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()


@contextlib.contextmanager
def geosvc_server(env: dict[str, str], workers: int, log: Path):
    """``geosvc serve --workers N`` as a real process; yields (process, port, the worker pids seen so far,
    start-up seconds and CPU)."""
    port = services.free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(services.GEOSVC), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    start = time.perf_counter()
    with (watch_workers(port) as seen,
          serverproc.running(command, f"{base}/health", log, env=env, cwd=ROOT, timeout=300, poll=0.02) as proc):
        health = time.perf_counter() - start
        items = health + wait_200(f"{base}/ogc/collections/{POINTS}/items?f=json&limit=100&bbox=-72.7,41.5,-72.6,41.6")
        while len(worker_pids(proc.pid)) < workers:  # every worker up (they start together)
            time.sleep(0.05)
        cpu_s = {pid: cpu.tree_seconds([pid]) for pid in worker_pids(proc.pid)}
        yield proc, port, seen, {"health_s": health, "items_s": items, "worker_cpu_s": cpu_s,
                                 "master_cpu_s": cpu.tree_seconds([proc.pid]) - sum(cpu_s.values())}


def geosvc_service(port: int, layer_id: str, pids: list[int]) -> services.Service:
    return services.Service(name="geosvc", command=[], port=port, items_path=f"/ogc/collections/{layer_id}/items",
                            ready_path="/health", query="f=json", cpu_pids=pids)


def tipg_service(port: int, table: str, pids: list[int]) -> services.Service:
    return services.Service(name="tipg", command=[], port=port, items_path=f"/collections/public.{table}/items",
                            ready_path=f"/collections/public.{table}", query="f=geojson", cpu_pids=pids)


# -- checks and load -----------------------------------------------------------------------------
def matched(client: httpx.Client, service: services.Service, bbox, limit: int) -> tuple[int, int]:
    """``numberMatched`` and page length of one items request."""
    response = client.get(service.base_url + service.items_url(bbox, limit))
    response.raise_for_status()
    body = response.json()
    return body.get("numberMatched"), len(body["features"])


def agreement(svcs, frame: gpd.GeoDataFrame, bboxes) -> dict[str, int]:
    """Per service: sample bboxes whose numberMatched equals a shapely intersects count of the published
    features and whose ``limit=1000`` page has min(1000, matched) features."""
    tree = shapely.STRtree(np.asarray(frame.geometry.array))
    expected = [len(tree.query(shapely.box(*b), predicate="intersects")) for b in bboxes]
    out = {}
    for service in svcs:
        with httpx.Client(timeout=120) as client:
            got = [matched(client, service, b, 1000) for b in bboxes]
        out[service.name] = sum(n == e and size == min(1000, e) for (n, size), e in zip(got, expected))
    return out | {"samples": len(bboxes), "mean_matched": float(np.mean(expected))}


def load(cases, work: Path, args) -> dict[tuple[str, int, str], LoadResult]:
    """Interleaved wrk rounds over every (layer, limit, service); the best round of each counts."""
    best: dict[tuple[str, int, str], LoadResult] = {}
    for round_ in range(args.rounds):
        for layer_id, limit, service, bboxes in (cases if round_ % 2 == 0 else cases[::-1]):
            paths = work / f"paths-{layer_id}-{limit}-{service.name}.txt"
            paths.write_text("\n".join(service.items_url(b, limit) for b in bboxes) + "\n")
            result = run_wrk(service, paths, args.duration, args.connections, args.threads)
            key = (layer_id, limit, service.name)
            print(f"round {round_ + 1} {key}: {result.rps:.1f} req/s, p50 {result.p50_ms:.1f} ms, "
                  f"p95 {result.p95_ms:.1f} ms, failed {result.failures}", file=sys.stderr, flush=True)
            if key not in best or result.rps > best[key].rps:
                best[key] = result
    return best


# -- publish-to-served ---------------------------------------------------------------------------
def _hex_port(port: int) -> str:
    return f"{port:04X}"


def serving_pid(server_port: int, client_port: int, workers: list[int]) -> int | None:
    """The worker holding the server side of the connection from ``client_port``."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[1].endswith(":" + _hex_port(server_port)) and parts[2].endswith(":" + _hex_port(client_port)):
            inode = parts[9]
            break
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in workers:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
    return None


def ask(port: int, path: str, workers: list[int]) -> tuple[float, int | None, int, str | None]:
    """One request on a new connection: (time, worker pid, status, ETag)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        at = time.time()
        pid = serving_pid(port, conn.sock.getsockname()[1], workers)
        return at, pid, response.status, response.getheader("ETag")
    finally:
        conn.close()


def publish_to_served(env: dict[str, str], port: int, workers: list[int], attempt: int) -> dict:
    """Republish ``REPUBLISH`` (its record's description changed) and time until every worker serves it."""
    from geosvc.settings import load_settings
    from geosvc.store.gpkg import GpkgStore

    settings = load_settings(store_dir=env["GEOSVC_STORE_DIR"], data_root=env["GEOSVC_DATA_ROOT"],
                             layers_dir=env["GEOSVC_LAYERS_DIR"])
    store = GpkgStore(settings)
    path = f"/ogc/collections/{REPUBLISH}/items?f=json&limit=1"
    before = {ask(port, path, workers)[3] for _ in range(20)}
    old = store.get(REPUBLISH)
    record = Path(env["GEOSVC_LAYERS_DIR"]) / f"{REPUBLISH}.yaml"
    data = yaml.safe_load(record.read_text())
    data["description"] = data["description"].rstrip() + f" (benchmark republish {attempt})"
    record.write_text(yaml.safe_dump(data, sort_keys=False))

    generation = store.generation()
    committed: list[float] = []
    stop = threading.Event()

    def watch():  # the commit moment as any reader of the store sees it
        while not stop.is_set():
            if store.generation() != generation:
                committed.append(time.time())
                return
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    cli_start = time.time()
    proc = subprocess.Popen([str(services.GEOSVC), "publish", REPUBLISH], env={**os.environ, **env}, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    answers = []
    new_tag = None
    first_new: dict[int, float] = {}
    deadline = time.time() + 120
    while time.time() < deadline:
        at, pid, status, tag = ask(port, path, workers)
        answers.append((at, pid, status, tag))
        if committed and new_tag is None:
            new_tag = store.get(REPUBLISH).etag
        if new_tag and tag == new_tag and pid is not None:
            first_new.setdefault(pid, at)
        if len(first_new) == len(workers):
            break
    cli_out = proc.communicate(timeout=120)[0].decode(errors="replace")
    cli_end = time.time()
    stop.set()
    if proc.returncode or not committed:
        raise SystemExit(f"republish failed: {cli_out[-1000:]}")
    new = store.get(REPUBLISH)
    assert new.version == old.version + 1, (old.version, new.version)
    after_commit = [a for a in answers if a[0] >= committed[0]]
    stale_after = {pid: max((a[0] for a in after_commit if a[1] == pid and a[3] != new.etag), default=None)
                   for pid in workers}
    return {
        "version": new.version, "served_s": max(first_new.values()) - committed[0] if len(first_new) == len(workers)
        else float("nan"),
        "per_worker_s": {pid: first_new.get(pid, float("nan")) - committed[0] for pid in workers},
        "cli_s": cli_end - cli_start, "commit_after_cli_start_s": committed[0] - cli_start,
        "requests": len(answers), "by_worker": {pid: sum(a[1] == pid for a in answers) for pid in workers},
        "unidentified": sum(a[1] is None for a in answers), "old_tags_before": sorted(t for t in before if t),
        "new_tag": new.etag, "non_200": sum(a[2] != 200 for a in answers),
        "old_after_new": {pid: (t is not None and pid in first_new and t > first_new[pid]) for pid, t in
                          stale_after.items()},
    }


# -- report --------------------------------------------------------------------------------------
def _mark(ok: bool) -> str:
    return "met" if ok else "**NOT met**"


def render(res: dict, meta: dict, args) -> str:
    best, start, rss, pub = res["best"], res["start"], res["rss"], res["publish"]
    gen = res["generated"]
    lines = [
        f"## Scale benchmark (`benchmarks/bench_scale.py`), {res['date']}",
        "",
        f"Sample catalog + {gen['point_count']:,} generated points and {gen['parcel_count']:,} generated parcels (Voronoi "
        f"cells of random points clipped to the union of `ct-towns`; numpy seed {SEED}; generated by the script, "
        f"never committed). geosvc: `geosvc serve --workers {args.workers}`; tipg {meta['tipg']}: uvicorn "
        f"`--workers {args.workers}` on the same tables in {meta['database']} (loaded with ogr2ogr from the "
        f"published GeoPackages, GiST index, ANALYZE). Load: wrk {meta['wrk']} `-t{args.threads} "
        f"-c{args.connections} -d{args.duration}s` after a 3 s warm-up, random {args.box}° bboxes inside the state "
        f"(tracts: 0.2° as `bench_serve.py`), {args.urls} distinct URLs per case, best of {args.rounds} "
        f"interleaved rounds. All on 127.0.0.1; machine: {meta['machine']}, geosvc {meta['geosvc']}.",
        "",
        f"Load average (1, 5, 15 min) at start: {res['load_start']}; at end: {res['load_end']} — the 2 cores are "
        "shared with other jobs, so absolute figures move between runs; the geosvc / tipg ratios come from "
        "one run, interleaved.",
        "",
        f"Data generation {gen['points']:.1f} s (points) + {gen['parcels']:.1f} s (parcels); `geosvc publish` of "
        f"the whole catalog {res['publish_all_s']:.1f} s.",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    start_s = max(start["items_s"], start["health_s"])
    worker_cpu = ", ".join(f"{v:.1f}" for v in start["worker_cpu_s"].values())
    lines.append(f"| start: `geosvc serve` to first answer < {TARGETS['start_s']:.0f} s | /health "
                 f"{start['health_s']:.2f} s, first items (1M points, bbox) {start['items_s']:.2f} s; CPU used by "
                 f"then: {worker_cpu} s per worker, {start['master_cpu_s']:.1f} s the supervisor | "
                 f"{_mark(start_s < TARGETS['start_s'])} |")
    peak = max(v["VmRSS"] for phase in rss.values() for v in phase.values())
    lines.append(f"| RSS < {TARGETS['rss_mb']:.0f} MB per worker | max {peak:.0f} MB (table below) | "
                 f"{_mark(peak < TARGETS['rss_mb'])} |")
    for layer_id in (POINTS, PARCELS):
        for limit in (100, 1000):
            ours, theirs = best[(layer_id, limit, "geosvc")], best[(layer_id, limit, "tipg")]
            lines.append(f"| {layer_id} `limit={limit}` p50 ≤ tipg's | {ours.p50_ms:.1f} ms vs {theirs.p50_ms:.1f} "
                         f"ms ({ours.rps:.0f} vs {theirs.rps:.0f} req/s) | {_mark(ours.p50_ms <= theirs.p50_ms)} |")
    ours, theirs = best[(TRACTS, 100, "geosvc")], best[(TRACTS, 100, "tipg")]
    ratio = ours.rps / theirs.rps
    lines.append(f"| sample layer ({TRACTS}) items throughput ≥ {TARGETS['sample_x']:.0f}x tipg | {ratio:.1f}x "
                 f"({ours.rps:.0f} vs {theirs.rps:.0f} req/s) | {_mark(ratio >= TARGETS['sample_x'])} |")
    served = [p["served_s"] for p in pub]
    lines.append(f"| publish-to-served (every worker) < {TARGETS['publish_s']:.0f} s | "
                 f"{', '.join(f'{s:.2f}' for s in served)} s ({len(pub)} republishes; max {max(served):.2f} s) | "
                 f"{_mark(max(served) < TARGETS['publish_s'])} |")
    lines += [
        "",
        "| layer | limit | service | req/s | p50 ms | p95 ms | p99 ms | failed | KB/response | req/s vs tipg | "
        "p50 vs tipg | CPU ms/request | CPU vs tipg |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (layer_id, limit, name), r in best.items():
        ref = best[(layer_id, limit, "tipg")]
        lines.append(f"| {layer_id} | {limit} | {name} | {r.rps:.1f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | "
                     f"{r.p99_ms:.1f} | {r.failures} | {r.kb_per_response:.0f} | {r.rps / ref.rps:.2f}x | "
                     f"{r.p50_ms / ref.p50_ms:.2f}x | {r.cpu_ms:.2f} | {r.cpu_ms / ref.cpu_ms:.2f}x |")
    lines += ["", "CPU ms/request: user + system CPU of the service's processes during the measured run (geosvc: "
              "supervisor and workers; tipg: its uvicorn processes and the PostgreSQL server with its backends) per "
              "request. On a shared, overloaded machine wall-clock figures depend on each service's share of the "
              "cores (a service spread over more processes gets more); CPU per request does not."]
    lines += ["", "Agreement (sample bboxes whose `numberMatched` equals a shapely intersects count of the published "
              "features and whose `limit=1000` page is full): " + "; ".join(
                  f"{layer_id}: " + ", ".join(f"{k} {v}/{a['samples']}" for k, v in a.items()
                                               if k not in ("samples", "mean_matched"))
                  + f" (mean {a['mean_matched']:.0f} matches per bbox)" for layer_id, a in res["agreement"].items())]
    lines += ["", "| worker pid | phase | VmRSS MB | RssAnon MB | RssFile MB | PSS MB | VmHWM MB |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for phase, per in rss.items():
        for pid, v in per.items():
            lines.append(f"| {pid} | {phase} | {v['VmRSS']:.0f} | {v['RssAnon']:.0f} | {v['RssFile']:.0f} | "
                         f"{v['Pss']:.0f} | {v['VmHWM']:.0f} |")
    restarts = len(res["workers_seen"]) - args.workers
    lines += ["", f"Worker processes seen during the run (sampled every 0.1 s from the start-up on): "
              f"{len(res['workers_seen'])} for `--workers {args.workers}`"
              + (f" — **uvicorn restarted workers {restarts} time(s)** (its supervisor kills a worker that does not "
                 "answer its health ping within 5 s, `timeout_worker_healthcheck`)." if restarts > 0 else ".")]
    lines += ["", "RssFile is file-backed memory (shared libraries, the GeoPackages' pages read through SQLite), "
              "counted in full in every process that maps it; PSS splits shared pages between the processes."]
    lines += ["", "Publish-to-served: `geosvc publish ct-hospitals` with the record's description changed (a new "
              "version), while the server runs; requests on new connections, each attributed to the worker that "
              "answered it; time from the catalog commit until each worker first answers with the new ETag (never "
              "the old one after)."]
    lines += ["", "| republish | version | every worker s | per worker s | CLI wall s (commit at) | requests "
              "(per worker, unattributed) | old ETag after new |", "|---:|---:|---:|---|---:|---|---|"]
    for i, p in enumerate(pub, 1):
        lines.append(
            f"| {i} | {p['version']} | {p['served_s']:.2f} | "
            f"{', '.join(f'{s:.2f}' for s in p['per_worker_s'].values())} | {p['cli_s']:.2f} "
            f"({p['commit_after_cli_start_s']:.2f}) | {p['requests']} ({', '.join(map(str, p['by_worker'].values()))}; "
            f"{p['unidentified']}) | {'yes' if any(p['old_after_new'].values()) else 'no'} |")
    return "\n".join(lines) + "\n"


def _arguments(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per case")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--box", type=float, default=0.05, help="bbox size in degrees on the large layers")
    parser.add_argument("--urls", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=8, help="bboxes checked for agreement per layer")
    parser.add_argument("--republish", type=int, default=3, help="publish-to-served repetitions")
    parser.add_argument("--points", type=int, default=N_POINTS, help="generated points (smaller: a smoke run)")
    parser.add_argument("--parcels", type=int, default=N_PARCELS, help="Voronoi seeds of the generated parcels")
    parser.add_argument("--keep", type=Path, help="keep the work folder here (generated data: do not commit)")
    parser.add_argument("--write", action="store_true", help="write the section into benchmarks/RESULTS.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    res: dict = {"load_start": ", ".join(f"{v:.1f}" for v in os.getloadavg()),
                 "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}
    with contextlib.ExitStack() as stack:
        work = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench_scale-")))
        if (work / "prepared.json").exists():  # --keep of an earlier run: its data and store
            env, res["generated"], res["publish_all_s"] = json.loads((work / "prepared.json").read_text())
        else:
            work.mkdir(parents=True, exist_ok=True)
            env = roots(work)
            res["generated"] = generate(work / "data", args.points, args.parcels)
            print(f"generated: {res['generated']}", file=sys.stderr, flush=True)
            res["publish_all_s"] = cli(env, "publish")
            (work / "prepared.json").write_text(json.dumps([env, res["generated"], res["publish_all_s"]]))
        print(f"published in {res['publish_all_s']:.1f} s", file=sys.stderr, flush=True)
        from geosvc.settings import load_settings
        from geosvc.store.gpkg import GpkgStore

        store = GpkgStore(load_settings(store_dir=env["GEOSVC_STORE_DIR"]))
        layers = {lid: store.get(lid) for lid in TABLES}
        files = {lid: store.file(layer) for lid, layer in layers.items()}

        pg_port = services.free_port()
        dsn = stack.enter_context(postgis.cluster(pg_port))
        for lid, table in TABLES.items():
            postgis.load_layer(dsn, files[lid], lid, table, layers[lid].record.id_field)
        print("PostGIS loaded", file=sys.stderr, flush=True)
        url = f"postgresql://{postgis.USER}@127.0.0.1:{pg_port}/{postgis.DBNAME}"
        tipg = services.tipg(url, TABLES[POINTS], workers=args.workers, postmaster=postgis.postmaster_pid(dsn))
        stack.enter_context(services.running(tipg, work))

        proc, port, seen, res["start"] = stack.enter_context(geosvc_server(env, args.workers, work / "geosvc.log"))
        workers = worker_pids(proc.pid)
        print(f"geosvc up: {res['start']}, workers {workers}", file=sys.stderr, flush=True)

        state_bbox = load_settings().state.bbox
        cases, res["agreement"] = [], {}
        for lid in (POINTS, PARCELS, TRACTS):
            frame = pyogrio.read_dataframe(files[lid], layer=lid, columns=[])
            bboxes = random_bboxes(frame, state_bbox, args.urls, SEED, box=0.2 if lid == TRACTS else args.box)
            svcs = [geosvc_service(port, lid, [proc.pid]), tipg_service(tipg.port, TABLES[lid], tipg.cpu_pids)]
            res["agreement"][lid] = agreement(svcs, frame, bboxes[: args.samples])
            for limit in ((100,) if lid == TRACTS else (100, 1000)):
                cases += [(lid, limit, s, bboxes) for s in svcs]
        res["rss"] = {"after warm-up": {pid: rss_mb(pid) for pid in worker_pids(proc.pid)}}
        res["best"] = load(cases, work, args)
        res["rss"]["after the load"] = {pid: rss_mb(pid) for pid in worker_pids(proc.pid)}
        res["publish"] = [publish_to_served(env, port, worker_pids(proc.pid), i) for i in range(1, args.republish + 1)]
        res["rss"]["after the republishes"] = {pid: rss_mb(pid) for pid in worker_pids(proc.pid)}
        res["workers_seen"] = sorted(seen)
        meta = versions(dsn)
    res["load_end"] = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    text = render(res, meta, args)
    print(text)
    print(json.dumps(res["publish"], default=str), file=sys.stderr)
    if args.write:
        write_section("bench_scale", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
