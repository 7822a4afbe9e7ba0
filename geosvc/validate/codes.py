"""Every validation finding code, as data: default severity, meaning and what publish does about it.

The CLI and README list this table (``CODES``); rules build findings through :func:`make_finding`,
which refuses codes that are not documented here.

Severities: ``error`` blocks publish (``geosvc validate`` exits 1); ``warning`` is published with the
stated handling and should be fixed at the source; ``info`` is a note. A few codes change severity
with the case (e.g. ``coords.outside_state`` is info when the record clips to the state); the
``severity`` column is the default and ``meaning`` says when it differs.
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
    Code("source.remote", "error", "The source is an OGC API / WFS / ArcGIS / Socrata service: only `geosvc sync` fetches it.", "Refused (sync publishes it)."),
    # --- CRS
    Code("crs.missing", "error", "Neither the file, source.assume_crs nor the record declares a CRS.", "Refused."),
    Code("crs.unknown", "error", "A CRS (file .prj/WKT, record crs or assume_crs) that PROJ cannot parse or identify.", "Refused."),
    Code("crs.not_allowed", "error", "The CRS is not (semantically) one of settings.allowed_crs.", "Refused."),
    Code("crs.mismatch", "error", "The record's declared crs differs from the file's own CRS.", "Refused."),
    Code("crs.assumed", "info", "The file declares no CRS; the record's assume_crs/crs is used.", "Published in the assumed CRS."),
    # --- coordinates against the declared CRS and the state's extent
    Code("coords.swapped_axes", "error", "Coordinates fit the state only with x and y swapped (lat/lon stored as lon/lat).", "Refused: fix the source or the csv x/y options."),
    Code("coords.projected_as_geographic", "error", "Coordinates are metres/feet but the CRS is geographic (degrees); the message names a CRS that fits.", "Refused: declare the right CRS."),
    Code("coords.wrong_crs", "error", "Coordinates do not fall in the state in the declared CRS but do in another (wrong State Plane zone, datum or units); the message names it.", "Refused: declare the right CRS."),
    Code("coords.outside_state", "warning", "Features whose extent does not touch the state's bounding box. Info when the record clips to the state; error when no feature is in the state and no candidate CRS fits.", "Kept (warning) or clipped away (info, clip_to_state)."),
    Code("coords.unparsable", "warning", "CSV rows whose x/y is not a number.", "Rows dropped at read; count in the report."),
    # --- geometry
    Code("geometry.invalid", "warning", "Invalid geometries (self-intersections, bowties...).", "Repaired with make_valid; the repair is recorded in the publish notes."),
    Code("geometry.empty", "warning", "Empty geometries. Error when every feature is empty or null.", "Dropped; recorded in the publish notes."),
    Code("geometry.null", "warning", "Features without geometry (for CSVs: rows without coordinates). Error when every feature is null or empty.", "Dropped; recorded in the publish notes."),
    Code("geometry.mixed_types", "error", "More than one geometry family (points, lines, polygons) in one layer.", "Refused: split the layer."),
    Code("geometry.unexpected_type", "error", "Geometry family differs from record.geometry_type (the Multi- variant is accepted).", "Refused."),
    # --- identifiers
    Code("id.field_missing", "error", "record.id_field is not a field of the data.", "Refused."),
    Code("id.missing", "error", "Features whose id is null or blank.", "Refused: OGC items need an id."),
    Code("id.duplicate", "error", "Id values used by more than one feature.", "Refused: OGC items need unique ids."),
    Code("id.undeclared", "info", "The record names no id_field.", "Published with row numbers as ids."),
    # --- attribute join
    Code("join.missing", "error", "The join table does not exist.", "Refused."),
    Code("join.key_missing", "error", "A join key (or a listed join field) is not a column.", "Refused."),
    Code("join.unmatched_left", "warning", "Features whose key has no row in the table.", "Published with empty joined fields."),
    Code("join.unmatched_right", "warning", "Table keys that match no feature.", "Those rows are not published."),
    Code("join.duplicate_key", "error", "Keys appearing more than once in the table with conflicting values. Warning when every extra row is a subset of the kept one (e.g. a placeholder row of 'na'), since dropping it loses nothing.", "Refused (error); warning: the fullest row of each key is kept."),
    # --- metadata and fields the record refers to
    Code("metadata.missing", "warning", "Required metadata fields (REQUIRED_METADATA) that are empty; the completeness score is reported.", "Published; counted by 'geosvc report'."),
    Code("metadata.no_license", "warning", "No licence: users cannot tell how they may reuse the layer.", "Published; counted by 'geosvc report'."),
    Code("metadata.no_contact", "warning", "No contact: nobody to report problems to.", "Published; counted by 'geosvc report'."),
    Code("equity.field_missing", "error", "A field named in record.equity (total, group, MOE) is not in the data.", "Refused."),
    Code("equity.field_not_numeric", "error", "A field named in record.equity holds text, not numbers.", "Refused: fix the source or the join's na_values."),
    Code("equity.percent_out_of_range", "warning", "A percentage group field has values below 0 or above 100.", "Published as is; equity results for those features are suspect."),
    Code("time.field_missing", "error", "record.time_field is not a field of the data.", "Refused."),
    Code("time.unparsable", "warning", "Values of record.time_field that are not ISO 8601 dates/times.", "Published; those features never match a datetime filter."),
    # --- freshness
    Code("freshness.stale", "warning", "last_updated + update_cadence is before today.", "Published; flagged stale in the catalog and report."),
    Code("freshness.unknown", "warning", "No last_updated, so freshness cannot be judged.", "Published; counted by 'geosvc report'."),
    # --- rasters
    Code("raster.no_crs", "error", "The raster has no CRS.", "Refused."),
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


def codes_markdown() -> str:
    """The code table as Markdown (for the README and ``geosvc validate --codes``-style listings).

    >>> codes_markdown().splitlines()[0]
    '| code | severity | meaning | publish |'
    """
    rows = ["| code | severity | meaning | publish |", "|---|---|---|---|"]
    rows += [f"| `{c.code}` | {c.severity} | {c.meaning} | {c.publish} |" for c in _TABLE]
    return "\n".join(rows)
