"""Record-level tables located by a geographic id: each row becomes the representative point of its feature."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geosvc.records.models import LayerRecord
from geosvc.sources.table import EXAMPLES, as_text


@dataclass(frozen=True)
class LocationStats:
    """How a record-level table's ids matched the referenced layer (rows without a match are dropped)."""

    layer: str  # referenced layer id
    key: str  # its id field
    field: str  # the table's id field
    matched: int
    blank: int  # rows without an id
    unmatched: int  # rows whose id is no feature's key
    unmatched_examples: tuple[str, ...]  # distinct ids (geographic ids, never personal values)
    zeros_lost: int = 0  # unmatched rows whose id matches once leading zeros are ignored


def place_records(
    table: pd.DataFrame, record: LayerRecord, features: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, LocationStats]:
    """Give each row of ``table`` the representative point (``point_on_surface``) of the feature of ``features``
    whose ``location.key`` equals the row's ``location.field`` (both read as text), in ``features``' CRS.

    The point is computed in the CRS the features are given in, so it lies inside that geometry as given.
    Rows with a blank or unmatched id are dropped and counted; ``features`` keys are assumed unique.

    >>> import shapely
    >>> from geosvc.records.models import LayerRecord
    >>> rec = LayerRecord.model_validate({"id": "cases", "title": "t", "theme": "t", "source": {"path": "c.csv"},
    ...     "update_cadence": "static", "sensitivity": "restricted", "record_level": {
    ...     "dimensions": [{"name": "sex", "field": "sex", "categories": ["f"]}], "geographies": ["sq"],
    ...     "location": {"field": "g", "layer": "sq", "key": "id"}}})
    >>> sq = gpd.GeoDataFrame({"id": ["01"]}, geometry=[shapely.box(0, 0, 2, 2)], crs="OGC:CRS84")
    >>> frame, stats = place_records(pd.DataFrame({"g": ["01", "02", None], "sex": "f"}), rec, sq)
    >>> frame.geometry.iloc[0].wkt, stats.matched, stats.unmatched, stats.blank
    ('POINT (1 1)', 1, 1, 1)
    """
    location = record.record_level.location
    ids = as_text(table[location.field])
    ids = ids.where(ids.str.len() > 0)
    points = pd.Series(
        shapely.point_on_surface(np.asarray(features.geometry.array)), index=as_text(features[location.key]).to_numpy()
    )
    matched = ids.isin(points.index).to_numpy()
    blank = ids.isna().to_numpy()
    unmatched = ids[~matched & ~blank]
    unmatched_ids = unmatched.drop_duplicates()
    stripped = {str(key).lstrip("0") for key in points.index}
    kept = table.loc[matched].reset_index(drop=True)
    geometry = gpd.GeoSeries(points.reindex(ids[matched].to_numpy()).to_numpy(), crs=features.crs)
    stats = LocationStats(
        layer=location.layer,
        key=location.key,
        field=location.field,
        matched=int(matched.sum()),
        blank=int(blank.sum()),
        unmatched=len(unmatched),
        unmatched_examples=tuple(str(v) for v in unmatched_ids.head(EXAMPLES)),
        zeros_lost=int(unmatched.str.lstrip("0").isin(stripped).sum()),
    )
    return gpd.GeoDataFrame(kept, geometry=geometry, crs=features.crs), stats
