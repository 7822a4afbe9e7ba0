"""pygeoapi record provider of the layer catalog (loaded by dotted path from the config).

pygeoapi builds a provider per request; this one lists the layer versions of the request's registry
snapshot (:mod:`geosvc.ogc.context`), turns them into records with
:func:`geosvc.ogc.records.layer_record` and searches them. ``include_extra_query_parameters`` is on so that every non-standard query parameter reaches
:func:`geosvc.ogc.records.search_records`, which refuses the ones it cannot honour.
"""

from __future__ import annotations

from http import HTTPStatus

from pygeoapi.provider.base import (
    BaseProvider,
    ProviderConnectionError,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
)

from geosvc.errors import GeosvcError, InvalidParameter
from geosvc.ogc.records import filter_records, layer_record, search_records
from geosvc.ogc.context import current

_FIELDS = {
    "title": {"type": "string", "title": "Title"},
    "description": {"type": "string", "title": "Description"},
    "keywords": {"type": "string", "title": "Keywords", "description": "comma-separated (keywords=a,b matches any)"},
    "theme": {"type": "string", "title": "Theme"},
    "kind": {"type": "string", "enum": ["vector", "raster"], "title": "Layer kind"},
    "updated": {"type": "string", "format": "date-time", "title": "Last updated"},
}


class RecordsQueryError(ProviderInvalidQueryError):
    """A catalog query we cannot honour: 400 with the same OGC code as the rest of geosvc."""

    ogc_exception_code = InvalidParameter.ogc_code


class RecordsStoreError(ProviderConnectionError):
    """The store cannot give a served layer version (removed or unreadable): 503, the catalog is stale."""

    http_status_code = HTTPStatus.SERVICE_UNAVAILABLE


class RecordsProvider(BaseProvider):
    """Records of the catalogued layers of the request's snapshot (``provider_def['layers']``: their ids)."""

    def __init__(self, provider_def: dict):
        super().__init__(provider_def)
        self.ogc_url = provider_def["ogc_url"]
        self.listed: list[str] = provider_def["layers"]
        self._fields = dict(_FIELDS)

    def get_fields(self) -> dict:
        """Queryable record properties."""
        return self._fields

    def _records(self) -> list[dict]:
        try:
            layers = current().snapshot.layers
        except GeosvcError as err:
            raise RecordsStoreError(user_msg=f"the catalog cannot be read: {err}") from err
        return [layer_record(layers[layer_id], self.ogc_url) for layer_id in sorted(self.listed) if layer_id in layers]

    def query(
        self,
        offset=0,
        limit=10,
        resulttype="results",
        bbox=(),
        datetime_=None,
        properties=(),
        sortby=(),
        select_properties=(),
        skip_geometry=False,
        q=None,
        filterq=None,
        **kwargs,
    ) -> dict:
        """Search the catalog: ``q``, ``bbox``, ``datetime``, property filters, CQL2 ``filter``, paging, sorting."""
        try:
            found = search_records(self._records(), q=q, bbox=list(bbox), datetime_=datetime_, properties=properties)
            if filterq is not None:
                found = filter_records(found, filterq)
        except InvalidParameter as err:
            raise RecordsQueryError(user_msg=str(err)) from err
        for sort in reversed(sortby):
            found.sort(key=lambda r: str(r["properties"].get(sort["property"]) or ""), reverse=sort["order"] == "-")
        page = [] if resulttype == "hits" else found[offset : offset + limit]
        page = [self._shape(r, select_properties, skip_geometry) for r in page]
        return {
            "type": "FeatureCollection",
            "features": page,
            "numberMatched": len(found),
            "numberReturned": len(page),
        }

    @staticmethod
    def _shape(record: dict, select_properties, skip_geometry: bool) -> dict:
        if select_properties:
            record = {**record, "properties": {k: v for k, v in record["properties"].items() if k in select_properties}}
        if skip_geometry:
            record = {**record, "geometry": None}
        return record

    def get(self, identifier, **kwargs) -> dict:
        """One record by layer id."""
        for record in self._records():
            if record["id"] == identifier:
                return record
        raise ProviderItemNotFoundError(user_msg=f"no record '{identifier}' in the catalog")
