"""pygeoapi feature provider reading published layers through the shared query engine.

pygeoapi instantiates providers from its config by dotted path (``geosvc.ogc.providers.StoreFeatureProvider``)
and passes no application object, so :func:`geosvc.ogc.mount.mount_pygeoapi` hands this module the
running app's :class:`~geosvc.ogc.index.IndexCache` through :func:`use_cache` before pygeoapi starts.
The JSON items route (:mod:`geosvc.ogc.fastpath`) and this provider give identical answers.
"""

from __future__ import annotations

from typing import Any

import orjson
from pygeoapi.provider.base import BaseProvider, ProviderInvalidQueryError, ProviderItemNotFoundError

from geosvc.errors import GeosvcError, InvalidParameter, NotFound
from geosvc.ogc.crs import CRS84
from geosvc.ogc.index import IndexCache, LayerIndex
from geosvc.ogc.query import (
    ItemsQuery,
    coerce_value,
    parse_datetime,
    parse_names,
    render_feature,
    render_features,
    select,
)

_ACTIVE: dict[str, IndexCache] = {}

JSON_TYPES = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
}


def use_cache(store_dir: str, cache: IndexCache) -> None:
    """Make ``cache`` the one that providers of layers in ``store_dir`` read from."""
    _ACTIVE[store_dir] = cache


def field_types(index: LayerIndex) -> dict[str, dict[str, str]]:
    """JSON Schema type of every property, from the published layer's field list (else the frame)."""
    declared = index.layer.fields
    out = {}
    for name in index.property_names:
        kind = declared.get(name)
        if kind is None:
            dtype = index.frame[name].dtype
            kind = ("boolean" if dtype.kind == "b" else "integer" if dtype.kind in "iu"
                    else "number" if dtype.kind == "f" else "datetime" if dtype.kind == "M" else "string")
        out[name] = dict(JSON_TYPES.get(kind, {"type": "string"}))
    return out


class StoreFeatureProvider(BaseProvider):
    """Features of one published layer (``data`` = layer id) from the in-memory index."""

    def __init__(self, provider_def: dict[str, Any]):
        super().__init__(provider_def)
        self.cache = _ACTIVE.get(provider_def.get("store", ""))
        if self.cache is None:
            raise RuntimeError("geosvc.ogc.providers.use_cache() was not called before pygeoapi started")
        self.layer_id = provider_def["data"]
        self._fields = field_types(self._index())

    def _index(self) -> LayerIndex:
        return self.cache.get(self.layer_id)

    def get_fields(self) -> dict[str, dict[str, str]]:
        """Property names and JSON Schema types."""
        return self._fields

    def query(self, offset=0, limit=10, resulttype="results", bbox=None, datetime_=None, properties=None,
              sortby=None, select_properties=None, skip_geometry=False, q=None, filterq=None,
              crs_transform_spec=None, **kwargs) -> dict[str, Any]:
        """pygeoapi's already-parsed arguments -> FeatureCollection dict (same engine as the fast path)."""
        index = self._index()
        names = index.property_names
        try:
            if q:
                raise InvalidParameter("free-text search is not supported", param="q")
            for name in [k for k, _ in properties or []] + list(select_properties or []) + [
                    s["property"] for s in sortby or []]:
                parse_names(name, names, param=name)
            query = ItemsQuery(
                limit=int(limit),
                offset=int(offset),
                bbox=tuple(bbox[:2] + bbox[-2:]) if bbox else None,
                interval=parse_datetime(datetime_, self.time_field if index.times is not None else None)
                if datetime_ else None,
                equals=tuple((k, coerce_value(index, k, str(v))) for k, v in properties or []),
                filter=filterq,
                sortby=tuple((s["property"], s.get("order", "+") != "-") for s in sortby or []),
                properties=tuple(select_properties) if select_properties else None,
                skip_geometry=bool(skip_geometry),
                crs=crs_transform_spec.target_crs_uri if crs_transform_spec is not None else CRS84,
                hits=resulttype == "hits",
            )
            positions, matched = select(index, query)
            features = render_features(index, positions, query)
        except GeosvcError as exc:
            raise ProviderInvalidQueryError(user_msg=str(exc)) from exc
        collection = orjson.loads(b'{"type":"FeatureCollection","features":[%s]}' % b",".join(features))
        collection["numberMatched"] = matched
        collection["numberReturned"] = len(features)
        return collection

    def get(self, identifier, crs_transform_spec=None, **kwargs) -> dict[str, Any]:
        """One feature by id."""
        index = self._index()
        try:
            position = index.locate(str(identifier))
        except NotFound as exc:
            raise ProviderItemNotFoundError(user_msg=str(exc)) from exc
        crs = crs_transform_spec.target_crs_uri if crs_transform_spec is not None else CRS84
        return orjson.loads(render_feature(index, position, crs))
