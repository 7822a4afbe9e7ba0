"""CRS helpers: the only place that turns user or file CRS values into :class:`pyproj.CRS`.

Normalise once at the boundary, compare semantically, store as an authority code (or WKT2 when
there is none). Data is transformed with ``always_xy=True`` (lon/lat, x/y order); the OGC API's CRS
URIs (``crs``, ``bbox-crs``, ``filter-crs``) are accepted by one rule (:func:`check_crs_uri`) and
transformed in their authority axis order (EPSG:4326 is lat, lon), as OGC API Features Part 2 says.

Examples
--------
>>> crs_code(normalize_crs("http://www.opengis.net/def/crs/EPSG/0/4269"))
'EPSG:4269'
>>> same_crs("EPSG:4326", "OGC:CRS84")
True
>>> crs_uri("EPSG:2234")
'http://www.opengis.net/def/crs/EPSG/0/2234'
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_crs_info
from pyproj.exceptions import CRSError, ProjError

from geosvc.errors import InvalidParameter

CRS84 = "OGC:CRS84"
CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_MIN_CONFIDENCE = 70  # for identifying a WKT (e.g. an ESRI .prj) with an authority code

CrsLike = CRS | str | int | dict[str, Any]


def normalize_crs(value: CrsLike) -> CRS:
    """Parse a CRS given as code, URI, URN, WKT, PROJ string or :class:`pyproj.CRS`.

    Raises
    ------
    InvalidParameter
        When PROJ does not understand ``value`` (the message names it).

    Examples
    --------
    >>> normalize_crs(4326).name
    'WGS 84'
    """
    if isinstance(value, CRS):
        return value
    try:
        return CRS.from_user_input(value)
    except (CRSError, ProjError, TypeError, ValueError) as exc:
        shown = str(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise InvalidParameter(f"CRS '{shown}' is unknown to PROJ", param="crs") from exc


def parse_crs(value: CrsLike) -> CRS | None:
    """Like :func:`normalize_crs` but return ``None`` when PROJ does not understand ``value``.

    >>> parse_crs("EPSG:999999") is None
    True
    """
    try:
        return normalize_crs(value)
    except InvalidParameter:
        return None


def crs_authority(value: CrsLike) -> tuple[str, str] | None:
    """``(authority, code)`` identifying the CRS in the PROJ database, or ``None`` if unidentifiable.

    >>> crs_authority("+proj=longlat +datum=WGS84 +no_defs")
    ('OGC', 'CRS84')
    """
    return normalize_crs(value).to_authority(min_confidence=_MIN_CONFIDENCE)


def crs_code(value: CrsLike) -> str:
    """Storable form: ``AUTH:CODE`` when identifiable, else WKT2.

    >>> crs_code("urn:ogc:def:crs:EPSG::6434")
    'EPSG:6434'
    """
    crs = normalize_crs(value)
    auth = crs_authority(crs)
    return f"{auth[0]}:{auth[1]}" if auth else crs.to_wkt("WKT2_2019")


def crs_label(value: CrsLike) -> str:
    """Short human label: ``AUTH:CODE`` when identifiable, else the CRS's name.

    >>> crs_label('GEOGCS["Fantasy",DATUM["D",SPHEROID["S",6000000,300]],PRIMEM["G",0],UNIT["Degree",0.0174532925199433]]')
    'Fantasy'
    """
    crs = normalize_crs(value)
    auth = crs_authority(crs)
    return f"{auth[0]}:{auth[1]}" if auth else crs.name


def crs_name(value: CrsLike) -> str:
    """The CRS's name, or its PROJ string when PROJ names it "unknown" (for messages).

    >>> crs_name("+proj=tmerc +lat_0=0 +lon_0=-72 +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs")
    '+proj=tmerc +lat_0=0 +lon_0=-72 +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs +type=crs'
    """
    crs = normalize_crs(value)
    if crs.name != "unknown":
        return crs.name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a PROJ string loses information (only shown)
        return crs.to_proj4()


def crs_uri(value: CrsLike) -> str:
    """OGC URI of the CRS (``http://www.opengis.net/def/crs/{auth}/{version}/{code}``).

    Raises :class:`InvalidParameter` when the CRS has no authority code.

    >>> crs_uri("OGC:CRS84")
    'http://www.opengis.net/def/crs/OGC/1.3/CRS84'
    """
    crs = normalize_crs(value)
    auth = crs_authority(crs)
    if auth is None:
        raise InvalidParameter(f"CRS '{crs.name}' has no authority code, so no URI", param="crs")
    name, code = auth
    version = "1.3" if name == "OGC" else "0"
    return f"http://www.opengis.net/def/crs/{name}/{version}/{code}"


def same_crs(a: CrsLike, b: CrsLike) -> bool:
    """True when ``a`` and ``b`` describe the same CRS, ignoring axis order and naming.

    A WKT read from an ESRI ``.prj`` equals its EPSG code; EPSG:4326 equals OGC:CRS84.

    >>> same_crs("EPSG:2234", "EPSG:6434")
    False
    """
    return find_crs(a, [b]) is not None


def find_crs(value: CrsLike, candidates: Iterable[CrsLike]) -> CrsLike | None:
    """The first of ``candidates`` describing the same CRS as ``value`` (see :func:`same_crs`), or ``None``.

    >>> find_crs("EPSG:4326", ["EPSG:4269", "OGC:CRS84"])
    'OGC:CRS84'
    """
    crs = normalize_crs(value)
    authority = None
    for candidate in candidates:
        other = parse_crs(candidate)
        if other is None:
            continue
        if crs.equals(other, ignore_axis_order=True):
            return candidate
        authority = authority or crs_authority(crs) or ("", "")  # identify once; ('', '') = unidentifiable
        if authority == crs_authority(other):
            return candidate
    return None


def is_geographic(value: CrsLike) -> bool:
    """True for a geographic (degrees) CRS.

    >>> is_geographic("EPSG:4269"), is_geographic("EPSG:2234")
    (True, False)
    """
    return bool(normalize_crs(value).is_geographic)


def transformer(src: CrsLike, dst: CrsLike = CRS84) -> Transformer:
    """Transformer from ``src`` to ``dst`` in x/y (lon/lat) order."""
    return Transformer.from_crs(normalize_crs(src), normalize_crs(dst), always_xy=True)


def to_crs84(x: np.ndarray, y: np.ndarray, src: CrsLike) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinate arrays from ``src`` to lon/lat; failures become ``inf``.

    >>> lon, lat = to_crs84(np.array([1000000.0]), np.array([500000.0]), "EPSG:2234")
    >>> round(float(lon[0]), 2), round(float(lat[0]), 2)
    (-72.75, 40.83)
    """
    try:
        tx, ty = transformer(src).transform(np.asarray(x, float), np.asarray(y, float), errcheck=False)
    except ProjError:
        return np.full(len(x), np.inf), np.full(len(y), np.inf)
    return np.asarray(tx, float), np.asarray(ty, float)


def to_lonlat(x: np.ndarray, y: np.ndarray, src: CrsLike) -> tuple[np.ndarray, np.ndarray]:
    """Approximate lon/lat of x/y in ``src``: only the inverse projection, on ``src``'s own datum.

    Datum shifts (metres to ~100 m) are ignored, which makes this fast enough to try dozens of
    CRSs when judging which one a layer's coordinates are in. Failures become ``inf``.

    >>> lon, lat = to_lonlat(np.array([600000.0]), np.array([0.0]), "EPSG:26756")
    >>> round(float(lon[0]), 2), round(float(lat[0]), 2)
    (-72.75, 40.83)
    """
    crs = normalize_crs(src)
    x, y = np.asarray(x, float), np.asarray(y, float)
    if crs.is_geographic and crs.prime_meridian.longitude == 0:
        return x, y
    try:
        tx, ty = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True).transform(x, y, errcheck=False)
    except ProjError:
        return np.full(len(x), np.inf), np.full(len(y), np.inf)
    return np.asarray(tx, float), np.asarray(ty, float)


