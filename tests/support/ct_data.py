"""Real Connecticut inputs for the equity tests and benchmark, read straight from the data root.

They read the shared files as the layer records describe them, independently of geosvc's reader,
so the engine is cross-checked against tobler on inputs geosvc did not prepare: 2010 tracts joined
to the Planning Database by GEOID10 = GIDTR, the drought layer filtered to DM >= 2, the 2017 towns.
Everything is returned in EPSG:5070 and cached per process.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geosvc.settings import load_settings

POPULATION = "Tot_Population_ACS_12_16"
PERCENTS = {"hispanic": "pct_Hispanic_ACS_12_16", "nh_white": "pct_NH_White_alone_ACS_12_16",
            "nh_black": "pct_NH_Blk_alone_ACS_12_16"}


def data_root() -> Path:
    return load_settings().data.root


@cache
def tracts() -> gpd.GeoDataFrame:
    """833 tracts with total population and Hispanic / NH White / NH Black counts."""
    root = data_root()
    shapes = gpd.read_file(root / "tracts/tl_2010_09_tract10.zip").to_crs("EPSG:5070")
    table = pd.read_csv(root / "tracts/pdb2018tr_ct_htc.csv", dtype={"GIDTR": str}, na_values=["na"])
    # two tracts appear twice: one row holds the values, the other is mostly 'na'
    table = table.sort_values(POPULATION, na_position="last").drop_duplicates("GIDTR", keep="first")
    frame = shapes.merge(table, left_on="GEOID10", right_on="GIDTR", how="left").set_index("GEOID10")
    frame["total"] = frame[POPULATION]
    for group, column in PERCENTS.items():
        frame[group] = (frame[column] * frame["total"] / 100).where(frame["total"] != 0, 0.0)
    return frame[["total", *PERCENTS, "geometry"]]


@cache
def drought() -> gpd.GeoDataFrame:
    """The national USDM polygons with DM >= 2 (EPSG:5070)."""
    frame = gpd.read_file(data_root() / "hazard/usdm_20161004/USDM_20161004.shp")
    return frame[frame["DM"] >= 2].to_crs("EPSG:5070")


@cache
def drought_union() -> gpd.GeoDataFrame:
    """One polygon: the union of the DM >= 2 drought polygons."""
    return gpd.GeoDataFrame(geometry=[drought().union_all()], crs="EPSG:5070")


@cache
def towns() -> gpd.GeoDataFrame:
    """The 169 towns indexed by GEOID, with NAME (EPSG:5070)."""
    frame = gpd.read_file(data_root() / "towns/cb_2017_09_cousub_500k.shp").to_crs("EPSG:5070")
    return frame.set_index("GEOID")[["NAME", "geometry"]]


@cache
def towns_in_drought() -> gpd.GeoDataFrame:
    """Town ∩ drought union polygons (the explicit overlay tobler is given)."""
    return gpd.GeoDataFrame(
        {"NAME": towns()["NAME"]}, geometry=towns().intersection(drought_union().geometry.iloc[0]), crs="EPSG:5070"
    )
