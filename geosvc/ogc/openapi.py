"""pygeoapi's OpenAPI document made self-contained and honest, and the conformance list we honour.

* every ``$ref`` to another host is replaced by a local component (offline tools resolve them);
* ``components.parameters.limit`` declares default and maximum (QGIS then pages at 1000) and every
  items path uses it; items paths gain ``filter``/``filter-lang``/``filter-crs`` and lose pygeoapi's
  free-form ``vendorSpecificParameters`` (unknown parameters are a 400 here).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from geosvc.crs import CRS84_URI
from geosvc.ogc.query import DEFAULT_LIMIT, MAX_LIMIT

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/sorting",
]

_OBJECT = {"type": "object"}
_LINK = {
    "type": "object",
    "required": ["href"],
    "properties": {k: {"type": "string"} for k in ("href", "rel", "type", "title", "hreflang")},
}
_EXCEPTION = {
    "type": "object",
    "required": ["code"],
    "properties": {"code": {"type": "string"}, "description": {"type": "string"}},
}


def _json_response(description: str, schema_ref: str, media: str = "application/json") -> dict[str, Any]:
    content = {media: {"schema": {"$ref": schema_ref}}, "text/html": {"schema": {"type": "string"}}}
    return {"description": description, "content": content}


def local_components() -> dict[str, dict[str, Any]]:
    """Components replacing the external ones pygeoapi refers to."""
    return {
        "schemas": {
            "link": _LINK,
            "exception": _EXCEPTION,
            "cql2": _OBJECT,
            "landingPage": {"type": "object", "required": ["links"],
                            "properties": {"links": {"type": "array", "items": {"$ref": "#/components/schemas/link"}}}},
            "collection": {"type": "object", "required": ["id", "links"],
                           "properties": {"id": {"type": "string"},
                                          "links": {"type": "array", "items": {"$ref": "#/components/schemas/link"}}}},
            "featureCollectionGeoJSON": {"type": "object", "required": ["type", "features"],
                                         "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                                                        "features": {"type": "array", "items": _OBJECT},
                                                        "numberMatched": {"type": "integer", "minimum": 0},
                                                        "numberReturned": {"type": "integer", "minimum": 0}}},
            "featureGeoJSON": {"type": "object", "required": ["type", "geometry", "properties"],
                               "properties": {"type": {"type": "string", "enum": ["Feature"]}}},
        },
        "responses": {
            "LandingPage": _json_response("The landing page", "#/components/schemas/landingPage"),
            "Collection": _json_response("One collection", "#/components/schemas/collection"),
            "Features": _json_response("A page of features", "#/components/schemas/featureCollectionGeoJSON",
                                       "application/geo+json"),
            "Feature": _json_response("One feature", "#/components/schemas/featureGeoJSON", "application/geo+json"),
            "InvalidParameter": _json_response("A query parameter is invalid", "#/components/schemas/exception"),
            "NotFound": _json_response("No such resource", "#/components/schemas/exception"),
            "ServerError": _json_response("Server error", "#/components/schemas/exception"),
        },
        "parameters": {
            "limit": {"name": "limit", "in": "query", "required": False, "style": "form", "explode": False,
                      "description": f"Number of items per page (default {DEFAULT_LIMIT}, maximum {MAX_LIMIT}; "
                                     "larger values are lowered to the maximum).",
                      "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
            "datetime": {"name": "datetime", "in": "query", "required": False, "style": "form", "explode": False,
                         "description": "RFC 3339 instant or interval (a/b, ../b, a/..) on the layer's time field.",
                         "schema": {"type": "string"}},
            "featureId": {"name": "featureId", "in": "path", "required": True, "description": "Feature id",
                          "schema": {"type": "string"}},
            "sortby": {"name": "sortby", "in": "query", "required": False, "style": "form", "explode": False,
                       "description": "Comma-separated property names, each optionally prefixed + or -.",
                       "schema": {"type": "array", "minItems": 1,
                                  "items": {"type": "string", "pattern": r"[+|-]?[A-Za-z_].*"}}},
            "filter": {"name": "filter", "in": "query", "required": False, "description": "CQL2 filter expression",
                       "schema": {"type": "string"}},
            "filter-lang": {"name": "filter-lang", "in": "query", "required": False,
                            "description": "Language of filter (default cql2-text)",
                            "schema": {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"}},
            "filter-crs": {"name": "filter-crs", "in": "query", "required": False,
                           "description": "CRS of geometries in filter (default CRS84)",
                           "schema": {"type": "string", "format": "uri", "default": CRS84_URI}},
        },
    }


def _local_ref(ref: str) -> str:
    """Map an external ``$ref`` to the local component of the same kind and name."""
    fragment = ref.partition("#")[2]
    if fragment.startswith("/components/"):
        return "#" + fragment
    name = ref.rstrip("/").rsplit("/", 1)[-1].split(".")[0]
    kind = "parameters" if "/parameters/" in ref else "schemas"
    return f"#/components/{kind}/{name}"


def _rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            return {"$ref": _local_ref(ref)}
        return {k: _rewrite(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node


def _placeholder(kind: str, name: str) -> dict[str, Any]:
    """Permissive stand-in for an external component we have no local copy of."""
    if kind == "parameters":
        return {"name": name, "in": "query", "required": False, "description": name, "schema": {"type": "string"}}
    if kind == "responses":
        return {"description": name, "content": {"application/json": {"schema": _OBJECT}}}
    return dict(_OBJECT)


def _fill_missing(doc: dict[str, Any]) -> None:
    components = doc.setdefault("components", {})
    for ref in sorted(set(local_refs(doc))):
        parts = ref.removeprefix("#/").split("/")
        if len(parts) == 3 and parts[0] == "components":
            section = components.setdefault(parts[1], {})
            section.setdefault(parts[2], _placeholder(parts[1], parts[2]))


def _items_parameters(parameters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for param in parameters:
        if param.get("$ref") == "#/components/parameters/vendorSpecificParameters":
            continue
        if param.get("name") == "limit":
            param = {"$ref": "#/components/parameters/limit"}
        out.append(param)
    names = {p.get("$ref", p.get("name")) for p in out}
    for extra in ("filter", "filter-lang", "filter-crs"):
        if f"#/components/parameters/{extra}" not in names:
            out.append({"$ref": f"#/components/parameters/{extra}"})
    return out


def fix_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """Self-contained copy of pygeoapi's OpenAPI document with the limit/filter fixes (pure)."""
    doc = _rewrite(copy.deepcopy(document))
    components = doc.setdefault("components", {})
    for kind, entries in local_components().items():
        section = components.setdefault(kind, {})
        for name, value in entries.items():
            section.setdefault(name, value)
    components["parameters"]["limit"] = local_components()["parameters"]["limit"]
    _fill_missing(doc)
    for path, item in doc.get("paths", {}).items():
        get = item.get("get")
        if get is not None and path.startswith("/collections/") and path.endswith("/items"):
            get["parameters"] = _items_parameters(get.get("parameters", []))
    return doc


def refs(node: Any) -> list[str]:
    """Every ``$ref`` in a document (after :func:`fix_openapi` all of them local, ``#/...``)."""
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def local_refs(node: Any) -> list[str]:
    """Every local (``#/...``) ``$ref``."""
    return [ref for ref in refs(node) if ref.startswith("#")]


def conformance_document(extra: Sequence[str] = ()) -> dict[str, list[str]]:
    """``/conformance``: only classes we honour (no Features Part 4: nothing is editable) plus ``extra``."""
    return {"conformsTo": list(dict.fromkeys([*CONFORMANCE, *extra]))}
