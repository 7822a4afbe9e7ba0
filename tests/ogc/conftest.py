"""Session fixtures: real Connecticut sample layers published once into a temp store, and one app.

Until the store engineer's GpkgStore lands, layers are published by a tiny helper (read source ->
CRS84 -> GeoPackage) into :class:`SampleStore`, which implements the ``Store`` protocol.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from geosvc.errors import NotPublished
from geosvc.records.loader import load_records
from geosvc.settings import load_settings
from geosvc.store.base import PublishedLayer

SAMPLE_IDS = ["ct-towns", "ct-tracts-2010", "ct-hospitals", "ct-public-schools"]
FIELD_KINDS = {"b": "boolean", "i": "integer", "u": "integer", "f": "number", "M": "date"}


class SampleStore:
    """Minimal in-test Store: one GeoPackage per layer, catalog in memory."""

    def __init__(self, layers: dict[str, PublishedLayer]):
        self._layers = layers

    def published(self) -> list[PublishedLayer]:
        return [self._layers[k] for k in sorted(self._layers)]

    def get(self, layer_id: str) -> PublishedLayer:
        try:
            return self._layers[layer_id]
        except KeyError:
            raise NotPublished(f"'{layer_id}' is not published", layer=layer_id) from None

    def read_features(self, layer_id: str) -> gpd.GeoDataFrame:
        return gpd.read_file(self.get(layer_id).path, layer=layer_id)


def _read(record, settings) -> gpd.GeoDataFrame:
    source = settings.data_root / record.source.path
    gdf = gpd.read_file(source, layer=record.source.layer) if record.source.layer else gpd.read_file(source)
    if record.join is not None:
        table = pd.read_csv(settings.data_root / record.join.path, dtype={record.join.right_key: str},
                            na_values=record.join.na_values)
        table = table.drop_duplicates(record.join.right_key, keep="first")
        keep = [record.join.right_key, *(record.join.fields or [])]
        table = table[keep]
        for col in table.columns[1:]:
            table[col] = pd.to_numeric(table[col].astype(str).str.replace(r"[$,]", "", regex=True), errors="coerce")
        gdf = gdf.merge(table, how="left", left_on=record.join.left_key, right_on=record.join.right_key)
        gdf = gdf.drop(columns=[record.join.right_key])
    gdf = gdf.to_crs("OGC:CRS84")
    if record.clip_to_state:
        minx, miny, maxx, maxy = settings.state_bbox
        gdf = gdf.cx[minx:maxx, miny:maxy]
    return gdf.reset_index(drop=True)


def publish_samples(settings, ids=SAMPLE_IDS, **overrides) -> SampleStore:
    """Publish the sample layers into ``settings.store_dir`` (record fields may be overridden per id)."""
    records = load_records(settings.layers_dir, ids)
    out = Path(settings.store_dir) / "layers"
    out.mkdir(parents=True, exist_ok=True)
    layers = {}
    for layer_id, record in records.items():
        if layer_id in overrides:
            record = record.model_copy(update=overrides[layer_id])
        gdf = _read(record, settings)
        path = out / f"{layer_id}-v1.gpkg"
        gdf.to_file(path, layer=layer_id, driver="GPKG")
        fields = {c: FIELD_KINDS.get(gdf[c].dtype.kind, "string") for c in gdf.columns if c != "geometry"}
        layers[layer_id] = PublishedLayer(
            id=layer_id, version=1, kind="vector", path=path,
            checksum=hashlib.sha256(path.read_bytes()).hexdigest(),
            published_at=dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC), record=record,
            native_crs=record.crs or "OGC:CRS84", bbox=tuple(float(v) for v in gdf.total_bounds),
            feature_count=len(gdf), geometry_type=record.geometry_type, fields=fields,
        )
    return SampleStore(layers)


@pytest.fixture(scope="session")
def settings(tmp_path_factory):
    return load_settings(store_dir=tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="session")
def store(settings):
    return publish_samples(settings)


@pytest.fixture(scope="session")
def app(settings, store):
    from geosvc.api.app import create_app

    return create_app(settings, store=store)


@pytest.fixture(scope="session")
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as test_client:
        yield test_client
