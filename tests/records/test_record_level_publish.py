"""Publishing record-level layers: geoid-located rows become points inside their tracts; point layers publish
as they are; the restricted layer is served only to holders of its role."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from support.synthetic_records import write_record_layer

from geosvc.api.app import create_app
from geosvc.auth.caller import utcnow
from geosvc.auth.keys import ApiKey, key_hash, new_key
from geosvc.records.models import LayerRecord
from geosvc.store.publish import publish_layer
from geosvc.validate.layer import validate_layer


def publish(tmp_path, published, people, kind, layer_id):
    settings, store = published
    data, _ = write_record_layer(tmp_path, people, kind, layer_id=layer_id)
    record = LayerRecord.model_validate(data)
    return publish_layer(record, validate_layer(record, settings, store=store), store, settings)


def test_geoid_located_csv_publishes_points_inside_their_tracts(tmp_path, published, people):
    _, store = published
    layer = publish(tmp_path, published, people, "csv", "cases-by-tract")
    assert layer.geometry_type == "Point" and layer.feature_count == len(people)
    assert any(n.startswith("record-level layer: one point per person or event") and "point_on_surface" in n
               for n in layer.notes)
    points = store.read_features(layer)
    tracts = store.read_features(store.get("ct-tracts-2010"), columns=["GEOID10"])
    joined = gpd.sjoin(points, tracts, predicate="within", how="left")
    assert len(joined) == len(people) and (joined["GEOID10"] == joined["tract_geoid"]).all()
    # every person of a tract stands at the same representative point of it
    assert points.groupby("tract_geoid").geometry.apply(lambda g: g.union_all().geom_type).eq("Point").all()
    assert sorted(points["race_ethnicity"].unique()) == ["asian_nh", "black_nh", "hispanic", "other_nh", "white_nh"]


def test_point_records_publish_at_their_own_points(tmp_path, published, people):
    _, store = published
    layer = publish(tmp_path, published, people, "gpkg", "cases-at-points")
    points = store.read_features(layer).set_index("case_id")
    assert layer.feature_count == len(people) and layer.record.record_level.location is None
    source = people.set_index("case_id").to_crs("OGC:CRS84")
    moved = shapely.distance(np.asarray(points.geometry.array), np.asarray(source.geometry.loc[points.index].array))
    assert moved.max() < 1e-9
    assert any("each record at its own point" in n for n in layer.notes)


@pytest.fixture
def client(tmp_path, published, people):
    settings, store = published
    publish(tmp_path, published, people, "csv", "cases-secret")
    app = create_app(settings, store)
    key_id, key = new_key()
    app.state.access_store.add_key(ApiKey(key_id, "epi", ("epi",), key_hash(key), utcnow()))
    with TestClient(app) as test_client:
        yield test_client, key


def test_record_level_layer_is_invisible_anonymously_and_served_to_its_role(client):
    test_client, key = client
    missing = test_client.get("/ogc/collections/no-such-layer/items?limit=1")
    anonymous = test_client.get("/ogc/collections/cases-secret/items?limit=1")
    assert anonymous.status_code == missing.status_code == 404
    assert anonymous.text.replace("cases-secret", "ID") == missing.text.replace("no-such-layer", "ID")
    listed = test_client.get("/ogc/collections?f=json").json()["collections"]
    assert "cases-secret" not in {c["id"] for c in listed}
    served = test_client.get("/ogc/collections/cases-secret/items?limit=2&f=json", headers={"X-API-Key": key})
    assert served.status_code == 200
    features = served.json()["features"]
    assert len(features) == 2 and features[0]["geometry"]["type"] == "Point"


def test_publish_order_puts_referenced_layers_first(tmp_path, people):
    from geosvc.records.loader import load_records
    from geosvc.settings import load_settings
    from geosvc.store.publish import publish_order

    data, _ = write_record_layer(tmp_path, people, "csv", layer_id="a-cases",
                                 geographies=["ct-towns", "ct-tracts-2010"])
    records = [LayerRecord.model_validate(data), *load_records(load_settings().layers.dir,
                                                                ["ct-towns", "ct-tracts-2010"]).values()]
    assert [r.id for r in publish_order(records)] == ["ct-towns", "ct-tracts-2010", "a-cases"]
