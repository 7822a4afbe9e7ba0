"""Embedded store: an items page read through caches too small to hold it is the same page."""

from __future__ import annotations

import pytest
import shapely

from geosvc.store import gpkg_query, sqlite_read
from geosvc.store.gpkg import GpkgStore
from geosvc.store.query import FeatureQuery
from geosvc.store.sqlite_read import SharedLru


def test_a_bbox_page_is_the_same_through_caches_that_keep_nothing(store, monkeypatch):
    if not isinstance(store, GpkgStore):
        pytest.skip("embedded store only")
    layer = store.get("ct-tracts-2010")
    frame = store.read_features(layer)
    box = (-73.0, 41.2, -72.8, 41.4)
    query = FeatureQuery(bbox=box, limit=20, offset=5)
    cached = store.query(layer, query)
    monkeypatch.setattr(gpkg_query, "_ROWS", SharedLru(budget=1))
    monkeypatch.setattr(sqlite_read, "_GEOMETRIES", SharedLru(budget=1))
    assert store.query(layer, query) == cached
    expected = frame[frame.intersects(shapely.box(*box))]
    assert cached.matched == len(expected) > 25
    assert [r.fid for r in cached.rows] == expected["GEOID10"].astype(str).tolist()[5:25]
