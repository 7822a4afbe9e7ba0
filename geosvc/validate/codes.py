"""Every validation finding code, as data: default severity, meaning and what publish does about it.

The CLI and README list this table (``CODES``); rules build findings through :func:`make_finding`,
which refuses codes that are not documented here.

Severities: ``error`` blocks publish (``geosvc validate`` exits 1); ``warning`` is published with the
stated handling and should be fixed at the source; ``info`` is a note. A few codes change severity
with the case (e.g. ``coords.outside_state`` is info when the record drops or keeps features outside
the state); the ``severity`` column is the default and ``meaning`` says when it differs.

A warning never publishes data that is wrong: such cases are errors, or are repaired at publish by
:func:`geosvc.validate.repair.repair_geometries`, whose notes (recorded with the version) say what was done.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from geosvc.validate.findings import Finding, Severity

MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Code:
    """One documented finding code."""

    code: str
    severity: Severity
    meaning: str
    publish: str


_TABLE = (
    # --- reading the source (raised by geosvc.sources as SourceError(code=...))
    Code("source.missing", "error", "The source file (or record source) does not exist.", "Refused."),
    Code("source.unreadable", "error", "The source exists but cannot be read (permissions, a folder, unparsable table).", "Refused."),
    Code("source.corrupt", "error", "The file is truncated or not what its name says (e.g. garbage bytes named .gpkg, a broken zip).", "Refused."),
    Code("source.empty", "error", "The file is 0 bytes or holds no features.", "Refused."),
    Code("source.unknown_format", "error", "GDAL has no driver for the file's format.", "Refused."),
    Code("source.zip_layer_missing", "error", "The zip does not contain the layer named in source.layer (or holds several and none is named).", "Refused."),
    Code("source.layer_missing", "error", "A multi-layer source does not contain the named layer (or none is named).", "Refused."),
    Code("source.no_geometry", "error", "The source has no geometry column (a CSV needs source.csv x/y).", "Refused."),
    Code("source.csv_columns_missing", "error", "The CSV lacks the x/y columns named in source.csv.", "Refused."),
    Code("source.encoding", "error", "Attribute text does not decode in the encoding the file declares (.cpg, else UTF-8) or source.encoding, or is UTF-8 decoded as cp1252/latin-1 (mojibake such as 'MontrÃ©al'); the message names the field, an example feature and the encoding that reads it right.", "Refused: set source.encoding to the file's real encoding (or fix the .cpg)."),
    Code("source.dbf_missing", "error", "A shapefile without its .dbf: the features would have geometry and no attributes.", "Refused: supply the .dbf."),
    Code("source.remote", "error", "The source is an OGC API / WFS / ArcGIS / Socrata service: only `geosvc sync` fetches it.", "Refused (sync publishes it)."),
    # --- CRS
    Code("crs.missing", "error", "Neither the file, source.assume_crs nor the record declares a CRS.", "Refused."),
    Code("crs.unknown", "error", "A CRS (file .prj/WKT, record crs or assume_crs) that PROJ cannot parse or identify.", "Refused."),
    Code("crs.not_allowed", "error", "The CRS is not (semantically) one of settings.crs.allowed.", "Refused."),
    Code("crs.mismatch", "error", "The record's declared crs differs from the file's own CRS.", "Refused."),
    Code("crs.assumed", "info", "The file declares no CRS; the record's assume_crs/crs is used.", "Published in the assumed CRS."),
    # --- coordinates against the declared CRS and the state's extent
    Code("coords.swapped_axes", "error", "Coordinates fit the state only with x and y swapped (lat/lon stored as lon/lat).", "Refused: fix the source or the csv x/y options."),
    Code("coords.projected_as_geographic", "error", "Coordinates (of features, or a raster's grid) are metres/feet but the CRS is geographic (degrees); the message names a CRS that fits.", "Refused: declare the right CRS."),
    Code("coords.wrong_crs", "error", "Coordinates do not fall in the state in the declared CRS but do in another (wrong State Plane zone, datum or units); the message names it.", "Refused: declare the right CRS."),
    Code("coords.outside_state", "error", "Features (or a raster) whose extent does not touch the state's bounding box (e.g. displaced, or a national layer). Info when the record says outside_state_extent: drop or keep (a raster can only be kept).", "Refused (error); with outside_state_extent: drop the features are dropped and the publish notes say how many; with keep they are published."),
    Code("coords.unparsable", "warning", "CSV rows whose x/y is not a number.", "Rows dropped at read; count in the report."),
    # --- geometry
    Code("geometry.invalid", "warning", "Invalid geometries (self-intersections, bowties...). Error when every feature collapses to nothing when repaired.", "Repaired with make_valid (features that collapse to nothing are dropped); recorded in the publish notes."),
    Code("geometry.empty", "warning", "Empty geometries. Error when every feature is empty or null.", "Dropped; recorded in the publish notes."),
    Code("geometry.null", "warning", "Features without geometry (for CSVs: rows without coordinates). Error when every feature is null or empty.", "Dropped; recorded in the publish notes."),
    Code("geometry.mixed_types", "error", "More than one geometry family (points, lines, polygons) in one layer.", "Refused: split the layer."),
    Code("geometry.unexpected_type", "error", "Geometry family differs from record.geometry_type (the Multi- variant is accepted).", "Refused."),
    Code("geometry.has_z", "warning", "Geometries with Z (3D) coordinates; the service is 2D.", "Z dropped (x/y unchanged); recorded in the publish notes."),
    Code("geometry.duplicate_vertices", "warning", "Geometries with the same vertex repeated consecutively.", "Repeats removed (the shape is unchanged); recorded in the publish notes."),
    Code("geometry.sliver", "warning", "Sliver polygons (or polygon parts): thinness 4*pi*area/perimeter^2 below SLIVER_THINNESS and area below SLIVER_AREA_SHARE of the layer's median, e.g. gaps/overlaps digitised as features.", "Published unchanged (a sliver may be real); the count and examples are recorded in the publish notes."),
    # --- identifiers
    Code("id.field_missing", "error", "record.id_field is not a field of the data.", "Refused."),
    Code("id.missing", "error", "Features whose id is null or blank.", "Refused: OGC items need an id."),
    Code("id.duplicate", "error", "Id values used by more than one feature.", "Refused: OGC items need unique ids."),
    Code("id.undeclared", "info", "The record names no id_field.", "Published with row numbers as ids."),
    # --- attribute join
    Code("join.missing", "error", "The join table does not exist.", "Refused."),
    Code("join.key_missing", "error", "A join key (or a listed join field) is not a column.", "Refused."),
    Code("join.unmatched_left", "warning", "Features whose key has no row in the table (some features match).", "Published with empty joined fields."),
    Code("join.no_match", "error", "No feature's key matches a table key: the join would only add empty fields.", "Refused."),
    Code("join.leading_zeros", "error", "Unmatched keys match once leading zeros are ignored: one side lost them (e.g. ids read as numbers by a spreadsheet).", "Refused: restore the zeros (keep keys as text)."),
    Code("join.unmatched_right", "warning", "Table keys that match no feature.", "Those rows are not published."),
    Code("join.duplicate_key", "error", "Keys appearing more than once in the table with conflicting values. Warning when every extra row is a subset of the kept one (e.g. a placeholder row of 'na'), since dropping it loses nothing.", "Refused (error); warning: the fullest row of each key is kept."),
    # --- metadata and fields the record refers to
    Code("metadata.missing", "warning", "Required metadata fields (REQUIRED_METADATA) that are empty; the completeness score is reported.", "Published; counted by 'geosvc report'."),
    Code("metadata.no_license", "warning", "No licence: users cannot tell how they may reuse the layer.", "Published; counted by 'geosvc report'."),
    Code("metadata.no_contact", "warning", "No contact: nobody to report problems to.", "Published; counted by 'geosvc report'."),
    Code("equity.field_missing", "error", "A field named in record.equity (total, group, MOE) is not in the data.", "Refused."),
    Code("equity.field_not_numeric", "error", "A field named in record.equity holds text, not numbers.", "Refused: fix the source or the join's na_values."),
    Code("equity.percent_out_of_range", "error", "A percentage group field has values below 0 or above 100 (e.g. a sentinel such as -666666666 not declared missing).", "Refused: equity results would be wrong; declare sentinels in join.na_values or fix the source."),
    Code("metadata.disaggregation_field_missing", "error", "A field named in record.disaggregation is not in the data.", "Refused."),
    Code("time.field_missing", "error", "record.time_field is not a field of the data.", "Refused."),
    Code("time.unparsable", "warning", "Values of record.time_field that are not ISO 8601 dates/times.", "Published; those features never match a datetime filter."),
    # --- record-level layers (record_level: one row per person or event)
    Code("records.dimension_field_missing", "error", "A field named by record_level.dimensions is not in the data.", "Refused."),
    Code("records.undeclared_category", "error", "Values of a dimension field that are not declared categories; the message gives the count and at most 5 distinct values.", "Refused: recode them to declared categories (or declare the category)."),
    Code("records.category_missing", "error", "Records whose dimension value is empty.", "Refused: recode them to a declared category such as 'unknown'; nothing is dropped silently."),
    Code("records.location_field_missing", "error", "record_level.location.field is not a column of the table.", "Refused."),
    Code("records.location_layer_invalid", "error", "The layer record_level.location refers to is not a published vector layer, lacks the key field, or its key is not unique.", "Refused: publish that layer first (or fix location.layer/key)."),
    Code("records.location_unmatched", "error", "Records whose geographic id is blank or matches no feature of the referenced layer (count and up to 5 ids).", "Refused: nothing is dropped silently; fix the ids (e.g. lost leading zeros)."),
    Code("records.located", "info", "Records placed at the representative point (point_on_surface) of their feature of the referenced layer.", "Published as points."),
    Code("records.geography_invalid", "error", "A record_level.geographies layer or the denominators layer is not a published vector layer with an id_field, the denominators layer has no equity block, or a mapped group id is not one of its groups.", "Refused: publish/fix that layer or the record."),
    Code("records.no_store", "error", "Record-level checks need the published layers, and validation was run without a store.", "Refused (geosvc validate / publish give the store)."),
    # --- freshness
    Code("freshness.stale", "warning", "last_updated + update_cadence is before today.", "Published; flagged stale in the catalog and report."),
    Code("freshness.unknown", "warning", "No last_updated, so freshness cannot be judged.", "Published; counted by 'geosvc report'."),
    Code("freshness.future", "error", "last_updated is after today: the layer would look fresh when it is not.", "Refused: give the real date."),
    # --- rasters
    Code("raster.no_crs", "error", "The raster has no CRS.", "Refused."),
    Code("raster.crs_no_epsg", "error", "The raster's CRS has no EPSG code (a custom or ESRI definition): clients and the coverage service would take its coordinates as lon/lat.", "Refused: tag the file with its EPSG code (e.g. gdal_edit.py -a_srs EPSG:5070)."),
    Code("raster.no_nodata", "warning", "No nodata value: fill cells are indistinguishable from data.", "Published as is (COG keeps no nodata)."),
    Code("raster.no_overviews", "warning", "No overviews: zoomed-out reads are slow.", "Overviews built while converting to COG."),
    Code("raster.not_cog", "warning", "Not tiled / not a Cloud Optimized GeoTIFF.", "Converted to COG."),
    Code("raster.derived", "info", "Derived at publish time from another layer; nothing to read yet.", "Derived, then converted to COG."),
)

CODES: dict[str, Code] = {c.code: c for c in _TABLE}
"""All finding codes, keyed by code."""


def make_finding(
    layer: str,
    code: str,
    message: str,
    *,
    count: int = 1,
    examples: Iterable[object] = (),
    severity: Severity | None = None,
) -> Finding:
    """Build a :class:`Finding` for a documented ``code`` (default severity from :data:`CODES`).

    Examples
    --------
    >>> make_finding("towns", "crs.missing", "no CRS").severity
    'error'
    """
    if code not in CODES:
        raise KeyError(f"undocumented finding code '{code}'")
    shown = tuple(str(e) for e in list(examples)[:MAX_EXAMPLES])
    return Finding(layer, code, severity or CODES[code].severity, message, int(count), shown)
