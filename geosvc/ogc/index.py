"""In-memory index of one published vector layer version, built once and shared by every request.

It holds CRS84 geometries, their bounds in an STRtree, the attribute frame and each feature already
encoded as GeoJSON bytes, so an items page is assembled by joining byte strings.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from geosvc.errors import NotFound
from geosvc.ogc.crs import is_crs84, transform_geometries
from geosvc.ogc.gzipjoin import deflate_piece
from geosvc.store.base import PublishedLayer, Store

_ORJSON = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _naive_utc(frame: pd.DataFrame) -> pd.DataFrame:
    """Timezone-aware datetime columns as naive UTC, so filters compare them with plain timestamps."""
    out = frame.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.DatetimeTZDtype):
            out[name] = out[name].dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def _plain_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Attribute frame with JSON-ready values: datetimes as ISO strings, missing as None."""
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            text = col.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            if (col.dropna().dt.normalize() == col.dropna()).all():
                text = col.dt.strftime("%Y-%m-%d")
            out[name] = text.where(col.notna(), None)
    return out


def to_records(frame: pd.DataFrame) -> list[dict]:
    """One plain dict per row (NaN/NaT become None)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def encode_properties(records: list[dict]) -> list[bytes]:
    """One JSON object per row."""
    return [orjson.dumps(r, option=_ORJSON) for r in records]


def encode_geometries(geoms: np.ndarray) -> list[bytes]:
    """GeoJSON geometry per feature (``null`` for missing)."""
    texts = shapely.to_geojson(geoms)
    return [t.encode() if t is not None else b"null" for t in texts]


@dataclass
class LayerIndex:
    """Query-ready view of one published layer version."""

    layer: PublishedLayer
    frame: gpd.GeoDataFrame  # typed attributes + 'geometry' (CRS84), positional index
    records: list[dict]  # JSON-ready attributes per feature (ISO dates, None for missing)
    times: pd.Series | None  # the record's time field as UTC timestamps
    geometries: np.ndarray  # CRS84 shapely geometries by position
    ids: list[str]  # feature id as text, per position
    id_json: list[bytes]  # feature id as JSON (number or string)
    props_json: list[bytes]
    geom_json: dict[str, list[bytes]]  # CRS URI -> encoded geometries (CRS84 eager, others lazy)
    features: list[bytes]  # full CRS84 features
    tree: shapely.STRtree
    position: dict[str, int]
    _deflated: list[bytes] | None = None  # b"," + feature, deflated (see geosvc.ogc.gzipjoin)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(cls, layer: PublishedLayer, gdf: gpd.GeoDataFrame) -> LayerIndex:
        """Encode every feature of ``gdf`` (CRS84) once."""
        gdf = gdf.reset_index(drop=True)
        geoms = np.asarray(gdf.geometry.values)
        attrs = _naive_utc(pd.DataFrame(gdf.drop(columns=gdf.geometry.name)))
        records = to_records(_plain_frame(attrs))
        time_field = layer.record.time_field
        times = None
        if time_field and time_field in attrs.columns:
            times = pd.to_datetime(attrs[time_field], errors="coerce", utc=True, format="mixed")
        id_field = layer.record.id_field
        if id_field and id_field in attrs.columns:
            raw_ids = attrs[id_field].tolist()
        else:
            raw_ids = list(range(1, len(attrs) + 1))
        ids = [str(v) for v in raw_ids]
        id_json = [orjson.dumps(v, option=_ORJSON) for v in raw_ids]
        props = encode_properties(records)
        geom = encode_geometries(geoms)
        features = [assemble_feature(i, g, p) for i, g, p in zip(id_json, geom, props)]
        frame = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(geoms, crs="OGC:CRS84"))
        return cls(
            layer=layer,
            frame=frame,
            records=records,
            times=times,
            geometries=geoms,
            ids=ids,
            id_json=id_json,
            props_json=props,
            geom_json={"crs84": geom},
            features=features,
            tree=shapely.STRtree(geoms),
            position={fid: i for i, fid in enumerate(ids)},
        )

    @property
    def property_names(self) -> list[str]:
        """Attribute names in frame order."""
        return [c for c in self.frame.columns if c != "geometry"]

    def geometries_json(self, crs: str) -> list[bytes]:
        """Encoded geometries in ``crs`` (computed once per CRS, then cached)."""
        key = "crs84" if is_crs84(crs) else crs
        cached = self.geom_json.get(key)
        if cached is None:
            with self._lock:
                cached = self.geom_json.get(key)
                if cached is None:
                    cached = encode_geometries(transform_geometries(self.geometries, crs))
                    self.geom_json[key] = cached
        return cached

    def deflated(self) -> list[bytes]:
        """Per-feature deflated ``b"," + feature`` pieces (built once, on first use or at warm-up)."""
        if self._deflated is None:
            with self._lock:
                if self._deflated is None:
                    self._deflated = [deflate_piece(b"," + feature) for feature in self.features]
        return self._deflated

    def locate(self, fid: str) -> int:
        """Position of feature ``fid``; 404 if absent."""
        try:
            return self.position[fid]
        except KeyError:
            raise NotFound(f"no feature '{fid}'", layer=self.layer.id) from None


def assemble_feature(id_json: bytes, geom_json: bytes, props_json: bytes) -> bytes:
    """One GeoJSON Feature from pre-encoded parts."""
    return b'{"type":"Feature","id":%s,"geometry":%s,"properties":%s}' % (id_json, geom_json, props_json)


class IndexCache:
    """One :class:`LayerIndex` per published (id, version), built lazily under a lock."""

    def __init__(self, store: Store, layers: dict[str, PublishedLayer]):
        self._store = store
        self._layers = layers
        self._indexes: dict[tuple[str, int], LayerIndex] = {}
        self._lock = threading.Lock()

    @property
    def layers(self) -> dict[str, PublishedLayer]:
        """Served vector layers by id."""
        return self._layers

    def get(self, layer_id: str) -> LayerIndex:
        """Index of a served vector layer; 404 for anything else."""
        layer = self._layers.get(layer_id)
        if layer is None:
            raise NotFound(f"no collection '{layer_id}'", layer=layer_id)
        key = (layer.id, layer.version)
        index = self._indexes.get(key)
        if index is None:
            with self._lock:
                index = self._indexes.get(key)
                if index is None:
                    index = LayerIndex.build(layer, self._store.read_features(layer.id))
                    self._indexes[key] = index
        return index

    def warm(self) -> None:
        """Build every index now (at start-up) so no client pays for it."""
        for layer_id in self._layers:
            self.get(layer_id).deflated()
