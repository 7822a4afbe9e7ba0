"""The generated pygeoapi configuration: valid for pygeoapi, built from the records, extensible."""

from __future__ import annotations

import dataclasses

from pygeoapi.config import validate_config

from geosvc.crs import CRS84_URI
from geosvc.ogc.config import MOUNT_PATH, PROVIDER, build_config, served_layers, vector_resource

from support.sample_store import RESTRICTED_ID


def test_config_passes_pygeoapi_validation(store, settings):
    config = build_config(store.published(), settings)
    assert validate_config(config)


def test_anonymous_view_configures_public_layers_only(app, store):
    published = store.published()
    assert RESTRICTED_ID in {layer.id for layer in published}
    snapshot = app.state.registry.current()
    assert RESTRICTED_ID in snapshot.layers  # readable, so servable to those granted it
    public = snapshot.public
    assert RESTRICTED_ID not in public.layers and "ct-towns" in public.layers
    assert RESTRICTED_ID not in public.documents.openapi.decode()
    assert RESTRICTED_ID not in {layer.id for layer in served_layers(public.layers.values())}


def test_server_section_for_a_mount(settings, store):
    server = build_config(store.published(), settings)["server"]
    assert server["url"] == settings.base_url + MOUNT_PATH
    assert server["api_rules"]["strict_slashes"] is False
    assert server["limits"]["max_items"] >= 1000
    assert server["limits"]["default_items"] <= server["limits"]["max_items"]


def test_collection_metadata_comes_from_the_record(store, settings):
    layer = store.get("ct-tracts-2010")
    resource_id, resource = vector_resource(layer, settings, store)
    record = layer.record
    assert resource_id == record.id and "." not in resource_id
    assert resource["title"] == record.title
    assert record.attribution in resource["description"]
    assert resource["keywords"] == record.keywords
    rels = {link["rel"]: link for link in resource["links"]}
    assert rels["license"]["href"] == record.license.url
    assert rels["author"]["href"] == f"mailto:{record.contact.email}"
    assert resource["extents"]["spatial"]["bbox"] == list(layer.bbox)
    assert resource["extents"]["temporal"]["begin"].startswith(record.temporal_extent.start.isoformat())
    provider = resource["providers"][0]
    assert provider["name"] == PROVIDER
    assert provider["crs"] == list(settings.crs.serve)
    assert provider["storage_crs"] == CRS84_URI
    assert provider["id_field"] == record.id_field


def test_time_field_only_where_the_record_has_one(store, settings):
    assert vector_resource(store.get("ct-hospitals"), settings, store)[1]["providers"][0]["time_field"] == "VAL_DATE"
    assert "time_field" not in vector_resource(store.get("ct-towns"), settings, store)[1]["providers"][0]


def test_extension_points(store, settings):
    calls = []

    def raster(layer, settings_, store_):
        return layer.id, {"type": "collection", "title": "r"}

    def extension(config, layers, settings_):
        calls.append([layer.id for layer in layers])

    layers = store.published()
    without = build_config(layers, settings, resource_builders={"vector": vector_resource})
    with_raster = build_config(layers, settings, resource_builders={"vector": vector_resource, "raster": raster},
                               extensions=[extension])
    rasters = [layer.id for layer in layers if layer.kind == "raster"]
    assert rasters and not set(rasters) & set(without["resources"])
    assert set(rasters) <= set(with_raster["resources"])
    assert calls == [[layer.id for layer in served_layers(layers)]]


def test_layer_without_time_extent_has_no_temporal(store, settings):
    layer = store.get("ct-towns")
    bare = dataclasses.replace(layer, record=layer.record.model_copy(update={"temporal_extent": None}))
    assert "temporal" not in vector_resource(bare, settings, store)[1]["extents"]


def test_service_contact_and_terms_come_from_settings(store, settings):
    custom = settings.replace(contact_name="Desk", contact_email="desk@state.gov")
    metadata = build_config(store.published(), custom)["metadata"]
    assert metadata["contact"] == {"name": "Desk", "email": "desk@state.gov"}
    assert metadata["identification"]["terms_of_service"] == custom.base_url + "/registry"
