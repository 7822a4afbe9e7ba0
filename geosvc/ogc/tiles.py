"""OGC API Tiles for every vector collection: tilesets, tileset metadata, WebMercatorQuad, MVT tiles.

``/ogc/collections/{id}/tiles/WebMercatorQuad/{z}/{y}/{x}`` answers a Mapbox Vector Tile built by the
store (``store.tile``: PostGIS in SQL, the embedded store in Python; :mod:`geosvc.tiles`), with one layer
named after the collection; ``properties=a,b`` chooses the
attributes (all by default). Empty tiles are a ``204`` (nothing is read for tiles outside the version's
extent); every answer carries an ETag of the version and the tile, and ``If-None-Match`` gets a ``304``;
a tile that met more features than it may hold says so in :data:`TRUNCATED_HEADER` (the features kept).
Layers are looked up in the request's registry snapshot, as every other route does.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response

from geosvc.errors import InvalidParameter, NotFound
from geosvc.ogc.config import MOUNT_PATH
from geosvc.ogc.httpcache import cache_headers, entity_tags
from geosvc.settings import Settings
from geosvc.store.base import PublishedLayer
from geosvc.tiles.build import MAX_FEATURES, TileCache, build_tile
from geosvc.tiles.grid import EXTENT, MAX_ZOOM, TMS_ID, TileAddress, tile_matrix_set_document, web_mercator_quad
from geosvc.tiles.mvt import MIN_SIZE_UNITS, MVT_MEDIA_TYPE, SIMPLIFY_UNITS

_TILES = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf"
CONFORMANCE = [f"{_TILES}/{name}" for name in ("core", "tileset", "tilesets-list", "geodata-tilesets", "mvt")]
_TMS = "http://www.opengis.net/spec/tms/2.0/conf"
CONFORMANCE += [f"{_TMS}/tilematrixset", f"{_TMS}/json-tilematrixset"]
REL = "http://www.opengis.net/def/rel/ogc/1.0"
TILE_TEMPLATE = "{tileMatrix}/{tileRow}/{tileCol}"
DEFAULT_MAX_ZOOM = 16  # advertised as the tileset's most detailed level; deeper tiles are served too
OVERVIEW_NOTE = (f"Tiles of {EXTENT} units; geometries clipped to the tile plus a buffer and simplified to "
                 f"{SIMPLIFY_UNITS / (EXTENT / 256):g} px; lines and polygons smaller than "
                 f"{MIN_SIZE_UNITS / (EXTENT / 256):g} px both ways are left out, and only the first point of "
                 f"each {MIN_SIZE_UNITS / (EXTENT / 256):g} px cell is kept. A tile holds at most {MAX_FEATURES:,} "
                 "features: where more would show, lines and polygons are the largest (then the first in "
                 "feature order) and points the first in feature order, and the tile's answer carries "
                 "the header Geosvc-Tile-Truncated (dense layers fill in as you zoom in).")
TRUNCATED_HEADER = "geosvc-tile-truncated"
TILE_PARAMS = frozenset({"f", "properties"})
METADATA_PARAMS = frozenset({"f"})


def tiles_url(ogc_url: str, layer_id: str) -> str:
    """The tilesets list of a collection.

    >>> tiles_url("http://h/ogc", "ct-towns")
    'http://h/ogc/collections/ct-towns/tiles'
    """
    return f"{ogc_url}/collections/{layer_id}/tiles"


def tile_template(ogc_url: str, layer_id: str) -> str:
    """The tile URL template (OGC variable names)."""
    return f"{tiles_url(ogc_url, layer_id)}/{TMS_ID}/{TILE_TEMPLATE}"


def tile_links(layer: PublishedLayer, ogc_url: str) -> list[dict[str, str]]:
    """Links of a vector collection to its tilesets and its tile template."""
    return [
        {"rel": f"{REL}/tilesets-vector", "type": "application/json",
         "title": f"{layer.record.title} (vector tilesets)", "href": tiles_url(ogc_url, layer.id)},
        {"rel": "item", "type": MVT_MEDIA_TYPE, "title": f"{layer.record.title} (Mapbox Vector Tiles, {TMS_ID})",
         "href": tile_template(ogc_url, layer.id)},
    ]


def add_tile_links(config: dict, layers: list[PublishedLayer], settings: Settings) -> None:
    """Config extension (see :mod:`geosvc.api.app`): tileset links on every vector collection."""
    ogc_url = settings.base_url + MOUNT_PATH
    for layer in layers:
        resource = config["resources"].get(layer.id)
        if layer.kind == "vector" and resource is not None:
            resource.setdefault("links", []).extend(tile_links(layer, ogc_url))


def check_params(request: Request, allowed: frozenset[str], formats: tuple[str, ...]) -> None:
    """400 on a query parameter not in ``allowed`` or an ``f`` not in ``formats``."""
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise InvalidParameter(f"unknown query parameter(s) {', '.join(unknown)}", param=unknown[0])
    f = request.query_params.get("f")
    if f is not None and f not in formats:
        raise InvalidParameter(f"format '{f}' is not offered here (use {' or '.join(formats)})", param="f")


def vector_collection(request: Request, collection_id: str) -> PublishedLayer:
    """The vector layer of the caller's snapshot, else the 404 of an unknown collection."""
    layer = request.state.snapshot.layers.get(collection_id)
    if layer is None or layer.kind != "vector":
        raise NotFound(f"no vector collection '{collection_id}'", layer=collection_id)
    return layer


