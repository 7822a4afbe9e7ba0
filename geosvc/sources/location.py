"""Where a record's source lives, as a GDAL path (local file, ``/vsicurl/`` URL, ``/vsizip/`` member)."""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from geosvc.errors import SourceError
from geosvc.records.models import LayerRecord
from geosvc.settings import Settings

VECTOR_SUFFIXES = {".shp", ".geojson", ".json", ".topojson", ".gpkg", ".fgb", ".csv", ".gml", ".kml"}
RASTER_SUFFIXES = {".tif", ".tiff", ".vrt", ".img", ".jp2", ".asc"}


@dataclass(frozen=True)
class Location:
    """A resolved source: ``gdal_path`` to open and the ``layer`` to read inside it (if any)."""

    gdal_path: str
    layer: str | None
    suffix: str  # lower-case suffix of the dataset itself (".shp", ".csv", ...)
    local: Path | None  # the file on disk, when the source is local


def _check_local(path: Path, layer_id: str) -> None:
    if not path.exists():
        raise SourceError(f"source file {path} does not exist", code="source.missing", layer=layer_id)
    if path.is_dir():
        raise SourceError(f"source {path} is a directory, not a file", code="source.unreadable", layer=layer_id)
    if not os.access(path, os.R_OK):
        raise SourceError(f"source file {path} is not readable (permissions)", code="source.unreadable", layer=layer_id)
    if path.stat().st_size == 0:
        raise SourceError(f"source file {path} is empty (0 bytes)", code="source.empty", layer=layer_id)


def _zip_member(path: Path, layer: str | None, layer_id: str) -> tuple[str, str | None]:
    """Pick the dataset inside a local zip: returns (member path, layer name inside it)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(f"{path.name} is not a valid zip archive ({exc})", code="source.corrupt", layer=layer_id) from exc
    datasets = [n for n in names if PurePosixPath(n).suffix.lower() in VECTOR_SUFFIXES | RASTER_SUFFIXES]
    if layer:
        wanted = layer.lower()
        for name in datasets:
            pure = PurePosixPath(name)
            if wanted in (name.lower(), pure.name.lower(), pure.stem.lower()):
                return name, None
        multi = [n for n in datasets if PurePosixPath(n).suffix.lower() == ".gpkg"]
        if len(multi) == 1:  # a layer inside the zip's GeoPackage
            return multi[0], layer
        raise SourceError(
            f"zip {path.name} has no layer '{layer}' (it holds: {', '.join(datasets) or 'no datasets'})",
            code="source.zip_layer_missing",
            layer=layer_id,
        )
    if len(datasets) != 1:
        what = ", ".join(datasets) if datasets else "no vector or raster dataset"
        raise SourceError(
            f"zip {path.name} holds {what}; name the one to read in source.layer",
            code="source.zip_layer_missing",
            layer=layer_id,
        )
    return datasets[0], None


def locate(record: LayerRecord, settings: Settings) -> Location:
    """Resolve ``record.source`` to a :class:`Location`; raise :class:`SourceError` if it cannot exist."""
    source = record.source
    if source is None:
        raise SourceError("record has no 'source' (it is derived)", code="source.missing", layer=record.id)
    if source.kind not in ("file", "http"):
        raise SourceError(
            f"a '{source.kind}' source is read by fetching it: run `geosvc sync {record.id}`",
            code="source.remote", layer=record.id,
        )
    if source.url:
        url_path = PurePosixPath(source.url.split("?", 1)[0])
        suffix = url_path.suffix.lower()
        gdal_path = f"/vsicurl/{source.url}"
        if suffix == ".zip":
            gdal_path = f"/vsizip/{gdal_path}"
            if source.layer and PurePosixPath(source.layer).suffix:
                return Location(f"{gdal_path}/{source.layer}", None, PurePosixPath(source.layer).suffix.lower(), None)
        return Location(gdal_path, source.layer, suffix, None)

    path = settings.data.root / source.path
    _check_local(path, record.id)
    suffix = path.suffix.lower()
    if suffix == ".zip":
        member, inner_layer = _zip_member(path, source.layer, record.id)
        return Location(f"/vsizip/{path}/{member}", inner_layer, PurePosixPath(member).suffix.lower(), path)
    return Location(str(path), source.layer, suffix, path)


def raster_path(record: LayerRecord, settings: Settings) -> str:
    """GDAL path of a raster record's source (local, ``/vsicurl/`` or ``/vsizip/``).

    Raises
    ------
    SourceError
        ``source.missing`` / ``source.unreadable`` / ``source.empty`` / ``source.zip_layer_missing``.
    """
    return locate(record, settings).gdal_path
