"""``kind: http``: one file at a URL (zip, GeoPackage, GeoJSON, CSV, or a shapefile with its sidecars),
fetched with a conditional GET (If-None-Match / If-Modified-Since from the last good sync)."""

from __future__ import annotations

import email.utils
import hashlib
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from geosvc.feeds.base import FeedError, Fetched, FetchJob, NotModified

BY_TYPE = {"application/zip": ".zip", "application/geo+json": ".geojson", "application/json": ".geojson",
           "text/csv": ".csv", "application/geopackage+sqlite3": ".gpkg"}
SHAPEFILE_SIDECARS = ((".shx", True), (".dbf", True), (".prj", False), (".cpg", False))


def _file_name(url: str, content_type: str) -> str:
    name = PurePosixPath(urlsplit(url).path).name or "source"
    if not PurePosixPath(name).suffix:
        name += BY_TYPE.get(content_type.split(";")[0].strip().lower(), "")
    return name


def _sidecars(job: FetchJob, url: str, stem_path, digest) -> None:
    """Fetch a shapefile's .shx/.dbf (required) and .prj/.cpg (if present) next to the staged .shp."""
    for suffix, required in SHAPEFILE_SIDECARS:
        job.check()
        sidecar_url = url.rsplit(".", 1)[0] + suffix
        try:
            _, sha, _ = job.http.request(sidecar_url, stream_to=stem_path.with_suffix(suffix))
        except FeedError:
            if required:
                raise
            continue
        digest.update(f"{suffix}:{sha}".encode())


def fetch(job: FetchJob) -> Fetched:
    """Download the file; raise :class:`NotModified` on a 304 answer to the conditional request."""
    url = job.source.url
    headers = {}
    if job.previous is not None:
        if job.previous.etag:
            headers["If-None-Match"] = job.previous.etag
        if job.previous.last_modified:
            headers["If-Modified-Since"] = job.previous.last_modified
    partial = job.staging / "download.part"
    response, sha, size = job.http.request(url, headers=headers, stream_to=partial)
    validators = {"etag": response.headers.get("ETag"), "last_modified": response.headers.get("Last-Modified")}
    if response.status_code == 304:
        raise NotModified({"http_status": 304, **{k: v for k, v in validators.items() if v}})
    target = job.staging / _file_name(str(response.url), response.headers.get("Content-Type", ""))
    partial.rename(target)
    if target.suffix.lower() == ".shp":
        digest = hashlib.sha256(f".shp:{sha}".encode())
        _sidecars(job, str(response.url), target, digest)
        sha = digest.hexdigest()
    try:
        modified = email.utils.parsedate_to_datetime(validators["last_modified"])
    except (TypeError, ValueError):  # absent or malformed
        modified = None
    return Fetched(
        path=target, sha256=sha, layer=job.source.layer, source_updated=modified,
        detail={"http_status": response.status_code, "bytes": size, **validators},
    )
