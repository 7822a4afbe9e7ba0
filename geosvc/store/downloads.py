"""Downloadable files of a published vector version, written by GDAL (pyogrio) and cached per version.

Every file is generated once from ``store.read_features(layer)`` into
``<store dir>/downloads/<layer id>/v<version>/`` (written in a temporary folder beside it, then renamed
into place, so a reader never sees half a file) with a ``.sha256`` sidecar; a version never changes, so
its files are reused until the store folder is cleaned.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path


from geosvc.errors import NotFound
from geosvc.store.base import PublishedLayer, Store


@dataclass(frozen=True)
class DownloadFormat:
    """One file format: its key in URLs, GDAL driver and layer creation options, media type and file ending."""

    key: str
    title: str
    media_type: str
    suffix: str
    driver: str
    options: dict[str, str] = field(default_factory=dict)
    points_only: bool = False

    def offered_for(self, layer: PublishedLayer) -> bool:
        return layer.kind == "vector" and (not self.points_only or "point" in (layer.geometry_type or "").lower())


FORMATS: dict[str, DownloadFormat] = {f.key: f for f in (
    DownloadFormat("gpkg", "GeoPackage", "application/geopackage+sqlite3", "gpkg", "GPKG", {"FID": "geosvc_fid"}),
    DownloadFormat("geojson", "GeoJSON", "application/geo+json", "geojson", "GeoJSON", {"RFC7946": "YES"}),
    DownloadFormat("csv-wkt", "CSV with WKT geometry", "text/csv; charset=utf-8", "csv", "CSV", {"GEOMETRY": "AS_WKT"}),
    DownloadFormat("csv-xy", "CSV with X and Y columns", "text/csv; charset=utf-8", "xy.csv", "CSV",
                   {"GEOMETRY": "AS_XY"}, points_only=True),
    DownloadFormat("shp.zip", "Zipped Shapefile", "application/zip", "shp.zip", "ESRI Shapefile", {"ENCODING": "UTF-8"}),
    DownloadFormat("fgb", "FlatGeobuf", "application/flatgeobuf", "fgb", "FlatGeobuf"),
)}


@dataclass(frozen=True)
class DownloadFile:
    """A generated file of one version in one format."""

    layer: PublishedLayer
    format: DownloadFormat
    path: Path
    size: int
    sha256: str

    @property
    def filename(self) -> str:
        return file_name(self.layer, self.format)


def file_name(layer: PublishedLayer, fmt: DownloadFormat) -> str:
    """``<id>-v<version>.<suffix>``."""
    return f"{layer.id}-v{layer.version}.{fmt.suffix}"


def formats_for(layer: PublishedLayer) -> list[DownloadFormat]:
    """The formats offered for a layer version (CSV with X/Y only for points)."""
    return [fmt for fmt in FORMATS.values() if fmt.offered_for(layer)]


def lookup_format(layer: PublishedLayer, key: str) -> DownloadFormat:
    """The format called ``key`` if offered for ``layer``, else :class:`NotFound` listing those that are."""
    fmt = FORMATS.get(key)
    if fmt is None or not fmt.offered_for(layer):
        offered = ", ".join(f.key for f in formats_for(layer))
        raise NotFound(f"no download '{key}' for this layer (offered: {offered})", layer=layer.id, param="format")
    return fmt


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class DownloadCache:
    """Generates and keeps the download files of every version under ``root`` (the store's folder)."""

    def __init__(self, store: Store, root: Path):
        self.store = store
        self.root = Path(root)
        self._locks: dict[tuple[str, int, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def folder(self, layer: PublishedLayer) -> Path:
        return self.root / layer.id / f"v{layer.version}"

    def cached(self, layer: PublishedLayer, fmt: DownloadFormat) -> DownloadFile | None:
        """The file if it was generated already."""
        path = self.folder(layer) / file_name(layer, fmt)
        sidecar = path.with_name(path.name + ".sha256")
        if not (path.is_file() and sidecar.is_file()):
            return None
        return DownloadFile(layer, fmt, path, path.stat().st_size, sidecar.read_text().strip())

    def get(self, layer: PublishedLayer, fmt: DownloadFormat) -> DownloadFile:
        """The file of ``layer`` in ``fmt``, generated now if it is not cached yet."""
        found = self.cached(layer, fmt)
        if found is not None:
            return found
        with self._guard:
            lock = self._locks.setdefault((layer.id, layer.version, fmt.key), threading.Lock())
        with lock:
            return self.cached(layer, fmt) or self._generate(layer, fmt)

    def _generate(self, layer: PublishedLayer, fmt: DownloadFormat) -> DownloadFile:
        folder = self.folder(layer)
        import pyogrio  # GDAL's writers load on the first download, not at start-up

        folder.mkdir(parents=True, exist_ok=True)
        frame = self.store.read_features(layer)
        name = file_name(layer, fmt)
        work = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
        try:
            written = work / name
            pyogrio.write_dataframe(frame, written, layer=layer.id, driver=fmt.driver,
                                    layer_options=dict(fmt.options))
            checksum = _sha256(written)
            with written.open("rb") as fh:
                os.fsync(fh.fileno())
            sidecar = work / f"{name}.sha256"
            sidecar.write_text(checksum + "\n")
            os.replace(written, folder / name)
            os.replace(sidecar, folder / sidecar.name)  # the sidecar last: its presence marks a complete file
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return DownloadFile(layer, fmt, folder / name, (folder / name).stat().st_size, checksum)
