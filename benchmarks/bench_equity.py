"""Exposure engine vs ``tobler.area_interpolate(allocate_total=False)`` on identical inputs, in one run.

Cases (inputs in EPSG:5070, built before timing, identical for both sides):

(a)  statewide: 833 CT 2010 tracts × the union of the DM >= 2 drought polygons (one national polygon);
(b)  by town: tracts × (town ∩ drought union) polygons, the overlay precomputed for both;
(b2) by town end to end: tobler gets ``towns ∩ union`` built by geopandas inside the timing, ours
     the towns with ``within=union`` (no overlay polygons at all);
(c)  100,000 generated 1 km cells × 1,000 circles (seeded rng, radius 1–5 km).

Times: one fresh process per case imports both engines and interleaves the calls (tobler, ours in
each mode, repeated), so changes in machine load hit every side alike; the best of N is kept.
Prepared-geometry state is destroyed before every cold call. Ours is timed:

- ``cold+checks``: no cache, including the once-per-population-layer-version source checks
  (validity, overlaps);
- ``cold``: no cached weights, source layer already checked (the production path for a new
  hazard or target set on a published layer);
- ``warm``: weights cached under layer-version keys: a cache lookup plus one sparse product.

Memory: one cold call per side, each in its own fresh process that imports only that engine: the
child's peak RSS (``os.wait4`` rusage ``ru_maxrss``: interpreter, libraries, inputs, call) and the
call's own peak above the RSS after loading (Linux: VmHWM reset through ``/proc/self/clear_refs``).

Run: ``.venv/bin/python benchmarks/bench_equity.py [--reps N]``; prints a table and rewrites the
``bench_equity`` section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import write_section

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the tests' shared data loaders (support.ct_data)
CASES = {
    "a": "(a) statewide: 833 tracts × DM>=2 union",
    "b": "(b) by town: tracts × (town ∩ union), overlay given",
    "b2": "(b2) by town end to end (overlay / within= inside timing)",
    "c": "(c) 100,000 1 km cells × 1,000 circles",
}
TRACT_COLUMNS = ["total", "hispanic", "nh_white", "nh_black"]


# ----------------------------------------------------------------------------------- inputs
def _inputs(case: str):
    """(sources, targets, within, columns) for a case, all EPSG:5070."""
    if case == "c":
        return (*_cells_and_circles(), None, ["pop"])
    from support import ct_data

    tracts = ct_data.tracts()
    if case == "a":
        return tracts, ct_data.drought_union(), None, TRACT_COLUMNS
    if case == "b":
        return tracts, ct_data.towns_in_drought(), None, TRACT_COLUMNS
    return tracts, ct_data.towns(), ct_data.drought_union(), TRACT_COLUMNS


def _cells_and_circles(seed: int = 20161004):
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    x, y = np.meshgrid(np.arange(400) * 1000.0 + 1_800_000, np.arange(250) * 1000.0 + 2_200_000)
    x, y = x.ravel(), y.ravel()
    cells = gpd.GeoDataFrame(
        {"pop": rng.integers(0, 5000, len(x)).astype(float)}, geometry=shapely.box(x, y, x + 1000, y + 1000),
        crs="EPSG:5070",
    )
    centres = shapely.points(rng.uniform(1_800_000, 2_200_000, 1000), rng.uniform(2_200_000, 2_450_000, 1000))
    circles = gpd.GeoDataFrame(geometry=shapely.buffer(centres, rng.uniform(1000, 5000, 1000), quad_segs=16),
                               crs="EPSG:5070")
    return cells, circles


# ----------------------------------------------------------------------------------- worker
def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def _unprepare(*frames) -> None:
    import shapely

    for frame in frames:
        if frame is not None:
            shapely.destroy_prepared(np.asarray(frame.geometry.array))


def _runner(case: str, side: str, mode: str):
    sources, targets, within, columns = _inputs(case)
    if side == "tobler":
        from tobler.area_weighted import area_interpolate

        def run():
            tgt = targets
            if within is not None:
                tgt = targets.assign(geometry=targets.intersection(within.geometry.iloc[0]))
            return area_interpolate(sources, tgt, extensive_variables=columns, allocate_total=False,
                                    fill_nan=None)[columns].to_numpy()

        return run, lambda: _unprepare(sources, targets, within)

    from geosvc.equity.areal import WeightCache, area_weights, interpolate

    key = (f"sources-{case}@1", f"targets-{case}@1", f"within-{case}@1" if within is not None else "none")
    warm = WeightCache()
    if mode == "warm":
        area_weights(sources, targets, within=within, cache=warm, key=key)

    def cache_for_mode():
        if mode == "warm":
            return warm
        if mode == "cold":  # no weights yet, but this population layer version was checked before
            cache = WeightCache()
            cache.mark_checked(key[0])
            return cache
        return None

    def run():
        cache = cache_for_mode()
        weights = area_weights(sources, targets, within=within, cache=cache, key=key if cache is not None else None)
        return interpolate(weights, sources[columns]).to_numpy()

    return run, (lambda: None) if mode == "warm" else (lambda: _unprepare(sources, targets, within))


def time_worker(case: str, reps: int, out: str) -> None:
    """Time tobler and our three modes in one process, interleaved, so load changes hit all alike."""
    runners = {(side, mode): _runner(case, side, mode) for side, mode in SIDES}
    times = {name: [] for name in runners}
    results = {}
    for _ in range(reps):
        for name, (run, reset) in runners.items():
            for _ in range(5 if name[1] == "warm" else 1):
                reset()
                start = time.perf_counter()
                results[name] = run()
                times[name].append(time.perf_counter() - start)
    np.savez(out, **{f"{side}-{mode}": value for (side, mode), value in results.items()})
    print(json.dumps({f"{side}-{mode}": min(t) for (side, mode), t in times.items()}))


def exposure_worker(runs: int) -> None:
    """Median (p50) of the full by-town exposure table with warm weights (3 groups, reference)."""
    from support import ct_data

    from geosvc.equity.areal import WeightCache
    from geosvc.equity.exposure import exposure_table

    tracts, drought, towns = ct_data.tracts(), ct_data.drought(), ct_data.towns()
    cache = WeightCache()
    keys = {"units": "ct-tracts-2010@1", "places": "ct-towns@1", "hazard": "us-drought-20161004@1?DM>=2"}

    def run():
        return exposure_table(tracts, drought, towns, groups=["hispanic", "nh_black"], reference="nh_white",
                              place_name="NAME", cache=cache, keys=keys)

    start = time.perf_counter()
    run()
    cold = time.perf_counter() - start
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    print(json.dumps({"cold": cold, "p50": float(np.median(times)), "runs": runs}))


def memory_worker(case: str, side: str) -> None:
    """Peak RSS of one cold call above the RSS after loading the inputs (Linux VmHWM reset)."""
    run, reset = _runner(case, side, "cold")
    reset()
    before = _rss_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    run()
    print(json.dumps({"call_kb": _rss_kb("VmHWM") - before}))


# ----------------------------------------------------------------------------------- parent
SIDES = [("tobler", "cold"), ("ours", "cold+checks"), ("ours", "cold"), ("ours", "warm")]


def _spawn(*args: str) -> tuple[dict, float]:
    """Run a worker in a fresh interpreter: its JSON line and its own peak RSS (MB)."""
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"worker {args} failed:\n{stderr}")
    return json.loads(stdout.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def _max_rel(ours: np.ndarray, theirs: np.ndarray) -> float:
    scale = np.maximum(np.abs(theirs), 1e-9)
    diff = np.abs(ours - theirs) / scale
    return float(np.nanmax(np.where(np.isnan(ours) & np.isnan(theirs), 0.0, diff)))


def main(reps: int) -> str:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            out = str(Path(tmp) / f"{case}.npz")
            best, _ = _spawn("--time", case, str(reps), out)
            values = np.load(out)
            diff = max(_max_rel(values[f"ours-{mode}"], values["tobler-cold"]) for _, mode in SIDES[1:])
            memory = {side: _spawn("--memory", case, side) for side in ("tobler", "ours")}
            rows.append((case, best, memory, diff))
            print(f"{case:3} tobler {best['tobler-cold']:.4f}s  ours cold {best['ours-cold']:.4f}s "
                  f"(x{best['tobler-cold'] / best['ours-cold']:.1f})  warm {best['ours-warm']:.4f}s", flush=True)
    exposure, _ = _spawn("--exposure", "20")
    return _table(rows, reps, exposure)


def _table(rows, reps, exposure) -> str:
    import shapely
    import tobler

    lines = [
        f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs, Python {platform.python_version()}, "
        f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), tobler {tobler.__version__}. "
        f"Times: best of {reps} interleaved calls per side (warm: of {5 * reps}) in one process. Memory: one cold "
        "call per side, each in a fresh process: whole-process peak RSS (`ru_maxrss`, includes imports and "
        "inputs; tobler imports more) and the call's own peak above the RSS after loading (VmHWM reset).",
        "",
        "| case | tobler s | ours cold+checks s | ours cold s | ours warm s | cold speed-up | warm speed-up "
        "| peak RSS MB tobler / ours | call peak MB tobler / ours | max rel. diff |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case, best, memory, diff in rows:
        t, checks, cold, warm = (best[f"{side}-{mode}"] for side, mode in SIDES)
        (t_mem, t_rss), (o_mem, o_rss) = memory["tobler"], memory["ours"]
        lines.append(
            f"| {CASES[case]} | {t:.4f} | {checks:.4f} | {cold:.4f} | {warm:.4f} | {t / cold:.1f}x "
            f"| {t / warm:.0f}x | {t_rss:.0f} / {o_rss:.0f} | {t_mem['call_kb'] / 1024:.1f} / "
            f"{o_mem['call_kb'] / 1024:.1f} | {diff:.1e} |"
        )
    lines += [
        "",
        f"Full `exposure_table` by town (169 towns × total + 3 groups, DM>=2 drought, reference nh_white, "
        f"rates, MOE columns, RR/RD, weighted ID): first call {exposure['cold']:.3f} s (incl. source checks and "
        f"the hazard union), warm p50 {1000 * exposure['p50']:.1f} ms over {exposure['runs']} calls.",
    ]
    return "\n".join(lines)


def write_results(text: str) -> None:
    """Write this benchmark's section of RESULTS.md."""
    write_section("bench_equity", f"## Equity exposure engine vs tobler (`benchmarks/bench_equity.py`)\n\n{text}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--time":
        time_worker(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) > 1 and sys.argv[1] == "--exposure":
        exposure_worker(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--memory":
        memory_worker(sys.argv[2], sys.argv[3])
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--reps", type=int, default=5, help="calls per measurement (best is kept)")
        args = parser.parse_args()
        table = main(args.reps)
        print(table)
        write_results(table)
