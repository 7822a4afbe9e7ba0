"""Raster rules on GeoTIFFs written here (and a real COG made with GDAL's COG driver)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geosvc.errors import SourceError
from geosvc.records.models import LayerRecord
from geosvc.settings import load_settings
from geosvc.validate.raster import check_raster

RECORD = LayerRecord.model_validate(
    {"id": "grid", "kind": "raster", "title": "Grid", "theme": "testing", "update_cadence": "static", "source": {"path": "g.tif"}}
)
SETTINGS = load_settings()


def _write(path, driver="GTiff", **extra):
    profile = {
        "driver": driver, "width": 256, "height": 256, "count": 1, "dtype": "uint8",
        "crs": "EPSG:5070", "transform": from_origin(1_850_000, 2_350_000, 250, 250), "nodata": 0, **extra,
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.ones((1, 256, 256), dtype="uint8"))
    return str(path)


def test_cog_passes(tmp_path):
    path = _write(tmp_path / "cog.tif", driver="COG", blocksize=128, overview_resampling="nearest", overviews="AUTO")
    assert check_raster(path, RECORD, SETTINGS) == []


def test_plain_geotiff_has_each_warning(tmp_path):
    codes = {f.code: f.severity for f in check_raster(_write(tmp_path / "plain.tif", nodata=None), RECORD, SETTINGS)}
    assert codes == {"raster.no_nodata": "warning", "raster.no_overviews": "warning", "raster.not_cog": "warning"}


def test_missing_crs_is_an_error(tmp_path):
    findings = check_raster(_write(tmp_path / "nocrs.tif", crs=None), RECORD, SETTINGS)
    assert ("raster.no_crs", "error") in {(f.code, f.severity) for f in findings}


def test_not_a_raster_is_a_source_error(tmp_path):
    (tmp_path / "x.tif").write_bytes(b"definitely not a tiff")
    with pytest.raises(SourceError) as info:
        check_raster(str(tmp_path / "x.tif"), RECORD, SETTINGS)
    assert info.value.code == "source.corrupt" and info.value.layer == "grid"
