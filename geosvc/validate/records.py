"""Record-level rules: declared categories only, ids that match a published layer, published geographies.

The published layers come from the store the caller passes (validation never opens one itself).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from geosvc.records.models import LayerRecord
from geosvc.sources.records import LocationStats
from geosvc.sources.table import as_text
from geosvc.validate.codes import MAX_EXAMPLES, make_finding
from geosvc.validate.findings import Finding

if TYPE_CHECKING:
    import geopandas as gpd

    from geosvc.store.base import PublishedLayer, Store


def _published_vector(layers: dict[str, PublishedLayer], layer_id: str, role: str, record: LayerRecord,
                      code: str) -> tuple[PublishedLayer | None, list[Finding]]:
    layer = layers.get(layer_id)
    if layer is None:
        why = "is not published (or is withdrawn)"
    elif layer.kind != "vector":
        why = f"is a {layer.kind} layer, not a vector layer"
    else:
        return layer, []
    return None, [make_finding(record.id, code, f"{role} '{layer_id}' {why}; publish it first")]


def check_published_inputs(record: LayerRecord, layers: dict[str, PublishedLayer]) -> list[Finding]:
    """The geographies and the denominators layer are published vector layers with an ``id_field``;
    the denominators layer has an ``equity`` block holding every mapped group."""
    block = record.record_level
    findings: list[Finding] = []
    roles = [(g, "record_level.geographies layer") for g in block.geographies]
    if block.denominators is not None:
        roles.append((block.denominators.layer, "record_level.denominators.layer"))
    for layer_id, role in roles:
        layer, problems = _published_vector(layers, layer_id, role, record, "records.geography_invalid")
        findings += problems
        if layer is not None and not layer.record.id_field:
            findings.append(make_finding(record.id, "records.geography_invalid",
                                         f"{role} '{layer_id}' has no id_field, so its features cannot be named"))
    denominators = block.denominators
    layer = layers.get(denominators.layer) if denominators is not None else None
    if layer is None or layer.kind != "vector":
        return findings
    if layer.record.equity is None:
        return [*findings, make_finding(record.id, "records.geography_invalid",
                                        f"record_level.denominators.layer '{layer.id}' has no equity block")]
    groups = {g.id for g in layer.record.equity.groups}
    unknown = sorted({g for mapping in denominators.categories.values() for g in mapping.values()} - groups)
    if unknown:
        findings.append(make_finding(
            record.id, "records.geography_invalid",
            f"record_level.denominators.categories name groups {', '.join(unknown)} that layer '{layer.id}' "
            f"does not carry (its groups: {', '.join(sorted(groups))})",
        ))
    return findings


def location_features(
    record: LayerRecord, layers: dict[str, PublishedLayer], store: Store
) -> tuple[gpd.GeoDataFrame | None, list[Finding]]:
    """The published features ``record_level.location`` refers to (key and geometry, CRS84), or findings why not."""
    location = record.record_level.location
    layer, findings = _published_vector(layers, location.layer, "record_level.location.layer", record,
                                        "records.location_layer_invalid")
    if layer is None:
        return None, findings
    if location.key not in layer.fields:
        return None, [make_finding(record.id, "records.location_layer_invalid",
                                   f"layer '{layer.id}' has no field '{location.key}' (record_level.location.key)")]
    features = store.read_features(layer, columns=[location.key])
    keys = as_text(features[location.key])
    repeated = keys[keys.duplicated()].drop_duplicates()
    if len(repeated):
        return None, [make_finding(
            record.id, "records.location_layer_invalid",
            f"{len(repeated)} values of '{location.key}' in layer '{layer.id}' name more than one feature",
            count=len(repeated), examples=repeated,
        )]
    return features, []


def location_findings(stats: LocationStats, record: LayerRecord, rows: int) -> list[Finding]:
    """Unmatched or blank ids (an error: nothing is dropped silently), else where the records were placed."""
    findings = []
    if stats.blank:
        findings.append(make_finding(
            record.id, "records.location_unmatched",
            f"{stats.blank} of {rows} records have no '{stats.field}' id", count=stats.blank,
        ))
    if stats.unmatched:
        findings.append(make_finding(
            record.id, "records.location_unmatched",
            f"{stats.unmatched} of {rows} records have a '{stats.field}' that is no '{stats.key}' of layer "
            f"'{stats.layer}'" + (
                f"; {stats.zeros_lost} of them match once leading zeros are ignored (keep ids as text)"
                if stats.zeros_lost else ""
            ), count=stats.unmatched, examples=stats.unmatched_examples,
        ))
    if not findings:
        findings.append(make_finding(
            record.id, "records.located",
            f"{stats.matched} records placed at the representative point (point_on_surface, CRS84) of the "
            f"'{stats.layer}' feature whose {stats.key} is their {stats.field}",
            count=stats.matched,
        ))
    return findings


def _as_category(values: pd.Series) -> pd.Series:
    """Values as text for comparing with category ids: numbers lose a '.0', text is kept exactly."""
    return as_text(values) if pd.api.types.is_numeric_dtype(values) else values.astype("string")


def check_dimensions(frame: pd.DataFrame, record: LayerRecord) -> list[Finding]:
    """Each dimension field exists and holds only declared categories, never an empty value.

    Examples of undeclared values are at most ``MAX_EXAMPLES`` distinct values (the most frequent):
    the rows describe people, so no more of their values are shown.
    """
    findings = []
    for dim in record.record_level.dimensions:
        where = f"record_level.dimensions '{dim.name}' field '{dim.field}'"
        if dim.field not in frame.columns:
            findings.append(make_finding(record.id, "records.dimension_field_missing", f"{where} is not in the data"))
            continue
        values = _as_category(frame[dim.field])
        empty = values.isna() | values.eq("")
        undeclared = ~empty & ~values.isin(dim.categories)
        if empty.any():
            findings.append(make_finding(
                record.id, "records.category_missing",
                f"{int(empty.sum())} of {len(frame)} records have no value in {where}; recode them to a declared "
                "category (e.g. 'unknown')", count=int(empty.sum()),
            ))
        if undeclared.any():
            shown = values[undeclared].value_counts().index[:MAX_EXAMPLES]
            findings.append(make_finding(
                record.id, "records.undeclared_category",
                f"{int(undeclared.sum())} of {len(frame)} records have a value in {where} that is not one of its "
                f"categories ({', '.join(dim.categories)})", count=int(undeclared.sum()), examples=shown,
            ))
    return findings
