"""pygeoapi feature provider reading published layers through the store's query seam.

pygeoapi instantiates providers from its config by dotted path (``geosvc.ogc.providers.StoreFeatureProvider``);
the provider answers from the request context set by our mount (:mod:`geosvc.ogc.context`): the
snapshot's version of the layer, the app's store and the items query the mount already parsed and
validated (so the HTML, CSV and JSON-LD pages select exactly what the JSON fast path selects).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from pygeoapi.provider.base import BaseProvider, ProviderInvalidQueryError, ProviderItemNotFoundError

from geosvc.crs import CRS84_URI
from geosvc.errors import GeosvcError, InvalidParameter
from geosvc.ogc.config import MOUNT_PATH
from geosvc.ogc.context import current
from geosvc.ogc.query import ItemsQuery, paging_links, render_feature, render_features
from geosvc.store.base import PublishedLayer

JSON_TYPES = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
}


class InvalidQuery(ProviderInvalidQueryError):
    """A query we cannot honour: 400 with the same OGC code as the JSON path."""

    ogc_exception_code = InvalidParameter.ogc_code


class StoreFeatureProvider(BaseProvider):
    """Features of one published layer (``data`` = layer id) at the request's version."""

    def __init__(self, provider_def: dict[str, Any]):
        super().__init__(provider_def)
        self.layer_id = provider_def["data"]
        self.version = provider_def["version"]
        self._fields = {name: dict(JSON_TYPES.get(kind, {"type": "string"}))
                        for name, kind in provider_def["fields"].items()}

    def _layer(self) -> PublishedLayer:
        layer = current().snapshot.layers.get(self.layer_id)
        if layer is None or layer.version != self.version:
            raise ProviderItemNotFoundError(user_msg=f"no collection '{self.layer_id}'")
        return layer

    def get_fields(self) -> dict[str, dict[str, str]]:
        """Property names and JSON Schema types."""
        return self._fields

    def query(self, offset=0, limit=10, resulttype="results", **kwargs) -> dict[str, Any]:
        """Answer the items query the mount parsed (pygeoapi's own parse is used only for paging)."""
        request = current()
        layer = self._layer()
        parsed: ItemsQuery | None = request.items
        if parsed is None:
            raise InvalidQuery(user_msg="items were requested outside the items route")
        try:
            page = request.store.query(layer, parsed.select, request.deadline)
            body = render_features(page.rows, parsed, b'{"type":"FeatureCollection","features":[', b"]}")
        except GeosvcError as exc:
            raise InvalidQuery(user_msg=str(exc)) from exc
        collection = orjson.loads(body)
        collection["numberMatched"] = page.matched
        collection["numberReturned"] = len(page.rows)
        # pygeoapi builds no paging links of its own when given a next link (its own drop the CQL2 filter)
        uri = f"{request.settings.base_url.rstrip('/')}{MOUNT_PATH}/collections/{quote(layer.id)}/items"
        collection["links"] = paging_links(uri, parsed, page.matched, "application/geo+json")
        return collection

    def get(self, identifier, crs_transform_spec=None, **kwargs) -> dict[str, Any]:
        """One feature by id."""
        request = current()
        layer = self._layer()
        crs = crs_transform_spec.target_crs_uri if crs_transform_spec is not None else CRS84_URI
        row = request.store.feature(layer, str(identifier), crs=crs, deadline=request.deadline)
        if row is None:
            raise ProviderItemNotFoundError(user_msg=f"no feature '{identifier}' in '{self.layer_id}'")
        return orjson.loads(render_feature(row))