def is_restricted(request: Request, layer: PublishedLayer) -> bool:
    """True if reads of ``layer`` are restricted for this caller (privately cached, audited)."""
    return layer.id in request.state.snapshot.restricted


def read_headers(request: Request, layer: PublishedLayer) -> dict[str, str]:
    """Validators of the version; a restricted layer's answers are private (never in shared caches)."""
    return cache_headers(layer, private=is_restricted(request, layer))


def audit_if_restricted(request: Request, layer: PublishedLayer) -> None:
    """Record a read of a restricted layer in the audit trail."""
    if is_restricted(request, layer):
        request.app.state.audit_read(request.scope, layer, None)


def _properties(layer: PublishedLayer, text: str | None) -> tuple[str, ...]:
    if text is None:
        return tuple(layer.fields)
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in layer.fields]
    if unknown:
        raise InvalidParameter(f"unknown propert{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)} "
                               f"(fields: {', '.join(layer.fields)})", layer=layer.id, param="properties")
    return names


def tile_etag(layer: PublishedLayer, address: TileAddress, properties: tuple[str, ...]) -> str:
    """Strong validator of one tile of one version (and one attribute choice)."""
    chosen = "" if properties == tuple(layer.fields) else "-p" + hashlib.sha256(",".join(properties).encode()).hexdigest()[:8]
    return f'"{layer.etag[1:-1]}-z{address.z}-{address.y}-{address.x}{chosen}"'


def _tileset_link(ogc_url: str, layer: PublishedLayer) -> dict[str, Any]:
    return {"rel": "self", "type": "application/json", "title": f"{layer.record.title} ({TMS_ID})",
            "href": f"{tiles_url(ogc_url, layer.id)}/{TMS_ID}"}


def tileset_summary(layer: PublishedLayer, ogc_url: str) -> dict[str, Any]:
    """One entry of the tilesets list."""
    return {
        "title": f"{layer.record.title} ({TMS_ID})",
        "dataType": "vector",
        "crs": tile_matrix_set_document()["crs"],
        "tileMatrixSetURI": web_mercator_quad().uri,
        "links": [
            _tileset_link(ogc_url, layer),
            {"rel": f"{REL}/tiling-scheme", "type": "application/json", "title": TMS_ID,
             "href": f"{ogc_url}/tileMatrixSets/{TMS_ID}"},
        ],
    }


