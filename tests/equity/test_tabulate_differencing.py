"""The differencing attacks on ``tabulate`` answers, run through the service on published layers.

A curious caller asks every table the API allows — each of two overlapping published geographies ×
every subset of the declared dimensions — and combines them with the public geometry (which pieces
of one geography lie in which unit of the other) as a linear programme (:mod:`support.differencing`).
Nothing withheld may come out. A negative control shows the same attacker does recover values when
only the small counts are withheld, so the harness is known to work on these answers.

The geographies are small synthetic polygon layers over Hartford (a 2 × 2 grid of districts and three
strips crossing them) so every linear programme stays small; the records are seeded synthetic people.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from support.differencing import recover
from support.postgis import store_settings

from geosvc.equity.budget import UNLIMITED
from geosvc.equity.crosstab import Dim
from geosvc.equity.service import EquityService
from geosvc.records.models import LayerRecord
from geosvc.store.backends import open_store
from geosvc.store.publish import publish_layer, publish_order
from geosvc.validate.layer import validate_layer

WEST, SOUTH, EAST, NORTH = -72.80, 41.65, -72.56, 41.85
DIMS = [Dim("race", ("a", "b", "c")), Dim("sex", ("f", "m"))]
PEOPLE = 260


def _record(layer_id: str, path: Path, geometry_type: str, **extra) -> LayerRecord:
    return LayerRecord.model_validate({
        "id": layer_id, "title": layer_id, "description": "synthetic test layer", "keywords": ["test"],
        "theme": "boundaries", "publisher": {"agency": "tests"}, "contact": {"name": "t", "email": "t@example.org"},
        "license": {"name": "CC0-1.0"}, "attribution": "tests", "source": {"path": str(path)},
        "id_field": "uid", "geometry_type": geometry_type, "crs": "EPSG:4326", "update_cadence": "static",
        "last_updated": "2024-01-01", **extra,
    })


def _polygons(boxes: dict[str, tuple[float, float, float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"uid": list(boxes), "NAME": list(boxes)},
                            geometry=[shapely.box(*b) for b in boxes.values()], crs="EPSG:4326")


@pytest.fixture(scope="module")
def attack(tmp_path_factory):
    root = tmp_path_factory.mktemp("differencing")
    midx, midy = (WEST + EAST) / 2, (SOUTH + NORTH) / 2
    districts = _polygons({"d1": (WEST, SOUTH, midx, midy), "d2": (midx, SOUTH, EAST, midy),
                           "d3": (WEST, midy, midx, NORTH), "d4": (midx, midy, EAST, NORTH)})
    third = (EAST - WEST) / 3
    strips = _polygons({f"s{i}": (WEST + i * third, SOUTH, WEST + (i + 1) * third, NORTH) for i in range(3)})
    rng = np.random.default_rng(5)
    # skewed categories so small cells are common; a few people outside both geographies
    people = gpd.GeoDataFrame({
        "uid": [f"p{i}" for i in range(PEOPLE)],
        "race": rng.choice(["a", "b", "c"], PEOPLE, p=[0.75, 0.2, 0.05]),
        "sex": rng.choice(["f", "m"], PEOPLE),
    }, geometry=shapely.points(rng.uniform(WEST - 0.02, EAST, PEOPLE), rng.uniform(SOUTH, NORTH, PEOPLE)),
        crs="EPSG:4326")
    paths = {}
    for name, frame in (("districts", districts), ("strips", strips), ("people", people)):
        paths[name] = root / f"{name}.gpkg"
        frame.to_file(paths[name], driver="GPKG")
    records = [
        _record("test-districts", paths["districts"], "Polygon"),
        _record("test-strips", paths["strips"], "Polygon"),
        _record("test-people", paths["people"], "Point", sensitivity="restricted", access={"roles": ["epi"]},
                record_level={"dimensions": [{"name": d.name, "field": d.name, "categories": list(d.categories)}
                                             for d in DIMS],
                              "geographies": ["test-districts", "test-strips"]}),
    ]
    settings = store_settings(store_dir=root / "store")
    store = open_store(settings)
    for record in publish_order(records):
        report = validate_layer(record, settings, store=store)
        assert report.ok, report.findings
        publish_layer(record, report, store, settings)
    service = EquityService(store, settings)
    tables = []
    for geography in ("test-districts", "test-strips"):
        for n in range(len(DIMS) + 1):
            for dims in itertools.combinations([d.name for d in DIMS], n):
                rows = service.run("tabulate", {"layer": "test-people", "geography": geography,
                                                "dimensions": list(dims)}, UNLIMITED).rows
                tables.append((geography, rows))
    # what the attacker knows: which district each strip piece lies in (public geometry)
    pairs = gpd.overlay(districts, strips, how="intersection", keep_geom_type=True)
    pieces = pd.DataFrame({"test-districts": pairs["uid_1"].to_numpy(), "test-strips": pairs["uid_2"].to_numpy()},
                          index=[f"{a}|{b}" for a, b in zip(pairs["uid_1"], pairs["uid_2"])])
    return tables, pieces, people, settings.equity.suppression_k


def test_combining_every_answer_recovers_no_withheld_value(attack):
    tables, pieces, _, _ = attack
    withheld = sum(int(rows["count"].isna().sum()) for _, rows in tables)
    assert withheld > 0  # the attack has something to aim at
    assert recover(tables, pieces, DIMS) == {}


def test_the_attacker_recovers_values_when_only_small_counts_are_withheld(attack):
    """Negative control: publish the complementary cells (primary suppression only) and values fall out."""
    tables, pieces, people, k = attack
    naive = []
    for geography, rows in tables:
        rows = rows.copy()
        complementary = rows["count_suppressed"] == "complementary"
        rows.loc[complementary, "count"] = [_true_count(people, geography, row) for _, row in rows[complementary].iterrows()]
        naive.append((geography, rows))
    assert any(r["count_suppressed"].eq("complementary").any() for _, r in tables)
    recovered = recover(naive, pieces, DIMS)
    assert recovered and all(0 < value < k or value == 0 for value in recovered.values())


def _true_count(people: gpd.GeoDataFrame, geography: str, row: pd.Series) -> int:
    """The exact count of a table cell, from the people and the synthetic boxes."""
    inside = pd.Series(True, index=people.index)
    if row["place_id"] != "state":
        column = {"test-districts": _district, "test-strips": _strip}[geography]
        inside = column(people) == row["place_id"]
    for dim in DIMS:
        if dim.name in row and row[dim.name] != "total":
            inside &= people[dim.name] == row[dim.name]
    return int(inside.sum())


def _district(people: gpd.GeoDataFrame) -> pd.Series:
    midx, midy = (WEST + EAST) / 2, (SOUTH + NORTH) / 2
    x, y = people.geometry.x, people.geometry.y
    name = np.where(y < midy, np.where(x < midx, "d1", "d2"), np.where(x < midx, "d3", "d4"))
    return pd.Series(np.where(x < WEST, None, name), index=people.index)


def _strip(people: gpd.GeoDataFrame) -> pd.Series:
    third = (EAST - WEST) / 3
    x = people.geometry.x
    index = np.floor((x - WEST) / third).astype(int)
    return pd.Series(np.where(x < WEST, None, [f"s{i}" for i in index.clip(0, 2)]), index=people.index)


def test_town_by_race_by_sex_tables_cannot_be_broken(tmp_path):
    """The issue's case on the real towns: every table of towns × race/ethnicity × sex (and each margin
    alone) from 2,000 synthetic people, combined: nothing withheld is recovered."""
    from support.equity_catalog import RECORDS, publish_record_sample

    settings, store, _ = publish_record_sample(tmp_path, geographies=("ct-towns",))
    service = EquityService(store, settings)
    record = next(x for x in store.published() if x.id == RECORDS).record.record_level
    declared = {d.name: Dim(d.name, tuple(d.categories)) for d in record.dimensions}
    asked = ["race_ethnicity", "sex"]
    tables = [("ct-towns", service.run("tabulate", {"layer": RECORDS, "geography": "ct-towns",
                                                     "dimensions": list(dims)}, UNLIMITED).rows[
        ["place_id", *dims, "count"]]) for n in range(3) for dims in itertools.combinations(asked, n)]
    assert sum(int(rows["count"].isna().sum()) for _, rows in tables) > 100
    towns = sorted(set(tables[0][1]["place_id"]) - {"state"})
    pieces = pd.DataFrame({"ct-towns": towns}, index=towns)
    # the attacker sees only race and sex: the third dimension (age) is summed out of every table
    pinned = recover(tables, pieces, [declared[d] for d in asked])
    # a complementary 0 (chosen only where a line offers nothing else) may be pinned at 0, a value primary
    # suppression publishes anyway; no withheld non-zero count comes out
    assert all(value == 0 for value in pinned.values()), {k: v for k, v in pinned.items() if v}
