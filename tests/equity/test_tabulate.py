"""``tabulate`` on a published synthetic record-level layer: the answers, their protection and their errors.

The records are seeded synthetic people drawn from the real 2010 tract populations
(:mod:`support.synthetic_records`), published as a restricted point layer tabulated by towns and
tracts, with race/ethnicity denominators from the tracts layer.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from support.equity_catalog import RECORD_PEOPLE as PEOPLE
from support.equity_catalog import RECORDS as LAYER
from support.equity_catalog import publish_record_sample

from geosvc.equity.budget import UNLIMITED
from geosvc.equity.constants import STATE, TOTAL
from geosvc.equity.report import encode
from geosvc.equity.service import EquityService
from geosvc.errors import GeosvcError, InvalidParameter, NotFound, PrivacyBudgetExhausted

DIMS = ["race_ethnicity", "sex", "age_band"]


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A store with the equity sample and the synthetic record-level layer; the people (truth) too."""
    return publish_record_sample(tmp_path_factory.mktemp("tabulate"))


@pytest.fixture(scope="module")
def service(published):
    settings, store, _ = published
    return EquityService(store, settings)


def _run(service, **body):
    return service.run("tabulate", {"layer": LAYER, **body}, UNLIMITED)


def _truth(people: gpd.GeoDataFrame, store, geography: str, dims: list[str]) -> pd.Series:
    """Exact counts by place × categories (every margin), by an independent spatial join."""
    layer = next(x for x in store.published() if x.id == geography)
    polygons = store.read_features(layer)[[layer.record.id_field, "geometry"]]
    joined = gpd.sjoin(people, polygons, predicate="within", how="left")
    joined = joined[~joined.index.duplicated()]
    place = joined[layer.record.id_field].astype("string")
    counts = {}
    for mask in itertools.product([False, True], repeat=len(dims)):
        keys = [people[d] if keep else pd.Series(TOTAL, index=people.index) for d, keep in zip(dims, mask)]
        for by_place in (True, False):
            where = place if by_place else pd.Series(STATE, index=people.index)
            grouped = pd.concat([where.rename("place_id"), *(k.rename(d) for k, d in zip(keys, dims))], axis=1)
            counts.update(grouped.dropna(subset=["place_id"]).value_counts().to_dict())
    return pd.Series(counts)


def test_published_counts_are_exact_and_small_counts_withheld(published, service):
    settings, store, people = published
    report = _run(service, geography="ct-towns", dimensions=["race_ethnicity", "sex"])
    rows = report.rows
    k = settings.equity.suppression_k
    truth = _truth(people, store, "ct-towns", ["race_ethnicity", "sex"])
    keys = list(zip(rows["place_id"], rows["race_ethnicity"], rows["sex"]))
    expected = np.array([truth.get(key, 0) for key in keys], dtype=float)
    shown = rows["count"].to_numpy(float)
    published_cells = ~np.isnan(shown)
    assert np.array_equal(shown[published_cells], expected[published_cells])
    assert not ((shown > 0) & (shown < k)).any()
    assert ((expected > 0) & (expected < k) & published_cells).sum() == 0
    assert rows.loc[~published_cells, "count_suppressed"].notna().all()
    state_total = rows[(rows.place_id == STATE) & (rows.race_ethnicity == TOTAL) & (rows.sex == TOTAL)]
    assert state_total["count"].item() == PEOPLE  # the state's rows are not sacrificed as complements
    state = rows[(rows.place_id == STATE) & rows["count"].notna()]
    assert len(state) == len(rows[rows.place_id == STATE])  # every statewide cell (>= 16 people here) shown
    assert len(set(rows.loc[rows.place_id != STATE, "place_id"])) == 169  # every town, records or not


def test_a_cell_is_withheld_in_every_answer_or_in_none(service):
    """Asking with fewer dimensions, or with more, never publishes a cell withheld elsewhere."""
    answers = [_run(service, geography="ct-towns", dimensions=list(d)).rows
               for n in range(len(DIMS) + 1) for d in itertools.combinations(DIMS, n)]
    status: dict[tuple, bool] = {}
    for rows in answers:
        full = rows.reindex(columns=["place_id", *DIMS]).astype(object).fillna(TOTAL)
        for key, withheld in zip(full.itertuples(index=False, name=None), rows["count"].isna()):
            assert status.setdefault(key, withheld) == withheld, key


def test_rates_have_denominators_only_where_the_population_layer_has_the_group(service):
    rows = _run(service, geography="ct-towns", dimensions=["race_ethnicity", "sex"]).rows
    race_only = rows[(rows.sex == TOTAL) & rows.race_ethnicity.isin(["hispanic", "white_nh", "black_nh", TOTAL])]
    shown = race_only.dropna(subset=["count"])
    shown = shown[shown["population"] > 0]
    assert len(shown) > 10
    assert np.allclose(shown["rate"], shown["count"] / shown["population"] * 1000)
    assert (shown["rate_low"] <= shown["rate"]).all() and (shown["rate"] <= shown["rate_high"]).all()
    by_sex = rows[rows.sex != TOTAL]
    assert by_sex["rate"].isna().all()
    assert set(by_sex["rate_suppressed"]) <= {"no_denominator", "derived_from_suppressed"}
    withheld = rows[rows["count"].isna()]
    assert withheld["rate"].isna().all() and withheld[["rate_low", "rate_high"]].isna().all().all()


