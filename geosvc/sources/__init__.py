"""Read a layer record's source: vectors into GeoDataFrames (native CRS), rasters as GDAL paths."""

from geosvc.sources.location import raster_path
from geosvc.sources.table import JoinStats, PointStats
from geosvc.sources.vector import ReadResult, ReadStats, read_vector

__all__ = ["JoinStats", "PointStats", "ReadResult", "ReadStats", "raster_path", "read_vector"]
