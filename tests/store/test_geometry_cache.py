"""The decoded-geometry cache behind the exact spatial tests keeps to its WKB byte budget."""

from __future__ import annotations

import struct

import shapely

from geosvc.store.sqlite_read import _Geometries


def _blob(geom) -> bytes:
    """A GeoPackage geometry blob (no envelope, little-endian header) of ``geom``."""
    return b"GP" + bytes([0, 1]) + struct.pack("<i", 4326) + shapely.to_wkb(geom)


def test_geometries_are_decoded_once_and_evicted_oldest_first_past_the_budget():
    blobs = [_blob(shapely.box(i, 0, i + 1, 1)) for i in range(3)]
    cache = _Geometries(budget=2 * len(blobs[0]))
    first = cache.get("v1.gpkg", 1, blobs[0])
    assert shapely.equals(first, shapely.box(0, 0, 1, 1))
    assert cache.get("v1.gpkg", 1, blobs[0]) is first  # kept, not decoded again
    cache.get("v1.gpkg", 2, blobs[1])
    cache.get("v1.gpkg", 1, blobs[0])  # 1 is now the most recently used
    cache.get("v1.gpkg", 3, blobs[2])  # over budget: 2 goes
    assert list(cache.items) == [("v1.gpkg", 1), ("v1.gpkg", 3)] and cache.size <= cache.budget
    assert cache.get("v2.gpkg", 1, blobs[1]) is not first  # another version's fid 1 is its own entry