def projected_crs_near(lon: float, lat: float, authority: str = "EPSG") -> list[str]:
    """Codes of projected CRSs whose area of use contains the point (state-plane, UTM... candidates).

    >>> "EPSG:26756" in projected_crs_near(-72.7, 41.5)
    True
    """
    infos = query_crs_info(
        auth_name=authority,
        pj_types=["PROJECTED_CRS"],
        area_of_interest=AreaOfInterest(lon, lat, lon, lat),
        contains=True,
    )
    return [f"{info.auth_name}:{info.code}" for info in infos if not info.deprecated]


# --- OGC CRS URIs (OGC API Features Part 2, Coverages): accept, transform in authority axis order ---

_URI_FORMS = ("http://www.opengis.net/def/crs/", "https://www.opengis.net/def/crs/", "urn:ogc:def:crs:")
_MAX_URI = 200


@lru_cache(maxsize=256)
def _canonical_uri(value: str) -> str | None:
    """The OGC URI of a CRS URI, URN or safe CURIE ``[AUTH:CODE]`` that PROJ identifies, else ``None``."""
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    elif not text.startswith(_URI_FORMS):
        return None
    crs = parse_crs(text) if len(text) <= _MAX_URI else None
    if crs is None or crs.to_authority() is None:
        return None
    return crs_uri(crs)


def check_crs_uri(value: str, supported: Iterable[str], *, param: str) -> str:
    """The canonical URI of ``value`` if it names one of ``supported`` CRSs, else a 400 naming ``param``.

    The one rule for CRS parameters: an OGC URI (http or https), URN or safe CURIE, identified by PROJ.

    >>> check_crs_uri("[EPSG:4326]", [CRS84_URI, "http://www.opengis.net/def/crs/EPSG/0/4326"], param="crs")
    'http://www.opengis.net/def/crs/EPSG/0/4326'
    """
    known = [_canonical_uri(s) or s for s in supported]
    uri = _canonical_uri(value)
    if uri not in known:
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise InvalidParameter(f"unsupported CRS '{shown}'; supported: {', '.join(known)}", param=param)
    return uri


def is_crs84(uri: str) -> bool:
    """True for the default lon/lat CRS (no transformation needed)."""
    return uri == CRS84_URI


