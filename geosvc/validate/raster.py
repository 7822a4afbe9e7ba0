"""Raster rules: complete file, CRS (EPSG-coded, allowed), grid placed in the state, nodata, overviews, COG layout."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import rasterio
from rasterio.errors import RasterioError

from geosvc.crs import CRS, CRS84, crs_name, normalize_crs, same_crs
from geosvc.errors import SourceError
from geosvc.records.models import LayerRecord
from geosvc.settings import Settings
from geosvc.validate.codes import make_finding
from geosvc.validate.coords import check_grid_placement
from geosvc.validate.crs import check_crs
from geosvc.validate.findings import Finding

GRID_SAMPLE = 11  # cell centres per side sampled to place the grid


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def unreadable_block(path: str) -> str | None:
    """Where GDAL fails to read the raster at ``path`` (every block of every band and overview), or ``None``.

    A truncated GeoTIFF opens fine (its header is intact); only reading the cut blocks fails.
    """
    with rasterio.open(path) as ds:
        levels = len(ds.overviews(1)) if ds.count else 0
    for level in [None, *range(levels)]:
        with rasterio.open(path, overview_level=level) as ds:
            for band in ds.indexes:
                for (row, col), window in ds.block_windows(band):
                    try:
                        ds.read(band, window=window)
                    except RasterioError as exc:
                        where = "full resolution" if level is None else f"overview {level + 1}"
                        return f"band {band} block ({row}, {col}) at {where}: {_first_line(exc.__cause__ or exc)}"
    return None


def _cell_centres(ds) -> tuple[np.ndarray, np.ndarray]:
    cols = np.linspace(0.5, ds.width - 0.5, min(GRID_SAMPLE, ds.width))
    rows = np.linspace(0.5, ds.height - 0.5, min(GRID_SAMPLE, ds.height))
    c, r = np.meshgrid(cols, rows)
    t, c, r = ds.transform, c.ravel(), r.ravel()
    return t.a * c + t.b * r + t.c, t.d * c + t.e * r + t.f


def _crs_findings(crs: CRS, x: np.ndarray, y: np.ndarray, record: LayerRecord, settings: Settings) -> list[Finding]:
    layer = record.id
    if crs.to_epsg() is None and not same_crs(crs, CRS84):
        shown = crs_name(crs)
        return [
            make_finding(
                layer, "raster.crs_no_epsg",
                f"the raster's CRS '{shown}' has no EPSG code; clients and the coverage service would take its "
                "coordinates as lon/lat. Tag the file with the EPSG code of its CRS",
            )
        ]
    findings = check_crs(record, crs, settings.crs.allowed, crs_source="file")
    if any(f.severity == "error" for f in findings):
        return findings
    placement = check_grid_placement(x, y, crs, layer, settings.crs.allowed, tuple(settings.state.bbox), settings.state.name)
    if record.outside_state_extent == "keep":  # a raster of a wider area on purpose
        placement = [replace(f, severity="info") if f.code == "coords.outside_state" else f for f in placement]
    return findings + placement


def check_raster(path: str, record: LayerRecord, settings: Settings) -> list[Finding]:
    """Findings for ``record``'s raster at GDAL ``path``.

    Raises
    ------
    SourceError
        ``source.corrupt`` when GDAL cannot open it as a raster, or cannot read one of its blocks
        (a truncated file).
    """
    layer = record.id
    try:
        with rasterio.open(path) as ds:
            crs, nodata = ds.crs, ds.nodatavals
            overviews = ds.overviews(1) if ds.count else []
            tiled = bool(ds.profile.get("tiled", False))
            layout = ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT", "")
            size = f"{ds.width}x{ds.height}"
            x, y = _cell_centres(ds)
        broken = unreadable_block(path)
    except RasterioError as exc:
        raise SourceError(f"cannot open raster: {_first_line(exc)}", code="source.corrupt", layer=layer) from exc
    if broken:
        raise SourceError(f"the raster is truncated or corrupt: cannot read {broken}", code="source.corrupt", layer=layer)
    findings: list[Finding] = []
    if crs is None:
        findings.append(make_finding(layer, "raster.no_crs", "the raster has no CRS"))
    else:
        findings += _crs_findings(normalize_crs(crs.to_wkt()), x, y, record, settings)
    if all(v is None for v in nodata):
        findings.append(make_finding(layer, "raster.no_nodata", "no band has a nodata value"))
    if not overviews:
        findings.append(make_finding(layer, "raster.no_overviews", f"no overviews ({size} cells)"))
    if layout.upper() != "COG":
        how = "tiled" if tiled else "striped (not tiled)"
        findings.append(make_finding(layer, "raster.not_cog", f"not a Cloud Optimized GeoTIFF ({how}); converted at publish"))
    return findings
