"""A throw-away store over the real Connecticut bundle, and small generated layers."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from geosvc.records.loader import load_records
from geosvc.records.models import LayerRecord
from geosvc.settings import load_settings
from geosvc.store.gpkg import GpkgStore
from geosvc.validate.findings import LayerReport

# Five points in Connecticut (lon, lat).
CT_POINTS = [[-72.685, 41.764], [-72.925, 41.308], [-73.195, 41.186], [-72.075, 41.524], [-73.121, 41.800]]


@pytest.fixture
def settings(tmp_path):
    return load_settings(store_dir=tmp_path / "store")


@pytest.fixture
def store(settings):
    return GpkgStore(settings)


@pytest.fixture(scope="session")
def records():
    return load_records(load_settings().layers_dir)


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
