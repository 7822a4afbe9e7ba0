"""Rasters for the store: copy a source to a Cloud Optimized GeoTIFF, derive a population-density surface."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.shutil
from rasterio.features import rasterize
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds

COG_OPTIONS = {"COMPRESS": "DEFLATE", "BLOCKSIZE": "512", "OVERVIEWS": "AUTO", "OVERVIEW_RESAMPLING": "AVERAGE"}
NODATA = -9999.0
SUPERSAMPLE = 10  # sub-cells per cell side when spreading polygon values


def write_cog(src_path: str, dst: Path) -> dict:
    """Copy a raster (any GDAL path) to a tiled, compressed COG with overviews; return catalog meta."""
    with rasterio.open(src_path) as src:
        rasterio.shutil.copy(src, dst, driver="COG", **COG_OPTIONS)
        crs = src.crs
        bbox = transform_bounds(crs, "OGC:CRS84", *src.bounds, densify_pts=21) if crs else tuple(src.bounds)
        authority = crs.to_authority() if crs else None
        return {
            "native_crs": ":".join(authority) if authority else (crs.to_wkt() if crs else "unknown"),
            "bbox": bbox,
            "fields": {f"band_{i}": "number" for i in range(1, src.count + 1)},
        }


def density_grid(
    polygons: gpd.GeoDataFrame, value_field: str, cell_size: float, crs: str
) -> tuple[np.ndarray, rasterio.Affine, float]:
    """People per km² on a ``cell_size`` m grid in ``crs`` (equal-area, metres).

    Each polygon's value is spread evenly over its area (density = value / area in km²). The grid is
    rasterised at ``SUPERSAMPLE``x finer resolution (the polygon holding each sub-cell centre) and each
    cell is the mean density of its sub-cells, sub-cells outside every polygon counting 0; cells
    outside every polygon are nodata. Polygons with a missing value are treated as outside.

    Returns the grid (float32, ``NODATA`` outside), its affine transform, and the total value the
    grid represents (sum of density x cell area), for comparison with the input total.
    """
    frame = polygons.to_crs(crs)
    values = frame[value_field].to_numpy(dtype="float64")
    area_km2 = frame.geometry.area.to_numpy() / 1e6
    keep = np.isfinite(values) & (area_km2 > 0)
    frame, density = frame[keep], values[keep] / area_km2[keep]

    minx, miny, maxx, maxy = frame.total_bounds
    minx, miny = math.floor(minx / cell_size) * cell_size, math.floor(miny / cell_size) * cell_size
    width, height = math.ceil((maxx - minx) / cell_size), math.ceil((maxy - miny) / cell_size)
    fine = cell_size / SUPERSAMPLE
    transform = from_origin(minx, miny + height * cell_size, cell_size, cell_size)
    index = rasterize(
        zip(frame.geometry, range(1, len(frame) + 1)),
        out_shape=(height * SUPERSAMPLE, width * SUPERSAMPLE),
        transform=from_origin(minx, miny + height * cell_size, fine, fine),
        fill=0,
        dtype="int32",
    )
    lookup = np.concatenate([[0.0], density]).astype("float32")
    blocks = lookup[index].reshape(height, SUPERSAMPLE, width, SUPERSAMPLE)
    grid = blocks.mean(axis=(1, 3), dtype="float64").astype("float32")
    covered = (index.reshape(height, SUPERSAMPLE, width, SUPERSAMPLE) > 0).any(axis=(1, 3))
    represented = float(grid[covered].sum() * (cell_size / 1000) ** 2)
    grid[~covered] = NODATA
    return grid, transform, represented


def write_grid_cog(grid: np.ndarray, transform, crs: str, dst: Path) -> None:
    """Write a single-band float32 grid as a COG (via an in-memory GeoTIFF)."""
    profile = {
        "driver": "GTiff",
        "height": grid.shape[0],
        "width": grid.shape[1],
        "count": 1,
        "dtype": "float32",
        "crs": crs,
        "transform": transform,
        "nodata": NODATA,
    }
    with rasterio.MemoryFile() as mem:
        with mem.open(**profile) as tmp:
            tmp.write(grid, 1)
            tmp.set_band_description(1, "people per km2")
        with mem.open() as tmp:
            rasterio.shutil.copy(tmp, dst, driver="COG", **COG_OPTIONS)
