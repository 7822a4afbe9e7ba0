"""Seeded synthetic people drawn from the 2010 tract populations, and record-level layers made of them.

:func:`make_records` draws ``n`` people: a tract with probability proportional to its population, then
race/ethnicity from the tract's Planning Database shares, age band (65+ from the tract's share, 0-17 a
statewide share) and sex; each person is a point uniform within the tract. :func:`ct_tract_populations`
reads the real tracts in the shape it wants; any frame with the same columns works (e.g. a few squares).
:func:`write_record_layer` writes the people as a geoid-located CSV (no coordinates) or a point GeoPackage
with the matching layer record YAML, into a temp dir. Nothing here is committed data.

Usage::

    from support.synthetic_records import ct_tract_populations, make_records, write_record_layer
    people = make_records(ct_tract_populations(), 2000, seed=7)
    record, yaml_path = write_record_layer(tmp_path, people, kind="csv")
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml
from support.broken_inputs import record_for
from support.ct_data import POPULATION, data_root

RACE = ["hispanic", "white_nh", "black_nh", "asian_nh", "other_nh"]
SEX = ["female", "male"]
AGE = ["0_17", "18_64", "65_plus"]
SHARE_COLUMNS = {"hispanic": "pct_Hispanic_ACS_12_16", "white_nh": "pct_NH_White_alone_ACS_12_16",
                 "black_nh": "pct_NH_Blk_alone_ACS_12_16", "asian_nh": "pct_NH_Asian_alone_ACS_12_16",
                 "age_65_plus": "pct_Pop_65plus_ACS_12_16"}
CHILD_SHARE = 0.21  # Connecticut's share aged 0-17 (ACS 2012-2016), the PDB has no tract value
FEMALE_SHARE = 0.513
DIMENSIONS = [
    {"name": "race_ethnicity", "field": "race_ethnicity", "scheme": "OMB 1997", "categories": RACE,
     "labels": {"hispanic": "Hispanic or Latino", "white_nh": "Non-Hispanic White", "black_nh": "Non-Hispanic Black",
                "asian_nh": "Non-Hispanic Asian", "other_nh": "Non-Hispanic other or multiple races"}},
    {"name": "sex", "field": "sex", "categories": SEX},
    {"name": "age_band", "field": "age_band", "categories": AGE, "scheme": "age bands 0-17, 18-64, 65+"},
]


@cache
def ct_tract_populations() -> gpd.GeoDataFrame:
    """The 833 real 2010 tracts (EPSG:4269, as published) with GEOID10, ``total`` and shares 0..1 per category."""
    root = data_root()
    shapes = gpd.read_file(root / "tracts/tl_2010_09_tract10.zip", columns=["GEOID10"])
    table = pd.read_csv(root / "tracts/pdb2018tr_ct_htc.csv", dtype={"GIDTR": str}, na_values=["na"],
                        usecols=["GIDTR", POPULATION, *SHARE_COLUMNS.values()])
    table = table.sort_values(POPULATION, na_position="last").drop_duplicates("GIDTR", keep="first")
    frame = shapes.merge(table, left_on="GEOID10", right_on="GIDTR", how="left")
    out = gpd.GeoDataFrame({"GEOID10": frame["GEOID10"], "total": frame[POPULATION].fillna(0)},
                           geometry=frame.geometry, crs=frame.crs)
    for name, column in SHARE_COLUMNS.items():
        out[name] = frame[column].fillna(0) / 100
    return out


def _shares(tracts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per tract: race probabilities (other_nh = the rest) and age probabilities, rows summing to 1."""
    race = np.column_stack([tracts.get(c, pd.Series(0.0, index=tracts.index)).to_numpy(float) for c in RACE[:-1]])
    race = np.clip(race, 0, 1)
    race = race / np.maximum(race.sum(axis=1, keepdims=True), 1)
    race = np.column_stack([race, 1 - race.sum(axis=1)])
    old = np.clip(tracts.get("age_65_plus", pd.Series(0.15, index=tracts.index)).to_numpy(float), 0, 1 - CHILD_SHARE)
    age = np.column_stack([np.full(len(old), CHILD_SHARE), 1 - CHILD_SHARE - old, old])
    return race, age


