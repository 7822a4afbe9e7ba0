"""An equity answer (protected tables + method + provenance) and its JSON, GeoJSON and CSV encodings.

Every encoding is made from the same protected :class:`Report`, so disclosure control applied
once holds in every format; :func:`check_disclosure` is a last guard run before encoding.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd

from geosvc import __version__
from geosvc.errors import GeosvcError, InvalidParameter

FORMATS = {"json": "application/json", "geojson": "application/geo+json", "csv": "text/csv; charset=utf-8"}


class DisclosureError(GeosvcError):
    """A count below the threshold reached the encoder: refuse rather than publish it."""

    http_status = 500


@dataclass
class Report:
    """One protected answer.

    Attributes
    ----------
    operation : str
        ``exposure``, ``access``, ``disparity`` or ``svi``.
    rows : DataFrame
        Long table (one row per place × group, or per unit), already protected.
    count_columns : list of str
        Columns of ``rows`` holding counts (checked by :func:`check_disclosure`).
    k : int or None
        Threshold in force (``None`` when the answer holds no counts of people).
    places : DataFrame, optional
        Per-place values (index = place id), e.g. the weighted Index of Disparity.
    geometries : Series of str, optional
        CRS84 place geometries as GeoJSON text, index = place id (for GeoJSON).
    descriptors : list of str
        Columns of ``rows`` that spell out the ``group`` (e.g. each dimension's category); left out of
        the one-row-per-place GeoJSON, whose columns are ``<group>_<metric>``.
    summary : dict
        Whole-answer values (e.g. disparity indices).
    method, protections, parameters : dict
        What was computed and how, what disclosure control did, the request echoed.
    layers : list of dict
        Published inputs: id, version, checksum.
    """

    operation: str
    rows: pd.DataFrame
    count_columns: list[str]
    k: int | None
    method: dict
    protections: dict
    parameters: dict
    layers: list[dict] = field(default_factory=list)
    places: pd.DataFrame | None = None
    geometries: pd.Series | None = None
    summary: dict = field(default_factory=dict)
    crs: dict = field(default_factory=dict)
    descriptors: list[str] = field(default_factory=list)
    _memo: dict = field(default_factory=dict, repr=False, compare=False)

    def records(self) -> tuple[list[dict], list[dict] | None]:
        """Rows and per-place values as JSON-ready dicts (computed once)."""
        if "records" not in self._memo:
            places = _records(self.places.reset_index()) if self.places is not None else None
            self._memo["records"] = (_records(self.rows), places)
        return self._memo["records"]

    def provenance(self) -> dict:
        """Inputs, CRS, parameters, software version and a timestamp-free hash of the result."""
        if "provenance" in self._memo:
            return self._memo["provenance"]
        digest = hashlib.sha256(orjson.dumps(
            {"summary": self.summary, "parameters": self.parameters, "layers": self.layers},
            option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
        ))
        for frame in (self.rows, self.places.reset_index() if self.places is not None else None):
            for name in [] if frame is None else frame.columns:
                digest.update(str(name).encode())
                digest.update(_column_bytes(frame[name]))
        digest = digest.hexdigest()
        self._memo["provenance"] = {
            "layers": self.layers,
            "crs": self.crs,
            "parameters": self.parameters,
            "software": {"geosvc": __version__},
            "result_hash": f"sha256:{digest}",
        }
        return self._memo["provenance"]


def _column(values: pd.Series) -> list:
    out = values.tolist()
    if isinstance(values.dtype, pd.api.extensions.ExtensionDtype) and values.hasnans:
        out = [None if v is pd.NA else v for v in out]
    elif not (pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype)):
        out = [None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v for v in out]
    return out


def _column_bytes(values: pd.Series) -> bytes:
    """A column's values as bytes (numbers as float64, the rest as JSON) for the result hash."""
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        return np.nan_to_num(numbers, nan=0.0).tobytes() + np.isnan(numbers).tobytes()
    return orjson.dumps(_column(values))


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts (missing values become ``None``; float NaN is encoded as null by orjson)."""
    names = [str(c) for c in frame.columns]
    columns = [_column(frame[c]) for c in frame.columns]
    return [dict(zip(names, row)) for row in zip(*columns)]


def check_disclosure(report: Report) -> None:
    """Raise :class:`DisclosureError` if any published count lies strictly between 0 and k."""
    if report.k is None:
        return
    for column in report.count_columns:
        values = pd.to_numeric(report.rows[column], errors="coerce").to_numpy(float, na_value=np.nan)
        leak = (values > 0) & (values < report.k)
        if leak.any():
            raise DisclosureError(f"refusing to publish {int(leak.sum())} count(s) below k in '{column}'")


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def to_json(report: Report) -> dict:
    """The JSON answer: results, per-place values, summary, method, protections, provenance."""
    check_disclosure(report)
    rows, places = report.records()
    answer = {"operation": report.operation, "results": rows}
    if places is not None:
        answer["places"] = places
    if report.summary:
        answer["summary"] = report.summary
    answer |= {"method": report.method, "protections": report.protections, "provenance": report.provenance()}
    return answer


def _flags_as_numbers(column: pd.Series) -> pd.Series:
    """True/False (possibly with None) as 1/0 (NaN): OGR reads such columns reliably as numbers."""
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.astype("int8")
    if column.dtype == object and column.map(lambda v: isinstance(v, (bool, np.bool_)) or v is None).all() \
            and column.notna().any():
        return column.map({True: 1, False: 0})
    return column


def _wide(report: Report, key: str) -> pd.DataFrame:
    """One row per place: ``<group>_<metric>`` columns (flat, for GIS clients)."""
    rows = report.rows
    metrics = [c for c in rows.columns if c not in {key, "place_name", "group", "group_label", *report.descriptors}]
    indexed = rows.set_index([key, "group"])[metrics].apply(_flags_as_numbers)
    numeric = [m for m in metrics if pd.api.types.is_numeric_dtype(indexed[m].dtype)]
    other = [m for m in metrics if m not in numeric]
    parts = [indexed[block].unstack("group") for block in (numeric, other) if block]
    wide = pd.concat(parts, axis=1) if len(parts) > 1 else parts[0]
    wide.columns = [f"{group}_{metric}" for metric, group in wide.columns]
    wide = wide[[f"{g}_{m}" for g in dict.fromkeys(rows["group"]) for m in metrics]]
    if "place_name" in rows:
        wide.insert(0, "place_name", rows.groupby(key, sort=False)["place_name"].first())
    if report.places is not None:
        wide = wide.join(report.places)
    return wide


def to_geojson(report: Report, key: str = "place_id") -> dict:
    """FeatureCollection in CRS84, one feature per place with flat properties (loads in QGIS/GDAL).

    ``report.geometries`` holds each place's geometry as GeoJSON text (encoded once per layer version).
    """
    check_disclosure(report)
    if report.geometries is None:
        raise InvalidParameter(f"the {report.operation} answer has no place geometries; use json or csv", param="f")
    places = report.geometries.index.intersection(pd.Index(report.rows[key].unique()))
    wide = _wide(report, key).reindex(places)
    wide.index.name = key
    features = [
        {"type": "Feature", "id": str(props[key]), "properties": props, "geometry": orjson.Fragment(geometry)}
        for props, geometry in zip(_records(wide.reset_index()), report.geometries.reindex(places).array)
    ]
    return {
        "type": "FeatureCollection",
        "name": f"equity_{report.operation}",
        "features": features,
        "method": report.method,
        "protections": report.protections,
        "provenance": report.provenance(),
    }


def to_csv(report: Report) -> str:
    """The long result table as CSV (withheld values are empty cells, their reason in ``*_suppressed``)."""
    check_disclosure(report)
    buffer = io.StringIO()
    report.rows.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def compressed(report: Report, fmt: str) -> bytes:
    """The gzip-compressed encoding (computed once per answer, for clients that accept gzip)."""
    key = f"gzip:{fmt}"
    if key not in report._memo:
        report._memo[key] = gzip.compress(encode(report, fmt)[0], compresslevel=1, mtime=0)
    return report._memo[key]


def encode(report: Report, fmt: str) -> tuple[bytes, str]:
    """Encode ``report`` as ``json``, ``geojson`` or ``csv`` (once per answer); return bytes and media type."""
    key = f"body:{fmt}"
    if key not in report._memo:
        if fmt == "csv":
            body = to_csv(report).encode("utf-8")
        elif fmt == "geojson":
            body = _dumps(to_geojson(report))
        elif fmt == "json":
            body = _dumps(to_json(report))
        else:
            raise InvalidParameter(f"unknown format '{fmt}' (use one of {', '.join(FORMATS)})", param="f")
        report._memo[key] = body
    return report._memo[key], FORMATS[fmt]
