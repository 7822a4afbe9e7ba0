"""Validate a layer: read its source, run every rule, assemble the :class:`LayerReport`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from geosvc.errors import SourceError
from geosvc.records.models import LayerRecord
from geosvc.settings import Settings
from geosvc.sources import ReadStats, raster_path, read_vector
from geosvc.sources.location import locate
from geosvc.validate.codes import CODES, make_finding
from geosvc.validate.coords import check_coordinates
from geosvc.validate.crs import check_crs
from geosvc.validate.fields import check_fields
from geosvc.validate.findings import Finding, LayerReport
from geosvc.validate.freshness import check_freshness, is_stale
from geosvc.validate.geometry import check_geometry
from geosvc.validate.ids import check_ids
from geosvc.validate.join import check_join
from geosvc.validate.metadata import check_metadata, completeness
from geosvc.validate.records import check_dimensions, check_published_inputs, location_features, location_findings
from geosvc.validate.shapefile import check_shapefile

if TYPE_CHECKING:
    import geopandas as gpd

    from geosvc.store.base import Store


def _source_finding(exc: SourceError, layer: str) -> Finding:
    if exc.code in CODES:
        return make_finding(layer, exc.code, exc.message, severity="error")
    return Finding(layer, exc.code, "error", exc.message)


def _point_findings(stats: ReadStats, record: LayerRecord) -> list[Finding]:
    """CSV rows the reader could not turn into points (errors when no row could)."""
    points = stats.points
    if points is None:
        return []
    none_left = points.blank + points.unparsable >= stats.rows
    cases = (
        ("geometry.null", points.blank, points.blank_examples, "have no coordinates"),
        ("coords.unparsable", points.unparsable, points.unparsable_examples, "have x/y that are not numbers"),
    )
    return [
        make_finding(
            record.id, code, f"{count} of {stats.rows} CSV rows {what}; they are not published",
            count=count, examples=examples, severity="error" if none_left else None,
        )
        for code, count, examples, what in cases
        if count
    ]


def _record_level_inputs(
    record: LayerRecord, store: Store | None, report: LayerReport
) -> tuple[bool, gpd.GeoDataFrame | None]:
    """Check a record-level layer's published inputs; (whether its source can be read, the location features)."""
    if store is None:
        report.findings.append(make_finding(
            record.id, "records.no_store", "record-level checks need the published layers; validate with a store"
        ))
        return record.record_level.location is None, None
    layers = {layer.id: layer for layer in store.published()}
    report.findings += check_published_inputs(record, layers)
    if record.record_level.location is None:
        return True, None
    features, findings = location_features(record, layers, store)
    report.findings += findings
    return features is not None, features


def _validate_vector(record: LayerRecord, settings: Settings, report: LayerReport, store: Store | None) -> None:
    located_by = None
    if record.record_level is not None:
        readable, located_by = _record_level_inputs(record, store, report)
        if not readable:
            return
    try:
        result = read_vector(record, settings, located_by)
    except SourceError as exc:
        report.findings.append(_source_finding(exc, record.id))
        return
    frame, stats = result.data, result.stats
    report.data = frame
    loc = locate(record, settings) if record.source and record.source.path else None
    local = loc.local if loc is not None else None
    findings = report.findings
    if loc is not None:
        findings += check_shapefile(loc, record.id)
    findings += check_crs(record, frame.crs, settings.crs.allowed, crs_source=stats.crs_source, local_path=local)
    findings += _point_findings(stats, record)
    if stats.location is not None:
        findings += location_findings(stats.location, record, stats.rows)
    findings += check_geometry(frame, record)
    if frame.crs is not None:
        findings += check_coordinates(
            frame, frame.crs, record, settings.crs.allowed, tuple(settings.state.bbox), settings.state.name
        )
    findings += check_ids(frame, record)
    if stats.join is not None:
        try:
            findings += check_join(stats.join, record, settings)
        except SourceError as exc:
            findings.append(_source_finding(exc, record.id))
    findings += check_fields(frame, record)
    if record.record_level is not None:
        findings += check_dimensions(frame, record)


def _validate_raster(record: LayerRecord, settings: Settings, report: LayerReport) -> None:
    from geosvc.validate.raster import check_raster  # rasterio is only needed for raster layers

    if record.derived is not None:
        report.findings.append(
            make_finding(
                record.id, "raster.derived",
                f"derived at publish by {record.derived.method} from layer '{record.derived.input_layer}'",
            )
        )
        return
    try:
        path = raster_path(record, settings)
        report.findings += check_raster(path, record, settings)
    except SourceError as exc:
        report.findings.append(_source_finding(exc, record.id))
        return
    report.raster_path = path


def validate_layer(
    record: LayerRecord, settings: Settings, today: dt.date | None = None, store: Store | None = None
) -> LayerReport:
    """Read ``record``'s source and run every rule.

    Parameters
    ----------
    record
        The layer record.
    settings
        Supplies ``data.root``, ``crs.allowed``, ``state.bbox`` and ``state.name``.
    today
        The date freshness is judged against (default: today).
    store
        Where the published layers a record-level layer refers to are read (its location layer,
        geographies and denominators); without one such a layer gets a ``records.no_store`` error.

    Returns
    -------
    LayerReport
        Findings (source errors become findings, never exceptions), ``completeness``, ``stale``;
        ``data`` holds the features as read (native CRS) when the source could be read, and
        ``raster_path`` the GDAL path of a raster source.
    """
    report = LayerReport(layer=record.id, completeness=completeness(record), stale=is_stale(record, today))
    report.findings += check_metadata(record) + check_freshness(record, today)
    if record.kind == "raster":
        _validate_raster(record, settings, report)
    else:
        _validate_vector(record, settings, report, store)
    return report


def validate_layers(
    records: Iterable[LayerRecord], settings: Settings, today: dt.date | None = None, store: Store | None = None
) -> list[LayerReport]:
    """:func:`validate_layer` for each record, in the given order."""
    return [validate_layer(record, settings, today, store) for record in records]
