"""The items assembly from pre-encoded parts: valid GeoJSON equal to encoding the features whole."""

from __future__ import annotations

import random

import orjson

from geosvc.store.encoding import assemble_feature, assemble_features


def _parts(n: int, seed: int = 7) -> tuple[list[bytes], list[bytes], list[bytes]]:
    rng = random.Random(seed)
    ids = [orjson.dumps(rng.choice([i, f"t{i}"])) for i in range(n)]
    geoms = [orjson.dumps({"type": "Point", "coordinates": [rng.uniform(-73, -72), rng.uniform(41, 42)]})
             for _ in range(n)]
    props = [orjson.dumps({"name": f"n{i}", "v": rng.random(), "q": 'a "quoted" ,]} text'}) for i in range(n)]
    return ids, geoms, props


def test_features_join_to_the_array_of_whole_features():
    ids, geoms, props = _parts(25)
    expected = [{"type": "Feature", "id": orjson.loads(i), "geometry": orjson.loads(g), "properties": orjson.loads(p)}
                for i, g, p in zip(ids, geoms, props)]
    assert orjson.loads(assemble_features(ids, geoms, props, b"[", b"]")) == expected
    assert orjson.loads(b"[" + assemble_features(ids, geoms, props) + b"]") == expected
    assert [orjson.loads(assemble_feature(*parts)) for parts in zip(ids, geoms, props)] == expected


def test_an_empty_page_is_an_empty_array():
    assert assemble_features([], [], []) == b""
    assert assemble_features([], [], [], b'{"features":[', b"]}") == b'{"features":[]}'
    assert orjson.loads(assemble_features(*_parts(1), b"[", b"]"))[0]["type"] == "Feature"
