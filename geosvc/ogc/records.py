"""The registry as an OGC API Records catalog: one record per published public layer.

:func:`layer_record` turns a :class:`PublishedLayer` into an OGC API Records GeoJSON record with links
to the layer's collection, items, queryables, coverage / COG and licence; :func:`search_records`
applies the catalog's query parameters; :func:`records_resource` is the pygeoapi ``catalog``
resource served by :class:`geosvc.ogc.records_provider.RecordsProvider`, and
:func:`check_records_query` refuses (400), ahead of pygeoapi, what it would silently ignore.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import geopandas as gpd
import shapely
from fastapi import FastAPI
from pygeofilter import ast
from starlette.datastructures import QueryParams

from geosvc.cql2 import evaluate_filter, parse_filter
from geosvc.crs import CRS84_URI, check_crs_uri
from geosvc.errors import InvalidParameter, RecordError
from geosvc.ogc.config import MOUNT_PATH
from geosvc.ogc.coverage import coverage_links
from geosvc.ogc.coverage_guard import QueryGuard
from geosvc.settings import Settings
from geosvc.store.base import PublishedLayer

RECORDS_ID = "records"
EPSG4326_URI = "http://www.opengis.net/def/crs/EPSG/0/4326"
RECORD_CONFORMANCE = "http://www.opengis.net/spec/ogcapi-records-1/1.0/req/record-core"
THEME_SCHEME = "geosvc:theme"
_RECORDS = "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf"
CONFORMANCE = [f"{_RECORDS}/{name}" for name in ("core", "sorting", "opensearch", "json", "html")]
"""Records classes the catalog honours (``q`` is the opensearch class)."""
LIST_FILTERS = ("keywords", "theme", "kind")
"""Record properties usable as ``name=value1,value2`` filters (a record matches any value)."""
VALUE_FILTERS = ("title", "description", "updated")
"""Record properties usable as ``name=value`` filters (whole value, case-insensitive)."""
FILTER_FIELDS = LIST_FILTERS + VALUE_FILTERS
ITEMS_PARAMS = frozenset(
    {"f", "lang", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "q", "sortby", "properties",
     "skipGeometry", "resulttype", "filter", "filter-lang", "filter-crs", *FILTER_FIELDS}
)  # fmt: skip
"""Query parameters of the catalog's ``/items`` (anything else is a 400)."""
ITEM_PARAMS = frozenset({"f", "lang", "crs"})
"""Query parameters of one record."""
RECORD_FORMATS = ("json", "html")
"""Values of ``f`` the catalog answers (pygeoapi's CSV output of a catalog fails)."""


def _polygon(bbox: tuple[float, float, float, float]) -> dict:
    x0, y0, x1, y1 = bbox
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _time(layer: PublishedLayer) -> dict | None:
    extent = layer.record.temporal_extent
    if extent is None or (extent.start is None and extent.end is None):
        return None
    ends = [d.isoformat() if d else None for d in (extent.start, extent.end)]
    return {"interval": ends}


def _contacts(layer: PublishedLayer) -> list[dict]:
    record, contacts = layer.record, []
    if record.contact:
        contacts.append(
            {
                "name": record.contact.name,
                "emails": [{"value": record.contact.email}],
                "roles": ["pointOfContact"],
            }
        )
    if record.publisher:
        links = [{"rel": "about", "type": "text/html", "href": record.publisher.url}] if record.publisher.url else []
        contacts.append({"organization": record.publisher.agency, "roles": ["publisher"], "links": links})
    return contacts


def record_links(layer: PublishedLayer, ogc_url: str) -> list[dict]:
    """Links from a layer's record to what it describes."""
    base = f"{ogc_url}/collections/{layer.id}"
    title = layer.record.title
    links = [{"rel": "describes", "type": "application/json", "title": f"{title} (collection)", "href": base}]
    if layer.kind == "vector":
        links += [
            {"rel": "items", "type": "application/geo+json", "title": f"{title} (features)", "href": f"{base}/items"},
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "type": "application/schema+json",
                "title": f"{title} (queryables)",
                "href": f"{base}/queryables",
            },
        ]
    else:
        links += coverage_links(layer, ogc_url)
    license_ = layer.record.license
    if license_ and license_.url:
        links.append({"rel": "license", "type": "text/html", "title": license_.name, "href": license_.url})
    return links


