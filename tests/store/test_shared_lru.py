"""The caches behind embedded-store reads (decoded geometries, encoded features) keep to their byte budget."""

from __future__ import annotations

from geosvc.store.sqlite_read import SharedLru


def test_least_recently_used_values_go_first_past_the_budget():
    cache = SharedLru(budget=20)
    cache.put("v1.gpkg", 1, "one", 10)
    cache.put("v1.gpkg", 2, "two", 10)
    assert cache.get_many("v1.gpkg", [1, 3]) == ["one", None]  # 1 is now the most recently used
    cache.put("v1.gpkg", 3, "three", 10)  # over budget: 2 goes
    assert cache.get_many("v1.gpkg", [1, 2, 3]) == ["one", None, "three"] and cache.size <= cache.budget
    assert cache.get_many("v2.gpkg", [1]) == [None]  # another version's fid 1 is its own entry
