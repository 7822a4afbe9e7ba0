"""Read a record's vector source into a GeoDataFrame in its native CRS (pyogrio, Arrow when possible)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import geopandas as gpd

from geosvc.crs import crs_code, parse_crs
from geosvc.errors import SourceError
from geosvc.records.models import LayerRecord
from geosvc.settings import Settings
from geosvc.sources.location import VECTOR_SUFFIXES, Location, locate
from geosvc.sources.records import LocationStats, place_records
from geosvc.sources.table import JoinStats, PointStats, join_table, points_from_table, read_table
from geosvc.sources.text import check_text

CrsSource = Literal["file", "assume_crs", "record", "location"]


@dataclass(frozen=True)
class ReadStats:
    """How the source was read, for validation to report."""

    gdal_path: str
    layer: str | None
    rows: int  # records in the source before any were dropped
    file_crs: str | None  # CRS the file itself declares (authority code or WKT), None if it declares none
    crs_source: CrsSource | None  # where the frame's CRS came from
    points: PointStats | None = None  # CSV sources: rows without usable coordinates (dropped)
    join: JoinStats | None = None
    location: LocationStats | None = None  # record-level tables located by id: rows without a match (dropped)


@dataclass(frozen=True)
class ReadResult:
    """The features as read (native CRS) and the read statistics."""

    data: gpd.GeoDataFrame
    stats: ReadStats


def _one_line(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].split("; It might help")[0]


def _pick_layer(loc: Location, layer_id: str) -> str | None:
    """The layer to read: the named one (checked) or the only one."""
    import pyogrio  # GDAL's drivers load on the first read, not when a server starts
    from pyogrio.errors import DataSourceError

    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(loc.gdal_path)]
    except DataSourceError as exc:
        raise _classify(exc, loc, layer_id) from exc
    if loc.layer is not None:
        if loc.layer not in layers:
            raise SourceError(
                f"source has no layer '{loc.layer}' (layers: {', '.join(layers)})",
                code="source.zip_layer_missing" if "/vsizip/" in loc.gdal_path else "source.layer_missing",
                layer=layer_id,
            )
        return loc.layer
    if len(layers) > 1:
        raise SourceError(
            f"source has {len(layers)} layers ({', '.join(layers[:6])}); name one in source.layer",
            code="source.layer_missing",
            layer=layer_id,
        )
    return None


def _classify(exc: Exception, loc: Location, layer_id: str) -> SourceError:
    """Turn a GDAL/pyogrio failure into a SourceError with a stable code."""
    message = _one_line(exc)
    if "not recognized as" in message or "not recognised as" in message:
        if loc.suffix in VECTOR_SUFFIXES:
            return SourceError(f"cannot parse {loc.suffix} file: {message}", code="source.corrupt", layer=layer_id)
        return SourceError(f"unknown vector format '{loc.suffix or '(no suffix)'}': {message}", code="source.unknown_format", layer=layer_id)
    if "No such file" in message or "does not exist" in message:
        return SourceError(f"cannot open source: {message}", code="source.missing", layer=layer_id)
    if "Permission denied" in message:
        return SourceError(f"cannot open source: {message}", code="source.unreadable", layer=layer_id)
    return SourceError(f"source is corrupt or truncated: {message}", code="source.corrupt", layer=layer_id)


def _read_ogr(loc: Location, record: LayerRecord) -> gpd.GeoDataFrame:
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError, FieldError

    layer = _pick_layer(loc, record.id)
    kwargs = {"layer": layer, "encoding": record.source.encoding}
    try:
        try:
            frame = pyogrio.read_dataframe(loc.gdal_path, use_arrow=True, **kwargs)
        except (ImportError, ValueError, NotImplementedError):
            frame = pyogrio.read_dataframe(loc.gdal_path, use_arrow=False, **kwargs)
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"attribute text is not valid in the file's declared encoding ({exc.encoding}): {exc.reason} "
            f"in {exc.object[max(0, exc.start - 20):exc.end + 20]!r}; set source.encoding to the file's encoding",
            code="source.encoding", layer=record.id,
        ) from exc
    except (DataSourceError, DataLayerError, FieldError, RuntimeError, OSError) as exc:
        raise _classify(exc, loc, record.id) from exc
    if not isinstance(frame, gpd.GeoDataFrame):
        raise SourceError(
            "source has no geometry column (a CSV needs source.csv x/y columns)",
            code="source.no_geometry",
            layer=record.id,
        )
    return frame


def _declared_encoding(loc: Location, record: LayerRecord) -> str:
    if record.source.encoding:
        return f"source.encoding {record.source.encoding}"
    cpg = loc.local.with_suffix(".cpg") if loc.local is not None and loc.local.suffix.lower() == ".shp" else None
    if cpg is not None and cpg.exists():
        return f"the encoding its .cpg declares ({cpg.read_text(errors='replace').strip()})"
    try:
        return f"the file's declared encoding {pyogrio.read_info(loc.gdal_path, layer=loc.layer)['encoding'] or 'UTF-8'}"
    except (DataSourceError, DataLayerError):
        return "UTF-8"


def _apply_crs(frame: gpd.GeoDataFrame, record: LayerRecord) -> tuple[gpd.GeoDataFrame, CrsSource | None]:
    if frame.crs is not None:
        return frame, "file"
    for source, value in (("assume_crs", record.source.assume_crs), ("record", record.crs)):
        if value:
            crs = parse_crs(value)
            if crs is None:
                raise SourceError(f"{source} '{value}' is not a CRS known to PROJ", code="crs.unknown", layer=record.id)
            return frame.set_crs(crs), source
    return frame, None


def _read_located(loc: Location, record: LayerRecord, features: gpd.GeoDataFrame | None):
    """A record-level CSV located by ``record_level.location``: its rows placed on ``features``."""
    field = record.record_level.location.field
    if loc.local is None or loc.suffix != ".csv":
        raise SourceError(
            "record_level.location needs a local .csv source (one row per record, no geometry)",
            code="source.unknown_format", layer=record.id,
        )
    if features is None:
        raise SourceError(
            f"record_level.location refers to layer '{record.record_level.location.layer}', whose features were "
            "not given", code="records.location_layer_invalid", layer=record.id,
        )
    table = read_table(loc.local, record.id, code="source.missing", dtype={field: str}, encoding=record.source.encoding)
    if field not in table.columns:
        raise SourceError(
            f"record_level.location.field '{field}' is not a column of {loc.local.name} "
            f"(columns: {', '.join(map(str, table.columns[:12]))})",
            code="records.location_field_missing", layer=record.id,
        )
    frame, stats = place_records(table, record, features)
    return frame, len(table), stats


def read_vector(record: LayerRecord, settings: Settings, located_by: gpd.GeoDataFrame | None = None) -> ReadResult:
    """Read ``record``'s vector source (and its join) in the source's native CRS.

    The frame's CRS is the file's own, else ``source.assume_crs``, else ``record.crs``, else None.
    CSV rows whose x or y is blank or not a number are dropped and counted in ``stats.points``.
    A record-level CSV with ``record_level.location`` is located on ``located_by`` (the referenced layer's
    features, e.g. as published): each row becomes the representative point of its feature, in that
    frame's CRS; rows whose id is blank or matches nothing are dropped and counted in ``stats.location``.

    Raises
    ------
    SourceError
        With ``code`` one of ``source.missing``, ``source.unreadable``, ``source.corrupt``, ``source.empty``,
        ``source.unknown_format``, ``source.zip_layer_missing``, ``source.layer_missing``,
        ``source.no_geometry``, ``source.csv_columns_missing``, ``source.encoding``, ``crs.unknown``,
        ``join.missing``, ``join.key_missing``, ``records.location_field_missing``.
    """
    loc = locate(record, settings)
    points = located = None
    if record.record_level is not None and record.record_level.location is not None:
        frame, rows, located = _read_located(loc, record, located_by)
    elif record.source.csv is not None:
        if loc.local is None or loc.suffix != ".csv":
            raise SourceError("source.csv options need a local .csv file", code="source.unknown_format", layer=record.id)
        table = read_table(loc.local, record.id, code="source.missing", encoding=record.source.encoding)
        rows = len(table)
        frame, points = points_from_table(table, record)
    else:
        frame = _read_ogr(loc, record)
        rows = len(frame)
    check_text(frame, record, lambda: _declared_encoding(loc, record))
    if rows == 0:
        raise SourceError("source holds no features", code="source.empty", layer=record.id)
    file_crs = crs_code(frame.crs) if frame.crs is not None and located is None else None
    if located is not None:
        crs_source = "location"
    else:
        frame, crs_source = _apply_crs(frame, record)

    join_stats = None
    if record.join is not None:
        frame, join_stats = join_table(frame, record.join, record, settings.data.root)
    stats = ReadStats(
        gdal_path=loc.gdal_path,
        layer=loc.layer or record.source.layer,
        rows=rows,
        file_crs=file_crs,
        crs_source=crs_source,
        points=points,
        join=join_stats,
        location=located,
    )
    return ReadResult(frame, stats)
