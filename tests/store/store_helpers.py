"""Small generated layers and reports for the store tests (imported as ``store_helpers``)."""

from __future__ import annotations

import geopandas as gpd
import shapely

from geosvc.records.models import LayerRecord
from geosvc.validate.findings import LayerReport

# Five points in Connecticut (lon, lat).
CT_POINTS = [[-72.685, 41.764], [-72.925, 41.308], [-73.195, 41.186], [-72.075, 41.524], [-73.121, 41.800]]


def make_record(layer_id: str = "sample", **fields) -> LayerRecord:
    base = {
        "id": layer_id, "title": "Sample", "theme": "testing", "update_cadence": "static",
        "source": {"path": "sample.gpkg"}, "id_field": "fid",
    }
    return LayerRecord.model_validate(base | fields)


def points_frame(n: int = 5) -> gpd.GeoDataFrame:
    coords = (CT_POINTS * (n // len(CT_POINTS) + 1))[:n]
    return gpd.GeoDataFrame({"fid": range(1, n + 1)}, geometry=shapely.points(coords), crs="EPSG:4326")


def ok_report(record: LayerRecord, data: gpd.GeoDataFrame | None) -> LayerReport:
    """A clean report carrying ``data`` (what validate_layer returns for a layer without errors)."""
    return LayerReport(layer=record.id, completeness=1.0, data=data)
