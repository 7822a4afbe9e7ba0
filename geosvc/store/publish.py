"""Publish a validated layer into the store: normalise, write an artifact, hand it to the store atomically."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely
from rasterio.warp import transform_bounds

from geosvc.crs import crs_code, normalize_crs, same_crs
from geosvc.errors import NotPublished, ValidationFailed
from geosvc.records.models import LayerRecord
from geosvc.settings import Settings
from geosvc.sources import raster_path
from geosvc.store.base import PublishedLayer, RasterVersion, Store, VectorVersion
from geosvc.store.files import sha256_file
from geosvc.store.raster import SUPERSAMPLE, density_grid, write_cog, write_grid_cog
from geosvc.validate.findings import LayerReport
from geosvc.validate.repair import repair_geometries

CRS84 = "OGC:CRS84"
GEOMETRY_TYPE_BY_ID = dict(enumerate(
    ["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection"]
))
Step = Callable[[str], None]


def inputs_of(record: LayerRecord) -> set[str]:
    """Ids of the published layers ``record`` is made from or refers to: a derived layer's input; a
    record-level layer's location layer, geographies and denominators layer."""
    if record.derived is not None:
        return {record.derived.input_layer}
    block = record.record_level
    if block is None:
        return set()
    refs = set(block.geographies)
    refs |= {block.location.layer} if block.location is not None else set()
    refs |= {block.denominators.layer} if block.denominators is not None else set()
    return refs - {record.id}


def publish_order(records: Iterable[LayerRecord]) -> list[LayerRecord]:
    """Records sorted so that a layer comes after the layers it is made from or refers to."""
    pending = {r.id: r for r in records}
    ordered: list[LayerRecord] = []
    while pending:
        ready = [r for r in pending.values() if not inputs_of(r) & pending.keys()]
        if not ready:  # a cycle: publish the rest as given, each will fail on its missing input
            ready = list(pending.values())
        for record in sorted(ready, key=lambda r: r.id):
            ordered.append(pending.pop(record.id))
    return ordered


INFERRED = {"date": "date", "datetime": "datetime", "datetime64": "datetime", "boolean": "boolean",
            "integer": "integer", "floating": "number", "decimal": "number", "mixed-integer-float": "number"}


def _field_types(frame: gpd.GeoDataFrame) -> dict[str, str]:
    """Field name -> "string" | "integer" | "number" | "date" | "datetime" | "boolean"."""
    types = {}
    for name, dtype in frame.dtypes.drop(frame.geometry.name).items():
        if pd.api.types.is_bool_dtype(dtype):
            kind = "boolean"
        elif pd.api.types.is_integer_dtype(dtype):
            kind = "integer"
        elif pd.api.types.is_float_dtype(dtype):
            kind = "number"
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            kind = "datetime"
        elif dtype == object:  # e.g. datetime.date values read from a Date field
            kind = INFERRED.get(pd.api.types.infer_dtype(frame[name], skipna=True), "string")
        else:
            kind = "string"
        types[str(name)] = kind
    return types


def _geometry_type(geoms: np.ndarray) -> str:
    """One name for the layer: the single type, its Multi- form when mixed with it, else 'Geometry'."""
    kinds = {GEOMETRY_TYPE_BY_ID[i] for i in np.unique(shapely.get_type_id(geoms))}
    bases = {k.removeprefix("Multi") for k in kinds}
    if len(kinds) == 1:
        return kinds.pop()
    return f"Multi{bases.pop()}" if len(bases) == 1 else "Geometry"