@lru_cache(maxsize=32)
def _ogc_crs(uri: str) -> CRS:
    return normalize_crs(uri)


@lru_cache(maxsize=32)
def _ogc_transformer(source: str, target: str) -> Transformer:
    # Authority axis order on purpose (no always_xy): EPSG:4326 / 4269 answer lat, lon.
    return Transformer.from_crs(_ogc_crs(source), _ogc_crs(target))


def warm_transformers(uris: list[str]) -> None:
    """Create the CRS84 <-> ``uris`` transformers now (pyproj needs ~3 s to pick one for EPSG:4269)."""
    for uri in uris:
        if not is_crs84(uri):
            _ogc_transformer(CRS84_URI, uri)
            _ogc_transformer(uri, CRS84_URI)


def _transform(geoms, source: str, target: str):
    if source == target:
        return geoms
    transformer = _ogc_transformer(source, target)

    def _apply(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, _apply)


def database_crs(uri: str) -> tuple[int, bool] | None:
    """``(EPSG code, latitude first)`` of an OGC CRS URI, for a database that transforms in x/y order
    (PostGIS); ``None`` when the CRS has no EPSG code.

    >>> database_crs("http://www.opengis.net/def/crs/EPSG/0/4269"), database_crs(CRS84_URI)
    ((4269, True), None)
    """
    authority = _ogc_crs(uri).to_authority()
    if authority is None or authority[0] != "EPSG":
        return None
    return int(authority[1]), _ogc_crs(uri).axis_info[0].direction in ("north", "south")


def transform_geometries(geoms: np.ndarray, target: str) -> np.ndarray:
    """Transform CRS84 geometries to ``target`` (a CRS URI) in that CRS's own axis order."""
    return _transform(geoms, CRS84_URI, target)


def geometry_to_crs84(geom: shapely.Geometry, source: str) -> shapely.Geometry:
    """Transform one geometry given in ``source`` (a CRS URI, its axis order) to CRS84."""
    return _transform(geom, source, CRS84_URI)


Box = tuple[float, float, float, float]


def bbox_to_crs(bbox: Box, source: str, target: str) -> Box:
    """Transform a box from ``source`` to ``target`` (CRS URIs, their axis orders), densifying edges;
    non-finite values where the box leaves the domain of the transformation."""
    if crs_uri(source) == crs_uri(target):
        return bbox
    try:
        return tuple(_ogc_transformer(source, target).transform_bounds(*bbox, densify_pts=21))
    except ProjError:
        return (math.inf,) * 4


def bbox_to_crs84(bbox: Box, source: str, *, param: str = "bbox") -> Box:
    """A box given in ``source`` (a CRS URI, its axis order) as CRS84 lon/lat bounds.

    400 naming ``param`` when the box is outside the area of use of ``source`` (see
    :func:`check_area_of_use`) or cannot be transformed.
    """
    if is_crs84(source):
        lonlat = bbox
    else:
        lonlat = bbox_to_crs(bbox, source, CRS84_URI)
        if not all(math.isfinite(v) for v in lonlat):
            raise InvalidParameter(f"{list(bbox)} lies outside the domain of {source}", param=param)
    check_area_of_use(bbox, lonlat, source, param=param)
    return lonlat


def check_area_of_use(bbox: Box, lonlat: Box, source: str, *, param: str) -> None:
    """400 unless ``bbox`` (in ``source``; ``lonlat`` is it in CRS84) is a box ``source`` can express:
    degrees within ±90 / ±180 for a geographic CRS, overlapping the CRS's area of use and within it
    widened by its own size on each side (a state-plane CRS is meaningless a continent away)."""
    crs = _ogc_crs(source)
    if crs.is_geographic:
        lat_first = crs.axis_info[0].direction in ("north", "south")
        (lon0, lon1), (lat0, lat1) = ((bbox[1], bbox[3]), (bbox[0], bbox[2])) if lat_first else \
            ((bbox[0], bbox[2]), (bbox[1], bbox[3]))
        if lat0 < -90 or lat1 > 90 or lon0 < -180 or lon1 > 180:
            raise InvalidParameter(f"{list(bbox)}: latitude/longitude out of range for {source}", param=param)
    area = crs.area_of_use
    if area is None:
        return
    west, south, east, north = area.bounds
    if west > east:  # crosses the antimeridian (EPSG:4269): any longitude
        west, east = -180.0, 180.0
    margin = max(east - west, north - south, 1.0)
    if not (lonlat[0] <= east and west <= lonlat[2] and lonlat[1] <= north and south <= lonlat[3]):
        raise InvalidParameter(
            f"{list(bbox)} is outside the area of use of {source} ({area.name}: lon {west}..{east}, "
            f"lat {south}..{north})", param=param,
        )
    if lonlat[0] < west - margin or lonlat[2] > east + margin or lonlat[1] < south - margin \
            or lonlat[3] > north + margin:
        raise InvalidParameter(
            f"{list(bbox)} reaches far beyond the area of use of {source} ({area.name}: lon {west}..{east}, "
            f"lat {south}..{north})", param=param,
        )
