"""ISO 19139 read back by OWSLib's ISO parser; schema.org JSON-LD embedded in the collection HTML page."""

from __future__ import annotations

import json

import pytest
from lxml import etree, html
from owslib.iso import MD_Metadata
from support.sample_store import RESTRICTED_ID


@pytest.mark.parametrize("layer_id", ["ct-tracts-2010", "ct-population-density"])
def test_iso19139_reads_back_with_the_record_metadata(client, store, layer_id):
    layer = store.get(layer_id)
    record = layer.record
    response = client.get(f"/registry/{layer_id}/iso19139.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    metadata = MD_Metadata(etree.fromstring(response.content))
    assert metadata.identifier == layer_id
    ident = metadata.identification[0]
    assert ident.title == record.title
    assert ident.abstract == record.description
    bbox = ident.bbox
    assert [float(bbox.minx), float(bbox.miny), float(bbox.maxx), float(bbox.maxy)] == pytest.approx(list(layer.bbox))
    assert [c.email for c in ident.contact] == [record.contact.email]
    assert [c.email for c in metadata.contact] == [record.contact.email]
    assert ident.temporalextent_start == record.temporal_extent.start.isoformat()
    assert ident.temporalextent_end == record.temporal_extent.end.isoformat()
    assert record.keywords[0] in [k.name for group in ident.keywords for k in group.keywords]


@pytest.mark.parametrize("layer_id", [RESTRICTED_ID, "no-such-layer"])
def test_iso19139_of_a_layer_the_caller_cannot_see_is_404(client, layer_id):
    response = client.get(f"/registry/{layer_id}/iso19139.xml")
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


def test_registry_entry_links_the_iso_metadata(client, settings):
    links = client.get("/registry/ct-towns").json()["links"]
    described = [link["href"] for link in links if link["rel"] == "describedby"]
    assert described == [f"{settings.base_url}/registry/ct-towns/iso19139.xml"]
    assert client.get(described[0].removeprefix(settings.base_url)).status_code == 200


def _jsonld(page: bytes) -> list[dict]:
    tree = html.fromstring(page)
    return [json.loads(script.text) for script in tree.xpath('//script[@type="application/ld+json"]')]


@pytest.mark.parametrize("layer_id", ["ct-tracts-2010", "ct-population-density"])
def test_collection_page_embeds_schema_org_dataset(client, store, layer_id):
    layer = store.get(layer_id)
    response = client.get(f"/ogc/collections/{layer_id}", params={"f": "html"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    [doc] = _jsonld(response.content)
    assert doc["@context"].startswith("https://schema.org")
    assert doc["@type"] == "Dataset"
    assert doc["name"] == layer.record.title
    west, south, east, north = layer.bbox
    shape = doc["spatialCoverage"]["geo"]
    assert shape["@type"] == "GeoShape"
    assert [float(v) for v in shape["box"].split()] == pytest.approx([south, west, north, east])
    assert doc["temporalCoverage"] == "2012-01-01/2016-12-31"
    assert doc["license"] == layer.record.license.url
    assert doc["distribution"][0]["@type"] == "DataDownload"


def test_jsonld_is_escaped_inside_the_script_tag(store, settings):
    """A title with '</script>' cannot close the script element early (Jinja's tojson escapes '<')."""
    from jinja2 import Environment

    from geosvc.metadata.jsonld import dataset_jsonld

    layer = store.get("ct-towns")
    evil = layer.record.model_copy(update={"title": "Towns </script><script>alert(1)</script>"})
    doc = dataset_jsonld(type(layer)(**{**layer.__dict__, "record": evil}), settings.base_url)
    page = Environment(autoescape=True).from_string(
        '<html><head><script type="application/ld+json">{{ d | tojson }}</script></head></html>').render(d=doc)
    assert "</script><script>" not in page
    assert _jsonld(page.encode())[0]["name"] == evil.title


def test_collection_json_does_not_carry_the_jsonld(client):
    body = client.get("/ogc/collections/ct-towns", params={"f": "json"}).json()
    assert "jsonld" not in body and body["id"] == "ct-towns"
