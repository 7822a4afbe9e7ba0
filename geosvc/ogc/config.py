"""Published layers + settings -> pygeoapi configuration dict (pure; nothing is read or written).

Extension points (used by the OGC-extras and equity-API engineers):

* ``resource_builders``: ``{kind: builder}`` where ``builder(layer, settings, store) -> (resource_id, resource)``
  turns one published layer of that kind into pygeoapi resources; :func:`vector_resource` is the default
  for ``"vector"``; a raster builder plugs in under ``"raster"``.
* ``extensions``: callables ``extension(config, layers, settings) -> None`` that add resources that are
  not layers (the records catalog, processes) to the finished dict.

The configuration lists exactly the given layers: what one set of callers may read (see geosvc.api.live).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from geosvc.crs import CRS84_URI
from geosvc.ogc.query import DEFAULT_LIMIT, MAX_LIMIT
from geosvc.settings import Settings
from geosvc.store.base import PublishedLayer, Store

ResourceBuilder = Callable[[PublishedLayer, Settings, Store], tuple[str, dict[str, Any]]]
ConfigExtension = Callable[[dict[str, Any], list[PublishedLayer], Settings], None]
PROVIDER = "geosvc.ogc.providers.StoreFeatureProvider"
MOUNT_PATH = "/ogc"


def served_layers(layers: Iterable[PublishedLayer]) -> list[PublishedLayer]:
    """The layers to configure, sorted by id (the caller's view already holds only what it may read)."""
    return sorted(layers, key=lambda lyr: lyr.id)


def _iso(value) -> str | None:
    return f"{value.isoformat()}T00:00:00Z" if value is not None else None


def layer_links(layer: PublishedLayer) -> list[dict[str, str]]:
    """License, publisher and contact links from the layer record."""
    record = layer.record
    links = []
    if record.license is not None and record.license.url:
        links.append({"type": "text/html", "rel": "license", "title": record.license.name, "href": record.license.url})
    if record.publisher is not None and record.publisher.url:
        links.append({"type": "text/html", "rel": "related", "title": f"Publisher: {record.publisher.agency}",
                      "href": record.publisher.url})
    if record.contact is not None:
        links.append({"type": "text/plain", "rel": "author", "title": f"Contact: {record.contact.name}",
                      "href": f"mailto:{record.contact.email}"})
    return links


def layer_extents(layer: PublishedLayer) -> dict[str, Any]:
    """Spatial extent (CRS84 bbox of the version) and temporal extent of the record."""
    extents: dict[str, Any] = {"spatial": {"bbox": list(layer.bbox), "crs": CRS84_URI}}
    temporal = layer.record.temporal_extent
    if temporal is not None and (temporal.start or temporal.end):
        extents["temporal"] = {"begin": _iso(temporal.start), "end": _iso(temporal.end)}
    return extents


def layer_description(layer: PublishedLayer) -> str:
    """Description plus attribution and licence (pygeoapi has no fields for them)."""
    record = layer.record
    parts = [record.description or record.title]
    if record.attribution:
        parts.append(f"Attribution: {record.attribution}.")
    if record.license is not None:
        parts.append(f"Licence: {record.license.name}.")
    return " ".join(parts)


def vector_resource(layer: PublishedLayer, settings: Settings, store: Store) -> tuple[str, dict[str, Any]]:
    """pygeoapi collection for a vector layer, served by :class:`~geosvc.ogc.providers.StoreFeatureProvider`."""
    record = layer.record
    provider: dict[str, Any] = {
        "type": "feature",
        "name": PROVIDER,
        "data": layer.id,
        "version": layer.version,
        "fields": dict(layer.fields),
        "id_field": record.id_field or "id",
        "crs": list(settings.crs.serve),
        "storage_crs": CRS84_URI,
    }
    if record.time_field:
        provider["time_field"] = record.time_field
    return layer.id, {
        "type": "collection",
        "title": record.title,
        "description": layer_description(layer),
        "keywords": list(record.keywords) or [record.theme],
        "links": layer_links(layer),
        "extents": layer_extents(layer),
        "providers": [provider],
    }


DEFAULT_BUILDERS: Mapping[str, ResourceBuilder] = {"vector": vector_resource}


def server_section(settings: Settings) -> dict[str, Any]:
    """pygeoapi ``server``: public URL with the mount path, limits, no strict slashes."""
    return {
        "bind": {"host": settings.server.host, "port": settings.server.port},
        "url": settings.base_url + MOUNT_PATH,
        "mimetype": "application/json; charset=UTF-8",
        "encoding": "utf-8",
        "gzip": False,
        "languages": ["en-US"],
        "pretty_print": False,
        "limits": {"default_items": DEFAULT_LIMIT, "max_items": MAX_LIMIT, "on_exceed": "throttle"},
        "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                "attribution": "&copy; OpenStreetMap contributors"},
        "api_rules": {"strict_slashes": False},
    }


def metadata_section(settings: Settings) -> dict[str, Any]:
    """Service-level metadata."""
    return {
        "identification": {
            "title": f"{settings.portal.name}: {settings.state.name} layers",
            "description": f"Published {settings.state.name} layers from the geosvc registry (OGC API)",
            "keywords": ["geospatial", "ogc api", settings.state.name.lower()],
            "keywords_type": "theme",
            "terms_of_service": settings.base_url + "/registry",  # each layer carries its own licence
            "url": settings.base_url,
        },
        "license": {"name": "Per layer (see each collection)", "url": settings.base_url + "/registry"},
        "provider": {"name": "geosvc", "url": settings.base_url},
        "contact": {"name": settings.contact.name, "email": settings.contact.email},
    }


def build_config(
    layers: Iterable[PublishedLayer],
    settings: Settings,
    *,
    store: Store | None = None,
    resource_builders: Mapping[str, ResourceBuilder] | None = None,
    extensions: Sequence[ConfigExtension] = (),
) -> dict[str, Any]:
    """The whole pygeoapi configuration for the published, public ``layers``.

    Layers of a kind without a builder are skipped (e.g. rasters until a raster builder is given).
    """
    builders = dict(DEFAULT_BUILDERS) if resource_builders is None else dict(resource_builders)
    served = served_layers(layers)
    resources: dict[str, Any] = {}
    for layer in served:
        builder = builders.get(layer.kind)
        if builder is not None:
            resource_id, resource = builder(layer, settings, store)
            resources[resource_id] = resource
    config = {
        "server": server_section(settings),
        "logging": {"level": "CRITICAL"},  # pygeoapi logs every 4xx with a traceback at ERROR
        "metadata": metadata_section(settings),
        "resources": resources,
    }
    for extension in extensions:
        extension(config, served, settings)
    return config
