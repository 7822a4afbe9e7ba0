"""``kind: wfs``: a WFS 2 feature type read through GDAL's WFS driver (paged with ``page_size``) and staged
as GeoJSON in the layer's own CRS.

GDAL holds the GIL while it downloads, so the read runs in a child Python process (``python -m
geosvc.feeds.wfs``): the parent keeps answering signals and kills the child when asked to stop. GDAL's
HTTP options, passed as environment variables, carry the timeout, retries and credentials.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from geosvc.feeds.base import Cancelled, FeedError, Fetched, FetchJob
from geosvc.store.gpkg import sha256_file


def _gdal_env(job: FetchJob) -> dict[str, str]:
    http, source = job.http, job.source
    options = {
        "GDAL_HTTP_TIMEOUT": str(max(1, round(http.timeout))),
        "GDAL_HTTP_MAX_RETRY": str(http.retries),
        "GDAL_HTTP_RETRY_DELAY": str(max(http.backoff, 0.1)),
        "GDAL_HTTP_USERAGENT": http.headers["User-Agent"],
        "GDAL_HTTP_HEADERS": ",".join(f"{k}: {v}" for k, v in http.headers.items() if k != "User-Agent"),
        "GDAL_HTTP_USERPWD": ":".join(http.userpwd) if http.userpwd else "",
        "OGR_WFS_PAGING_ALLOWED": "ON" if source.page_size else "",
        "OGR_WFS_PAGE_SIZE": str(source.page_size or ""),
        "OGR_WFS_LOAD_MULTIPLE_LAYER_DEFN": "NO",
    }
    package_root = str(Path(__file__).resolve().parents[2])  # the child imports this geosvc, installed or not
    python_path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, **{k: v for k, v in options.items() if v}, "PYTHONPATH": python_path}


def fetch(job: FetchJob) -> Fetched:
    source = job.source
    url = source.url if source.url.startswith("WFS:") else f"WFS:{source.url}"
    path = job.staging / "features.geojson"
    command = [sys.executable, "-m", "geosvc.feeds.wfs", url, source.typename, str(path), job.record.id]
    job.check()
    with subprocess.Popen(command, env=_gdal_env(job), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        while True:
            try:
                stdout, stderr = proc.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if job.cancel.is_set():
                    proc.kill()
                    raise Cancelled() from None
    if proc.returncode != 0:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        raise FeedError(f"WFS {source.url} layer {source.typename}: {lines[-1] if lines else 'read failed'}",
                        layer=job.record.id)
    return Fetched(path=path, sha256=sha256_file(path),
                   detail={"features": int(stdout.strip() or 0), "typename": source.typename})


def _read(url: str, typename: str, out: str, layer: str) -> None:
    """Child process: read the feature type with GDAL and write it as GeoJSON; print the feature count."""
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError, FeatureError

    try:
        frame = pyogrio.read_dataframe(url, layer=typename)
    except (DataSourceError, DataLayerError, FeatureError, RuntimeError) as exc:
        sys.exit((str(exc).strip().splitlines() or [type(exc).__name__])[0])
    pyogrio.write_dataframe(frame, out, driver="GeoJSON", layer=layer)
    print(len(frame))


if __name__ == "__main__":
    _read(*sys.argv[1:5])
