"""pygeoapi's rasterio coverage provider, taught to take ``bbox-crs`` as an OGC CRS URI.

Stock ``RasterioProvider.query`` calls ``CRS.from_epsg(bbox_crs)``, so a URI fails with a 500, and it
reprojects only two corners of the box. Here the box (already checked by
:mod:`geosvc.ogc.coverage_guard`) is transformed to the raster's own CRS with densified edges and
handed to the stock code as a native-CRS box; boxes and subsets are clipped to the raster, so the
CoverageJSON domain describes the cells returned (stock code echoes the request). The domain also
names the native CRS by its proper URI (stock code writes ``…/OGC/1.3/<epsg>`` for projected rasters), and the band is named
``band_<n>`` and described by the GeoTIFF band description (stock code reads names from GRIB only, so a
GeoTIFF band is the parameter ``None``).
"""

from __future__ import annotations

from pygeoapi.provider.rasterio_ import RasterioProvider

from geosvc.crs import CRS84_URI, bbox_to_crs, crs_uri


class CogCoverageProvider(RasterioProvider):
    """Coverage provider for a published COG."""

    def __init__(self, provider_def: dict):
        super().__init__(provider_def)
        self._native_uri = crs_uri(self._data.crs.to_wkt())
        if self._data.crs.is_projected:
            self._coverage_properties["bbox_crs"] = self._native_uri

    def get_fields(self) -> dict:
        """Bands as fields ``"1"``, ``"2"``…, titled by their GeoTIFF descriptions."""
        fields = super().get_fields()
        for index, description in zip(self._data.indexes, self._data.descriptions, strict=True):
            fields[str(index)]["title"] = description or f"band_{index}"
        return fields

    def gen_covjson(self, metadata, data):
        """CoverageJSON with the (single) band named ``band_<n>`` instead of ``None``."""
        coverage = super().gen_covjson(metadata, data)
        bands = metadata["bands"] or list(self._data.indexes)
        if None in coverage["parameters"] and len(bands) == 1:
            name = f"band_{bands[0]}"
            label = self._data.descriptions[bands[0] - 1] or name
            unit = self._data.units[bands[0] - 1] or label
            parameter = coverage["parameters"].pop(None)
            parameter |= {
                "description": {"en": label},
                "unit": {"symbol": unit},
                "observedProperty": {"id": name, "label": {"en": label}},
            }
            coverage["parameters"][name] = parameter
            coverage["ranges"][name] = coverage["ranges"].pop(None)
        return coverage

    def query(self, bbox=None, bbox_crs=None, subsets=None, **kwargs):
        """Query the coverage; ``bbox`` is in ``bbox_crs`` (a CRS URI, default CRS84)."""
        left, bottom, right, top = self._data.bounds
        if bbox:
            x0, y0, x1, y1 = bbox_to_crs(tuple(bbox), bbox_crs or CRS84_URI, self._native_uri)
            bbox = [max(x0, left), max(y0, bottom), min(x1, right), min(y1, top)]
            bbox_crs = self._data.crs.to_epsg()
        x, y = self._coverage_properties["x_axis_label"], self._coverage_properties["y_axis_label"]
        if subsets and x in subsets and y in subsets:
            subsets = {**subsets, x: [max(subsets[x][0], left), min(subsets[x][1], right)],
                       y: [max(subsets[y][0], bottom), min(subsets[y][1], top)]}
        return super().query(bbox=bbox, bbox_crs=bbox_crs or 4326, subsets=subsets or {}, **kwargs)