def normalize_features(
    data: gpd.GeoDataFrame, record: LayerRecord, settings: Settings
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Repair (:func:`repair_geometries`, as validation reported), reproject to CRS84 and drop features
    outside the state if the record says so; return the frame and notes saying what was done."""
    if data.crs is None:
        raise ValidationFailed("source has no CRS; cannot reproject to CRS84", layer=record.id)
    native = crs_code(data.crs)
    repair = repair_geometries(data, record.id_field)
    data, notes = repair.frame, list(repair.notes)
    if same_crs(data.crs, CRS84):  # lon/lat on WGS 84 already (geopandas keeps x = longitude)
        data = data.set_crs(CRS84, allow_override=True)
        notes.append(f"native CRS {native} has the same coordinates as CRS84 (lon/lat); labelled CRS84")
    else:
        data = data.to_crs(CRS84)
        notes.append(f"reprojected from {native} to CRS84 (lon/lat)")
    if record.outside_state_extent == "drop":
        inside = data.intersects(shapely.box(*settings.state.bbox)).to_numpy()
        points = np.isin(shapely.get_type_id(np.asarray(data.geometry.array)), (0, 4)).all()
        kept = f"the {int(inside.sum())} inside it are kept" if points else (
            f"the {int(inside.sum())} touching it are kept whole, including any part beyond the state"
        )
        notes.append(
            f"dropped {int((~inside).sum())} of {len(data)} features lying wholly outside {settings.state.name}'s "
            f"extent {list(settings.state.bbox)} (CRS84); {kept} (outside_state_extent: drop)"
        )
        data = data.loc[inside]
    if data.empty:
        raise ValidationFailed("no features left to publish after normalisation", layer=record.id)
    return data.reset_index(drop=True), notes


ENCODING = "geosvc-items-1"  # bump when the stored serving format changes: forces new versions


def content_hash(record: LayerRecord, *parts: bytes) -> str:
    """sha256 of the record, the serving format and the source content a version is made from."""
    digest = hashlib.sha256(ENCODING.encode())
    digest.update(record.model_dump_json().encode())
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def frame_digest(frame: gpd.GeoDataFrame) -> bytes:
    """Digest of a frame's CRS, columns, values and geometries (row order included)."""
    digest = hashlib.sha256(str(frame.crs.to_wkt() if frame.crs else None).encode())
    attrs = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    digest.update(orjson.dumps([str(c) for c in attrs.columns]))
    digest.update(orjson.dumps([str(t) for t in attrs.dtypes]))
    if len(attrs.columns):
        digest.update(pd.util.hash_pandas_object(attrs.astype(object).where(attrs.notna(), None), index=False).to_numpy().tobytes())
    for wkb in shapely.to_wkb(np.asarray(frame.geometry.array)):
        digest.update(wkb or b"")
    return digest.digest()


def _unchanged(record: LayerRecord, store: Store, digest: str) -> PublishedLayer | None:
    """The latest version if it was made from the same content (and serve it again if withdrawn)."""
    try:
        latest = store.get(record.id)
    except NotPublished:
        return None
    if latest.content_hash != digest:
        return None
    store.restore(record.id)
    return latest


def record_level_note(record: LayerRecord) -> str:
    """What a record-level layer's version holds (one point per record) and where its points come from."""
    block = record.record_level
    where = (
        f"each record is the representative point (point_on_surface, in CRS84 as that layer is stored) of the "
        f"'{block.location.layer}' feature whose {block.location.key} is its {block.location.field}"
        if block.location is not None else "each record at its own point"
    )
    dims = ", ".join(f"{d.name} ({d.field}: {', '.join(d.categories)})" for d in block.dimensions)
    return f"record-level layer: one point per person or event, {where}; dimensions {dims}"


def _publish_vector(record, report, store, settings, step: Step) -> PublishedLayer:
    if report.data is None:
        raise ValidationFailed("validation produced no data to publish", layer=record.id)
    step("comparing with the latest version")
    digest = content_hash(record, frame_digest(report.data))
    if (same := _unchanged(record, store, digest)) is not None:
        return same
    native_crs = crs_code(report.data.crs) if report.data.crs is not None else "unknown"
    step("normalising")
    data, notes = normalize_features(report.data, record, settings)
    if record.record_level is not None:
        notes.append(record_level_note(record))
    step("writing the version")
    return store.publish_vector(record, VectorVersion(
        frame=data, native_crs=native_crs, geometry_type=_geometry_type(np.asarray(data.geometry.array)),
        fields=_field_types(data), notes=notes, content_hash=digest,
    ))


def _publish_raster(record, report, store, settings, step: Step) -> PublishedLayer:
    src = report.raster_path or raster_path(record, settings)
    local = Path(src)
    digest = content_hash(record, bytes.fromhex(sha256_file(local)) if local.is_file() else str(src).encode())
    if (same := _unchanged(record, store, digest)) is not None:
        return same
    artifact = store.staging(".tif")
    try:
        step("writing COG")
        meta = write_cog(src, artifact)
        return store.publish_raster(record, RasterVersion(
            cog=artifact, native_crs=meta["native_crs"], bbox=tuple(meta["bbox"]), fields=meta.get("fields", {}),
            notes=["converted to a Cloud Optimized GeoTIFF (DEFLATE, 512 px tiles, overviews)"], content_hash=digest,
        ))
    finally:
        artifact.unlink(missing_ok=True)


def _publish_derived(record, store, settings, step: Step) -> PublishedLayer:
    spec = record.derived
    grid_crs = normalize_crs(spec.crs)
    if not grid_crs.is_projected or grid_crs.axis_info[0].unit_name not in ("metre", "meter"):
        raise ValidationFailed(
            f"derived.crs {spec.crs} is not a projected CRS in metres; densities need an equal-area grid",
            layer=record.id,
        )
    try:
        source = store.get(spec.input_layer)
    except NotPublished as exc:
        raise ValidationFailed(
            f"input layer '{spec.input_layer}' is not published; publish it first", layer=record.id
        ) from exc
    digest = content_hash(record, f"{source.id}@{source.version}:{source.checksum}".encode())
    if (same := _unchanged(record, store, digest)) is not None:
        return same
    step(f"reading {spec.input_layer} v{source.version}")
    polygons = store.read_features(source)
    if spec.value_field not in polygons.columns:
        raise ValidationFailed(
            f"input layer '{spec.input_layer}' has no field '{spec.value_field}'", layer=record.id
        )
    step("rasterising density")
    grid, transform, represented = density_grid(polygons, spec.value_field, spec.cell_size, spec.crs)
    total = float(pd.to_numeric(polygons[spec.value_field], errors="coerce").sum())
    artifact = store.staging(".tif")
    try:
        step("writing COG")
        write_grid_cog(grid, transform, spec.crs, artifact)
        height, width = grid.shape
        bounds = (transform.c, transform.f + height * transform.e, transform.c + width * transform.a, transform.f)
        notes = [
            f"input: {spec.input_layer} v{source.version} sha256:{source.checksum} field {spec.value_field}",
            f"method: {spec.method}: each polygon's {spec.value_field} spread evenly over its area; "
            f"{spec.cell_size:g} m cells in {spec.crs}; each cell = mean density of {SUPERSAMPLE}x{SUPERSAMPLE} "
            f"sub-cells (polygon holding the sub-cell centre, 0 outside all polygons); people per km²; "
            f"cells outside every polygon are nodata",
            f"check: grid represents {represented:,.0f} of {total:,.0f} ({represented / total:.2%}) "
            f"(difference from sub-cell discretisation)" if total else "check: input total is 0",
        ]
        return store.publish_raster(record, RasterVersion(
            cog=artifact, native_crs=spec.crs, bbox=tuple(transform_bounds(spec.crs, CRS84, *bounds, densify_pts=21)),
            fields={"band_1": "number"}, notes=notes, content_hash=digest,
        ))
    finally:
        artifact.unlink(missing_ok=True)


def publish_layer(
    record: LayerRecord,
    report: LayerReport,
    store: Store,
    settings: Settings,
    step: Step | None = None,
) -> PublishedLayer:
    """Publish one validated layer as its next version; nothing is written unless ``report.ok``.

    A layer whose record and source content are unchanged since its latest version gets no new
    version: that version is returned (and served again if it was withdrawn).

    Vectors are repaired (:func:`geosvc.validate.repair.repair_geometries`), features outside the
    state dropped when ``record.outside_state_extent == "drop"``, reprojected to CRS84 and written as a GeoPackage; rasters become COGs;
    derived rasters are computed from the latest published version of their input layer.

    Raises
    ------
    ValidationFailed
        ``report`` has error findings, or nothing is left to publish.
    StoreError
        The store could not record the version (the previous version stays the latest).
    """
    if not report.ok:
        codes = sorted({f.code for f in report.findings if f.severity == "error"})
        raise ValidationFailed(f"validation failed ({', '.join(codes)}); not published", layer=record.id)
    step = step or (lambda _message: None)
    if record.derived is not None:
        return _publish_derived(record, store, settings, step)
    if record.kind == "raster":
        return _publish_raster(record, report, store, settings, step)
    return _publish_vector(record, report, store, settings, step)