def tileset(layer: PublishedLayer, ogc_url: str) -> dict[str, Any]:
    """Tileset metadata: OGC API Tiles ``tileset`` plus TileJSON 3.0 members (``tiles``, ``vector_layers``)."""
    minx, miny, maxx, maxy = layer.bbox
    template = f"{tiles_url(ogc_url, layer.id)}/{TMS_ID}/{{z}}/{{y}}/{{x}}"
    summary = tileset_summary(layer, ogc_url)
    return {
        **summary,
        "description": OVERVIEW_NOTE,
        "links": [*summary["links"],
                  {"rel": "item", "type": MVT_MEDIA_TYPE, "title": "Tiles", "href": tile_template(ogc_url, layer.id),
                   "templated": True},
                  {"rel": "http://www.opengis.net/def/rel/ogc/1.0/geodata", "type": "application/json",
                   "title": layer.record.title, "href": f"{ogc_url}/collections/{layer.id}"}],
        "boundingBox": {"lowerLeft": [minx, miny], "upperRight": [maxx, maxy],
                        "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
        "layers": [{"id": layer.id, "title": layer.record.title, "dataType": "vector",
                    "geometryDimension": _dimension(layer.geometry_type), "minTileMatrix": "0",
                    "maxTileMatrix": str(MAX_ZOOM),
                    "propertiesSchema": {"type": "object", "properties": {
                        name: {"type": _json_type(kind)} for name, kind in layer.fields.items()}}}],
        "tilejson": "3.0.0",
        "tiles": [template],
        "minzoom": 0,
        "maxzoom": DEFAULT_MAX_ZOOM,
        "bounds": [minx, miny, maxx, maxy],
        "center": [(minx + maxx) / 2, (miny + maxy) / 2, 8],
        "vector_layers": [{"id": layer.id, "fields": {name: kind for name, kind in layer.fields.items()},
                           "minzoom": 0, "maxzoom": DEFAULT_MAX_ZOOM}],
        "version": str(layer.version),
    }


def _dimension(geometry_type: str | None) -> int | None:
    kind = (geometry_type or "").lower()
    return 0 if "point" in kind else 1 if "line" in kind else 2 if "polygon" in kind else None


def _json_type(kind: str) -> str:
    return {"integer": "integer", "number": "number", "boolean": "boolean"}.get(kind, "string")


def _json(body: dict, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)


def tiles_router(cache: TileCache, prefix: str = MOUNT_PATH) -> APIRouter:
    """Routes of OGC API Tiles (include before mounting pygeoapi at ``prefix``)."""
    router = APIRouter(prefix=prefix, tags=["tiles"])

    def ogc_url(request: Request) -> str:
        return request.app.state.settings.base_url + MOUNT_PATH

    @router.get("/tileMatrixSets", operation_id="getTileMatrixSets", summary="Tiling schemes offered")
    @router.get("/TileMatrixSets", include_in_schema=False)
    def tile_matrix_sets(request: Request) -> Response:
        check_params(request, METADATA_PARAMS, ("json",))
        tms = web_mercator_quad()
        href = f"{ogc_url(request)}/tileMatrixSets/{TMS_ID}"
        return _json({"tileMatrixSets": [{"id": TMS_ID, "title": tms.title, "uri": tms.uri, "links": [
            {"rel": f"{REL}/tiling-scheme", "type": "application/json", "title": TMS_ID, "href": href}]}]})

    @router.get("/tileMatrixSets/{tms_id}", operation_id="getTileMatrixSet", summary="A tiling scheme")
    @router.get("/TileMatrixSets/{tms_id}", include_in_schema=False)
    def tile_matrix_set(tms_id: str, request: Request) -> Response:
        check_params(request, METADATA_PARAMS, ("json",))
        if tms_id != TMS_ID:
            raise NotFound(f"no tile matrix set '{tms_id}' (offered: {TMS_ID})")
        return _json(tile_matrix_set_document())

    @router.get("/collections/{collection_id}/tiles", operation_id="getCollectionTilesets",
                summary="Vector tilesets of a collection")
    def tilesets(collection_id: str, request: Request) -> Response:
        layer = vector_collection(request, collection_id)
        check_params(request, METADATA_PARAMS, ("json",))
        base = ogc_url(request)
        return _json({"tilesets": [tileset_summary(layer, base)],
                               "links": [{"rel": "self", "type": "application/json", "title": "Tilesets",
                                          "href": tiles_url(base, layer.id)}]}, read_headers(request, layer))

    @router.get("/collections/{collection_id}/tiles/{tms_id}", operation_id="getCollectionTileset",
                summary="Tileset metadata of a collection (OGC tileset and TileJSON)")
    def tileset_metadata(collection_id: str, tms_id: str, request: Request) -> Response:
        layer = vector_collection(request, collection_id)
        check_params(request, METADATA_PARAMS, ("json", "tilejson"))
        if tms_id != TMS_ID:
            raise NotFound(f"no tileset '{tms_id}' for '{collection_id}' (offered: {TMS_ID})", layer=layer.id)
        return _json(tileset(layer, ogc_url(request)), read_headers(request, layer))

    @router.head("/collections/{collection_id}/tiles/{tms_id}/{z}/{y}/{x}", include_in_schema=False)
    @router.get("/collections/{collection_id}/tiles/{tms_id}/{z}/{y}/{x}", operation_id="getCollectionTile",
                summary="One Mapbox Vector Tile of a collection", response_class=Response,
                responses={200: {"content": {MVT_MEDIA_TYPE: {}}}, 204: {"description": "Empty tile"}})
    def get_tile(collection_id: str, tms_id: str, z: str, y: str, x: str, request: Request) -> Response:
        layer = vector_collection(request, collection_id)
        check_params(request, TILE_PARAMS, ("mvt",))
        if tms_id != TMS_ID:
            raise NotFound(f"no tileset '{tms_id}' for '{collection_id}' (offered: {TMS_ID})", layer=layer.id)
        address = TileAddress.parse(z, y, x)
        properties = _properties(layer, request.query_params.get("properties"))
        etag = tile_etag(layer, address, properties)
        headers = {**read_headers(request, layer), "etag": etag}
        inm = request.headers.get("if-none-match")
        if inm is not None and ({"*", etag} & entity_tags(inm)):
            return Response(status_code=304, headers=headers)
        audit_if_restricted(request, layer)
        key = (layer.id, layer.version, address, properties)
        tile = cache.get(key)
        if tile is None:
            settings = request.app.state.settings
            tile = build_tile(request.app.state.store, layer, address, properties,
                              time.monotonic() + settings.server.query_timeout_s)
            cache.put(key, tile)
        if tile.truncated:
            headers[TRUNCATED_HEADER] = str(tile.features)
        if tile.empty:
            return Response(status_code=204, headers=headers)
        return Response(tile.data, media_type=MVT_MEDIA_TYPE, headers=headers)

    return router


def install_tiles(app: FastAPI, layers: list[PublishedLayer], settings: Settings) -> None:
    """App installer (see :mod:`geosvc.api.app`): the tiles routes, ahead of the pygeoapi mount."""
    app.include_router(tiles_router(TileCache()))
