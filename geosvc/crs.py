"""CRS helpers: the only place that turns user or file CRS values into :class:`pyproj.CRS`.

Normalise once at the boundary, compare semantically, store as an authority code (or WKT2 when
there is none), and always transform with ``always_xy=True`` (lon/lat, x/y order).

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


def require_projected(value: CrsLike, *, layer: str | None = None) -> CRS:
    """Return the CRS if projected; refuse degrees where areas or distances matter.

    >>> require_projected("EPSG:5070").name
    'NAD83 / Conus Albers'
    """
    crs = normalize_crs(value)
    if not crs.is_projected:
        raise InvalidParameter(
            f"CRS '{crs.name}' is not projected; areas and distances need a projected CRS",
            layer=layer,
            param="crs",
        )
    return crs


def transformer(src: CrsLike, dst: CrsLike = CRS84) -> Transformer:
    """Transformer from ``src`` to ``dst`` in x/y (lon/lat) order."""
    return Transformer.from_crs(normalize_crs(src), normalize_crs(dst), always_xy=True)


@lru_cache(maxsize=32)
def axis_order_transformer(src: str, dst: str = CRS84) -> Transformer:
    """Transformer from ``src`` in its authority axis order (EPSG:4326 reads lat, lon, as an OGC
    ``filter-crs`` does) to ``dst`` (CRS84: lon, lat); cached, as building one can take seconds."""
    return Transformer.from_crs(normalize_crs(src), normalize_crs(dst))


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


# -- OGC API CRS URIs (crs, bbox-crs, filter-crs): authority axis order, CRS84 by default -------------------
def check_crs_uri(uri: str, supported: list[str], *, param: str) -> str:
    """Return ``uri`` if it is one of ``supported`` (URI or ``[AUTH:CODE]`` safe CURIE), else raise 400."""
    value = uri.strip()
    if value.startswith("[") and value.endswith("]"):
        auth, _, code = value[1:-1].partition(":")
        value = f"http://www.opengis.net/def/crs/{auth.upper()}/{'1.3' if auth.upper() == 'OGC' else '0'}/{code}"
    value = value.replace("https://", "http://", 1)
    if value not in supported:
        raise InvalidParameter(f"unsupported CRS '{uri}'; supported: {', '.join(supported)}", param=param)
    return value


def warm_transformers(uris: list[str]) -> None:
    """Create the CRS84 <-> ``uris`` transformers now (pyproj needs ~3 s to pick one for EPSG:4269)."""
    for uri in uris:
        if uri != CRS84_URI:
            axis_order_transformer(CRS84_URI, uri)
            axis_order_transformer(uri, CRS84_URI)


def is_crs84(uri: str) -> bool:
    """True for the default lon/lat CRS URI (no transformation needed)."""
    return uri == CRS84_URI


def _transform(geoms, source: str, target: str):
    if source == target:
        return geoms
    transformer = axis_order_transformer(source, target)

    def _apply(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, _apply)


def transform_geometries(geoms: np.ndarray, target: str) -> np.ndarray:
    """Transform CRS84 geometries to ``target`` (a URI) in that CRS's own axis order."""
    return _transform(geoms, CRS84_URI, target)


def bbox_to_crs84(bbox: tuple[float, float, float, float], source: str) -> tuple[float, ...]:
    """Transform a bbox given in ``source`` (a URI; its axis order) to CRS84 lon/lat, densifying edges."""
    if is_crs84(source):
        return bbox
    return tuple(axis_order_transformer(source, CRS84_URI).transform_bounds(*bbox, densify_pts=21))


def geometry_to_crs84(geom: shapely.Geometry, source: str) -> shapely.Geometry:
    """Transform one geometry given in ``source`` (a URI) to CRS84."""
    return _transform(geom, source, CRS84_URI)