def layer_record(layer: PublishedLayer, ogc_url: str) -> dict:
    """The OGC API Records GeoJSON record of a published layer.

    ``ogc_url`` is the public URL of the OGC API landing page (``…/ogc``).
    """
    record = layer.record
    properties = {
        "type": "dataset",
        "title": record.title,
        "description": record.description,
        "keywords": list(record.keywords),
        "theme": record.theme,
        "themes": [{"concepts": [{"id": record.theme}], "scheme": THEME_SCHEME}],
        "kind": layer.kind,
        "language": "en",
        "created": layer.published_at.isoformat(),
        "updated": (record.last_updated or layer.published_at).isoformat(),
        "version": layer.version,
        "contacts": _contacts(layer),
        "license": record.license.name if record.license else None,
        "rights": record.attribution,
        "formats": [{"name": "GeoJSON"}] if layer.kind == "vector" else [{"name": "COG"}, {"name": "CoverageJSON"}],
    }
    if layer.kind == "vector":
        properties |= {"featureCount": layer.feature_count, "geometryType": layer.geometry_type}
    return {
        "id": layer.id,
        "type": "Feature",
        "conformsTo": [RECORD_CONFORMANCE],
        "time": _time(layer),
        "geometry": _polygon(layer.bbox),
        "properties": properties,
        "links": record_links(layer, ogc_url),
    }


def _terms(text: str) -> list[list[str]]:
    """``q`` as alternatives (comma-separated), each a list of words that must all occur."""
    return [words for part in text.split(",") if (words := part.casefold().split())]


def _matches_q(record: dict, alternatives: list[list[str]]) -> bool:
    props = record["properties"]
    text = " ".join([props["title"], props["description"], *props["keywords"]]).casefold()
    return any(all(word in text for word in words) for words in alternatives)


def _matches_property(record: dict, name: str, wanted: set[str]) -> bool:
    value = record["properties"].get(name)
    values = value if isinstance(value, list) else [value]
    return any(str(v).casefold() in wanted for v in values)


def _intersects(record: dict, bbox: list[float]) -> bool:
    (x0, y0), _, (x1, y1), *_ = record["geometry"]["coordinates"][0]
    return x0 <= bbox[2] and bbox[0] <= x1 and y0 <= bbox[3] and bbox[1] <= y1


def _instant(text: str, default: dt.date) -> dt.date:
    if text in ("", ".."):
        return default
    try:
        return dt.datetime.fromisoformat(text).date() if "T" in text else dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidParameter(f"'{text}' is not an RFC 3339 date or date-time", param="datetime") from None


def _in_time(record: dict, datetime_: str) -> bool:
    if record["time"] is None:
        return False
    start_text, _, end_text = datetime_.partition("/")
    start = _instant(start_text, dt.date.min)
    end = _instant(end_text, dt.date.max) if "/" in datetime_ else start
    rec_start, rec_end = (dt.date.fromisoformat(d) if d else None for d in record["time"]["interval"])
    return (rec_start or dt.date.min) <= end and start <= (rec_end or dt.date.max)


def search_records(
    records: Iterable[dict],
    *,
    q: str | None = None,
    bbox: list[float] | None = None,
    datetime_: str | None = None,
    properties: list[tuple[str, str]] = (),
) -> list[dict]:
    """Records matching every given criterion.

    ``q``: comma-separated alternatives of words, searched in title, description and keywords
    (case-insensitive). ``properties``: ``(name, "v1,v2")`` filters on :data:`LIST_FILTERS`,
    ``(name, "value")`` on :data:`VALUE_FILTERS`.
    """
    selected = list(records)
    if q is not None:
        alternatives = _terms(q)
        if not alternatives:
            raise InvalidParameter("give at least one search term", param="q")
        selected = [r for r in selected if _matches_q(r, alternatives)]
    if bbox:
        selected = [r for r in selected if _intersects(r, bbox)]
    if datetime_:
        selected = [r for r in selected if _in_time(r, datetime_)]
    for name, value in properties:
        if name not in FILTER_FIELDS:
            raise InvalidParameter(
                f"unknown parameter; the catalog filters on {', '.join(FILTER_FIELDS)}", param=name
            )
        values = value.split(",") if name in LIST_FILTERS else [value]
        wanted = {v.strip().casefold() for v in values if v.strip()}
        if not wanted:
            raise InvalidParameter("give at least one value", param=name)
        selected = [r for r in selected if _matches_property(r, name, wanted)]
    return selected


def records_frame(records: list[dict]) -> gpd.GeoDataFrame:
    """Records as a frame of their filterable properties (keywords comma-joined) and bbox polygons."""
    rows = [
        {name: ", ".join(r["properties"]["keywords"]) if name == "keywords" else r["properties"].get(name)
         for name in FILTER_FIELDS}
        for r in records
    ]  # fmt: skip
    boxes = [shapely.geometry.shape(r["geometry"]) for r in records]
    return gpd.GeoDataFrame(rows, columns=list(FILTER_FIELDS), geometry=boxes, crs="OGC:CRS84")


