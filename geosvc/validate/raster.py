"""Raster rules: CRS, nodata, overviews, tiling / COG layout."""

from __future__ import annotations

import rasterio
from rasterio.errors import RasterioError

from geosvc.errors import SourceError
from geosvc.validate.codes import make_finding
from geosvc.validate.findings import Finding


def check_raster(path: str, layer: str) -> list[Finding]:
    """Findings for the raster at GDAL ``path``.

    Raises
    ------
    SourceError
        ``source.corrupt`` when GDAL cannot open it as a raster.
    """
    try:
        with rasterio.open(path) as ds:
            crs, nodata = ds.crs, ds.nodatavals
            overviews = ds.overviews(1) if ds.count else []
            tiled = bool(ds.profile.get("tiled", False))
            layout = ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT", "")
            size = f"{ds.width}x{ds.height}"
    except RasterioError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SourceError(f"cannot open raster: {first}", code="source.corrupt", layer=layer) from exc
    findings: list[Finding] = []
    if crs is None:
        findings.append(make_finding(layer, "raster.no_crs", "the raster has no CRS"))
    if all(v is None for v in nodata):
        findings.append(make_finding(layer, "raster.no_nodata", "no band has a nodata value"))
    if not overviews:
        findings.append(make_finding(layer, "raster.no_overviews", f"no overviews ({size} cells)"))
    if layout.upper() != "COG":
        how = "tiled" if tiled else "striped (not tiled)"
        findings.append(make_finding(layer, "raster.not_cog", f"not a Cloud Optimized GeoTIFF ({how}); converted at publish"))
    return findings