def _draw(rng: np.random.Generator, probabilities: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One category index per entry of ``rows`` from that row's probabilities (inverse CDF)."""
    cdf = np.cumsum(probabilities[rows], axis=1)
    picked = (rng.random(len(rows))[:, None] > cdf).sum(axis=1)
    return np.minimum(picked, probabilities.shape[1] - 1)


def _points_within(rng: np.random.Generator, polygon, count: int) -> np.ndarray:
    """``count`` points uniform within ``polygon`` (rejection sampling in its bounding box)."""
    minx, miny, maxx, maxy = polygon.bounds
    found: list[np.ndarray] = []
    have = 0
    while have < count:
        x = rng.uniform(minx, maxx, 4 * count + 8)
        y = rng.uniform(miny, maxy, 4 * count + 8)
        inside = shapely.contains_xy(polygon, x, y)
        found.append(shapely.points(x[inside], y[inside]))
        have += int(inside.sum())
    return np.concatenate(found)[:count]


def make_records(tracts: gpd.GeoDataFrame, n: int, seed: int, *, geoid: str = "GEOID10") -> gpd.GeoDataFrame:
    """``n`` seeded synthetic people located in ``tracts`` (a frame with ``geoid``, ``total`` and optional
    share columns ``hispanic``, ``white_nh``, ``black_nh``, ``asian_nh``, ``age_65_plus`` in 0..1).

    Returns points in ``tracts``' CRS with ``case_id``, ``tract_geoid``, ``race_ethnicity``, ``sex`` and
    ``age_band``, sorted by case id.
    """
    rng = np.random.default_rng(seed)
    weights = tracts["total"].to_numpy(float).clip(min=0)
    rows = rng.choice(len(tracts), size=n, p=weights / weights.sum())
    race_p, age_p = _shares(tracts)
    race = np.asarray(RACE)[_draw(rng, race_p, rows)]
    age = np.asarray(AGE)[_draw(rng, age_p, rows)]
    sex = np.where(rng.random(n) < FEMALE_SHARE, "female", "male")
    geometry = np.empty(n, dtype=object)
    polygons = tracts.geometry.to_numpy()
    for row in np.unique(rows):
        where = np.flatnonzero(rows == row)
        geometry[where] = _points_within(rng, polygons[row], len(where))
    return gpd.GeoDataFrame(
        {"case_id": [f"c{i:06d}" for i in range(n)], "tract_geoid": tracts[geoid].to_numpy()[rows],
         "race_ethnicity": race, "sex": sex, "age_band": age},
        geometry=gpd.GeoSeries(geometry, crs=tracts.crs), crs=tracts.crs,
    )


def record_level_record(layer_id: str, source_path: str, kind: Literal["csv", "gpkg"], *,
                        geographies: list[str] | None = None, location_layer: str = "ct-tracts-2010",
                        key: str = "GEOID10", **overrides: Any) -> dict[str, Any]:
    """A record dict (YAML-ready) of a restricted record-level layer over ``source_path``; ``overrides``
    replace top-level fields (``None`` removes one)."""
    block: dict[str, Any] = {"dimensions": DIMENSIONS, "geographies": geographies or [location_layer]}
    if kind == "csv":
        block["location"] = {"field": "tract_geoid", "layer": location_layer, "key": key}
    return record_for(
        "synthetic", source_path, **{
            "id": layer_id,
            "title": "Synthetic case records (test data)",
            "description": "Seeded synthetic people drawn from the 2010 tract populations by "
                           "tests/support/synthetic_records.py",
            "theme": "health",
            "id_field": "case_id",
            "crs": "EPSG:4326" if kind == "gpkg" else None,
            "sensitivity": "restricted",
            "access": {"roles": ["epi"]},
            "record_level": block,
            **overrides,
        })


def write_record_layer(directory: Path, people: gpd.GeoDataFrame, kind: Literal["csv", "gpkg"] = "csv", *,
                       layer_id: str = "synthetic-cases", **record_fields: Any) -> tuple[dict[str, Any], Path]:
    """Write ``people`` under ``directory`` as a geoid-located CSV (no coordinates) or a point GeoPackage
    (EPSG:4326), and its record as ``directory/layers/<layer_id>.yaml``; returns the record dict and that path.

    The source path in the record is absolute, so it resolves whatever the data root is.
    """
    directory.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        source = directory / f"{layer_id}.csv"
        pd.DataFrame(people.drop(columns=people.geometry.name)).to_csv(source, index=False)
    else:
        source = directory / f"{layer_id}.gpkg"
        people.to_crs("EPSG:4326").to_file(source, layer=layer_id, driver="GPKG")
    record = record_level_record(layer_id, str(source), kind, **record_fields)
    layers = directory / "layers"
    layers.mkdir(exist_ok=True)
    path = layers / f"{layer_id}.yaml"
    path.write_text(yaml.safe_dump(record, sort_keys=False), encoding="utf-8")
    return record, path