def test_every_format_encodes_the_same_protected_answer(service):
    report = _run(service, geography="ct-towns", dimensions=["sex"])
    csv_text = encode(report, "csv")[0].decode()
    assert csv_text.splitlines()[0].startswith("place_id,place_name,sex,group,group_label,count")
    geojson = encode(report, "geojson")[0]
    import orjson

    features = orjson.loads(geojson)["features"]
    assert len(features) == 169
    assert {"female_count", "male_count", "total_count"} <= set(features[0]["properties"])
    assert "sex" not in features[0]["properties"]


def test_dp_release_is_made_once_and_charged_to_the_version(published, service):
    _, store, _ = published
    first = _run(service, geography="ct-towns", dimensions=["race_ethnicity"], method="dp")
    again = EquityService(store, published[0]).run(
        "tabulate", {"layer": LAYER, "geography": "ct-towns", "dimensions": ["race_ethnicity", "sex"],
                     "method": "dp"}, UNLIMITED)
    assert first.k is None and first.rows["count_suppressed"].isna().all()
    left = first.rows.set_index(["place_id", "race_ethnicity"])["count"]
    right = again.rows[again.rows.sex == TOTAL].set_index(["place_id", "race_ethnicity"])["count"]
    assert left.equals(right.reindex(left.index))  # one release: the same noisy margins in every answer
    version = next(x for x in store.published() if x.id == LAYER).version
    assert store.privacy_spent(LAYER, version) == pytest.approx(0.5)
    _run(service, geography="ct-tracts-2010", method="dp")
    assert store.privacy_spent(LAYER, version) == pytest.approx(1.0)
    noisy_total = first.rows[(first.rows.place_id == STATE) & (first.rows.race_ethnicity == TOTAL)]["count"].item()
    assert abs(noisy_total - PEOPLE) < 400  # noise of ~1,000 base cells at epsilon 0.5


def test_dp_over_budget_is_refused_and_nothing_else_changes(published):
    settings, store, _ = published
    service = EquityService(store, settings)
    version = next(x for x in store.published() if x.id == LAYER).version
    for geography in ("ct-towns", "ct-tracts-2010"):  # both released (here or by the test above)
        _run(service, geography=geography, method="dp")
    assert store.privacy_spent(LAYER, version) == pytest.approx(1.0)
    # the budget is used up: a third release (a new geography version) would be refused
    with pytest.raises(PrivacyBudgetExhausted) as caught:
        store.privacy_release(LAYER, version, "ct-towns@999", 0.5, 1.0, lambda: b"never")
    assert caught.value.http_status == 409 and LAYER in str(caught.value)
    assert store.privacy_spent(LAYER, version) == pytest.approx(1.0)


@pytest.mark.parametrize(("body", "error", "param"), [
    ({"geography": "ct-hospitals"}, InvalidParameter, "geography"),
    ({"geography": "ct-towns", "dimensions": ["income"]}, InvalidParameter, "dimensions"),
    ({"geography": "ct-towns", "dimensions": ["sex", "sex"]}, InvalidParameter, "dimensions"),
    ({"geography": "ct-towns", "method": "raw"}, InvalidParameter, "method"),
    ({"geography": "ct-towns", "filter": "sex = 'female'"}, InvalidParameter, "filter"),
    ({"geography": "ct-towns", "k": 3}, InvalidParameter, "k"),
])
def test_bad_requests_name_the_parameter(service, body, error, param):
    with pytest.raises(error) as caught:
        _run(service, **body)
    assert caught.value.http_status == 400 and param in str(caught.value)


def test_layers_that_are_not_record_level_do_not_exist_for_tabulate(service):
    messages = set()
    for layer in ("no-such-layer", "ct-tracts-restricted", "ct-towns"):
        with pytest.raises(NotFound) as caught:
            service.run("tabulate", {"layer": layer, "geography": "ct-towns"}, UNLIMITED)
        messages.add(str(caught.value).replace(layer, "X"))
    assert len(messages) == 1


def test_an_unpublished_geography_makes_the_layer_untabulable_with_a_503(published):
    settings, store, _ = published
    service = EquityService(store, settings)
    readable = {x.id: x for x in store.published() if x.record.sensitivity == "public" and x.id != "ct-tracts-2010"}
    with pytest.raises(GeosvcError) as caught:
        service.run("tabulate", {"layer": LAYER, "geography": "ct-towns"}, UNLIMITED, readable)
    assert caught.value.http_status == 503 and "ct-tracts-2010" in str(caught.value)
