"""``kind: wfs``: a WFS 2 feature type read through GDAL's WFS driver (paged with ``page_size``) and staged
as GeoJSON in the layer's own CRS. GDAL's HTTP options carry the timeout, retries and credentials."""

from __future__ import annotations

import contextlib
import threading

import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError

from geosvc.feeds.base import FeedError, Fetched, FetchJob
from geosvc.store.gpkg import sha256_file

_GDAL_CONFIG = threading.Lock()  # GDAL config options are process-wide: one WFS read at a time


@contextlib.contextmanager
def _gdal_options(options: dict[str, str | None]):
    with _GDAL_CONFIG:
        before = {k: pyogrio.get_gdal_config_option(k) for k in options}
        pyogrio.set_gdal_config_options(options)
        try:
            yield
        finally:
            pyogrio.set_gdal_config_options(before)


def fetch(job: FetchJob) -> Fetched:
    http, source = job.http, job.source
    options: dict[str, str | None] = {
        "GDAL_HTTP_TIMEOUT": str(max(1, round(http.timeout))),
        "GDAL_HTTP_MAX_RETRY": str(http.retries),
        "GDAL_HTTP_RETRY_DELAY": str(max(http.backoff, 0.1)),
        "GDAL_HTTP_USERAGENT": http.headers["User-Agent"],
        "GDAL_HTTP_HEADERS": ",".join(f"{k}: {v}" for k, v in http.headers.items() if k != "User-Agent") or None,
        "GDAL_HTTP_USERPWD": ":".join(http.userpwd) if http.userpwd else None,
        "OGR_WFS_PAGING_ALLOWED": "ON" if source.page_size else None,
        "OGR_WFS_PAGE_SIZE": str(source.page_size) if source.page_size else None,
        "OGR_WFS_LOAD_MULTIPLE_LAYER_DEFN": "NO",
    }
    job.check()
    url = source.url if source.url.startswith("WFS:") else f"WFS:{source.url}"
    try:
        with _gdal_options(options):
            frame = pyogrio.read_dataframe(url, layer=source.typename)
    except (DataSourceError, DataLayerError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise FeedError(f"WFS {source.url} layer {source.typename}: {first}", layer=job.record.id) from exc
    job.check()
    path = job.staging / "features.geojson"
    pyogrio.write_dataframe(frame, path, driver="GeoJSON", layer=job.record.id)
    return Fetched(path=path, sha256=sha256_file(path), detail={"features": len(frame), "typename": source.typename})
