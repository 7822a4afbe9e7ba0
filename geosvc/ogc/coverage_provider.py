"""pygeoapi's rasterio coverage provider, taught to take ``bbox-crs`` as an OGC CRS URI.

Stock ``RasterioProvider.query`` calls ``CRS.from_epsg(bbox_crs)``, so a URI fails with a 500, and it
reprojects only two corners of the box. Here the box (already checked by
:mod:`geosvc.ogc.coverage_guard`) is transformed to the raster's own CRS with densified edges and
handed to the stock code as a native-CRS box. The CoverageJSON domain also names the native CRS by
its proper URI (stock code writes ``…/OGC/1.3/<epsg>`` for projected rasters).
"""

from __future__ import annotations

from pygeoapi.provider.rasterio_ import RasterioProvider

from geosvc.crs import CRS84_URI, crs_uri
from geosvc.ogc.coverage_guard import bbox_to_crs


class CogCoverageProvider(RasterioProvider):
    """Coverage provider for a published COG."""

    def __init__(self, provider_def: dict):
        super().__init__(provider_def)
        self._native_uri = crs_uri(self._data.crs.to_wkt())
        if self._data.crs.is_projected:
            self._coverage_properties["bbox_crs"] = self._native_uri

    def query(self, bbox=None, bbox_crs=None, **kwargs):
        """Query the coverage; ``bbox`` is in ``bbox_crs`` (a CRS URI, default CRS84)."""
        if bbox:
            bbox = list(bbox_to_crs(tuple(bbox), bbox_crs or CRS84_URI, self._native_uri))
            bbox_crs = self._data.crs.to_epsg()
        return super().query(bbox=bbox, bbox_crs=bbox_crs or 4326, **kwargs)