def filter_records(records: list[dict], node: ast.Node) -> list[dict]:
    """Records matching a parsed CQL2 filter (in CRS84) over :data:`FILTER_FIELDS` and ``geometry``."""
    if not records:
        return []
    mask = evaluate_filter(node, records_frame(records), CRS84_URI)
    return [record for record, keep in zip(records, mask, strict=True) if keep]


def catalog_layers(layers: Iterable[PublishedLayer]) -> list[PublishedLayer]:
    """The layers listed in the catalog: those of the caller's view (see geosvc.api.live)."""
    return list(layers)


def records_resource(layers: list[PublishedLayer], settings: Settings) -> dict:
    """pygeoapi ``catalog`` resource of the registry (added under :data:`RECORDS_ID` by :func:`add_records`).

    The provider lists exactly the served ``layers`` (``layers: [id, ...]``) at the request snapshot's versions,
    so the catalog agrees with the collections until the next restart, whatever is published meanwhile.
    """
    listed = catalog_layers(layers)
    boxes = [layer.bbox for layer in listed] or [(-180.0, -90.0, 180.0, 90.0)]
    bbox = [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]
    keywords = sorted({k for layer in listed for k in layer.record.keywords})
    return {
        "type": "collection",
        "title": "Layer catalog",
        "description": "Searchable catalog of every published layer: one record per layer, with links "
        "to its collection, features or coverage, queryables and licence.",
        "keywords": ["catalog", "records", *keywords],
        "links": [],
        "extents": {"spatial": {"bbox": bbox, "crs": CRS84_URI}},
        "providers": [
            {
                "type": "record",
                "name": "geosvc.ogc.records_provider.RecordsProvider",
                "data": "geosvc-registry",
                "ogc_url": settings.base_url + MOUNT_PATH,
                "layers": [layer.id for layer in listed],
                "id_field": "id",
                "title_field": "title",
                "crs": [CRS84_URI, EPSG4326_URI],
                "storage_crs": CRS84_URI,
                "time_field": "time",
                "include_extra_query_parameters": True,
            }
        ],
    }


def add_records(config: dict, layers: list[PublishedLayer], settings: Settings) -> None:
    """Config extension (see :func:`geosvc.ogc.config.build_config`) adding the records catalog."""
    if RECORDS_ID in config["resources"]:
        raise RecordError(f"a layer is named '{RECORDS_ID}', the id of the records catalog", layer=RECORDS_ID)
    config["resources"][RECORDS_ID] = records_resource(layers, settings)


def check_records_query(params: QueryParams, match: re.Match, scope=None) -> None:
    """Refuse catalog queries pygeoapi would mishandle or silently ignore.

    Unknown or repeated parameters, an empty ``q``, ``crs`` other than CRS84 (records are served in
    CRS84), a ``filter`` that is not valid CQL2 text (pygeoapi reads GET filters as CQL2 text only).
    ``match``: the request path matched by :func:`records_path` (group 1 is the record id, if any).
    """
    allowed = ITEM_PARAMS if match.group(1) else ITEMS_PARAMS
    for key in params:
        if key not in allowed:
            raise InvalidParameter(f"unknown parameter; the catalog accepts {', '.join(sorted(allowed))}", param=key)
        if len(params.getlist(key)) > 1:
            raise InvalidParameter("given more than once", param=key)
    if params.get("f", "json") not in RECORD_FORMATS:
        raise InvalidParameter(f"the catalog answers in {', '.join(RECORD_FORMATS)}", param="f")
    if "q" in params and not _terms(params["q"]):
        raise InvalidParameter("give at least one search term", param="q")
    if "crs" in params:
        check_crs_uri(params["crs"], [CRS84_URI], param="crs")
    for key in ("filter-lang", "filter-crs"):
        if key in params and "filter" not in params:
            raise InvalidParameter("given without filter", param=key)
    if "filter" in params:
        if params.get("filter-lang", "cql2-text") != "cql2-text":
            raise InvalidParameter("the catalog takes cql2-text filters", param="filter-lang")
        check_crs_uri(params.get("filter-crs", CRS84_URI), [CRS84_URI, EPSG4326_URI], param="filter-crs")
        parse_filter(params["filter"], "cql2-text")


def records_path(prefix: str = MOUNT_PATH) -> re.Pattern:
    """Path pattern of the catalog's items and single records under the OGC API mount ``prefix``."""
    return re.compile(rf"^{re.escape(prefix)}/collections/{RECORDS_ID}/items(?:/([^/]+))?/?$")


def install_records(app: FastAPI, layers: list[PublishedLayer], settings: Settings) -> None:
    """App installer (see :mod:`geosvc.api.app`): check catalog queries ahead of the pygeoapi mount."""
    app.add_middleware(QueryGuard, checks=[(records_path(), check_records_query)])
