"""protect(): one suppression decision for a whole cube, safe against combining any of its tables."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geosvc.equity.constants import STATE, TOTAL
from geosvc.equity import crosstab_protection
from geosvc.equity.crosstab import Cube, Dim
from geosvc.equity.crosstab_protection import Protected, protect
from geosvc.equity.suppression import COMPLEMENTARY, PRIMARY
from support.differencing import recover

GEOS = ("towns", "tracts")


def _cube(seed: int, n_dims: int, *, n_towns: int = 3, n_tracts: int = 4, scale: float = 6.0) -> Cube:
    """Two geographies over random overlap pieces (some in one geography only), seeded random counts."""
    rng = np.random.default_rng(seed)
    rows = [(f"a{i % n_towns}", f"t{i}") for i in range(max(n_towns, n_tracts))]
    rows += [(f"a{rng.integers(n_towns)}", f"t{rng.integers(n_tracts)}") for _ in range(rng.integers(0, 3))]
    rows += [(None, f"t{rng.integers(n_tracts)}")] if rng.random() < 0.5 else []
    rows += [(f"a{rng.integers(n_towns)}", None)] if rng.random() < 0.5 else []
    rows = [(a, None if t is None else f"t{int(t[1:]) % n_tracts}") for a, t in dict.fromkeys(rows)]
    pieces = pd.DataFrame(list(dict.fromkeys(rows)), columns=list(GEOS))
    pieces.index = [f"p{i}" for i in range(len(pieces))]
    dims = [Dim(name, tuple(f"{name[0]}{j}" for j in range(size)))
            for name, size in zip(["race", "sex", "age"], rng.integers(2, 4, n_dims), strict=False)]
    records = []
    for piece in [*pieces.index, None]:
        weights = rng.gamma(0.7, scale, size=[len(d.categories) for d in dims])
        for combo, lam in np.ndenumerate(weights):
            for _ in range(rng.poisson(lam)):
                records.append((piece, *(d.categories[c] for d, c in zip(dims, combo, strict=True))))
    frame = pd.DataFrame(records, columns=["piece", *(d.name for d in dims)])
    return Cube.from_records(frame, pieces, dims)


def _subsets(cube: Cube):
    names = [d.name for d in cube.dims]
    return [list(c) for r in range(len(names) + 1) for c in combinations(names, r)]


def _all_tables(protected: Protected):
    return [(g, protected.table(g, dims)) for g in GEOS for dims in _subsets(protected.cube)]


def _lines(cube: Cube, tables):
    """Every additive line, as lists of (key, withheld?) — the properties only need the hidden counts."""
    frames = []
    for g, t in tables:
        names = [d.name for d in cube.dims]
        keyed = t.assign(**{n: t[n] if n in t else TOTAL for n in names})
        keyed["geo"] = np.where(keyed["place_id"] == STATE, "state", g)
        frames.append(keyed)
    full = pd.concat(frames).drop_duplicates(["geo", "place_id", *[d.name for d in cube.dims]])
    return full


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n_dims=st.integers(1, 3), k=st.integers(3, 11))
def test_protect_properties(seed, n_dims, k):
    cube = _cube(seed, n_dims)
    protected = protect(cube, k)
    tables = _all_tables(protected)
    names = [d.name for d in cube.dims]
    seen: dict[tuple, object] = {}
    for g, t in tables:
        shown = t["count"].dropna()
        assert not ((shown > 0) & (shown < k)).any()  # nothing in 1..k-1 is ever published
        truth = cube.table(g, [n for n in names if n in t.columns])
        assert (truth["count"][t["count"].notna()] == shown).all()
        hidden = t["count"].isna()
        assert (t["count_suppressed"].notna() == hidden).all()
        assert set(t["count_suppressed"].dropna()) <= {PRIMARY, COMPLEMENTARY}
        assert ((truth["count"] > 0) & (truth["count"] < k) == (t["count_suppressed"] == PRIMARY)).all()
        for rec in t.to_dict("records"):
            cats = tuple(rec.get(n, TOTAL) for n in names)
            key = ("state", STATE, cats) if rec["place_id"] == STATE else (g, rec["place_id"], cats)
            assert seen.setdefault(key, rec["count_suppressed"]) == rec["count_suppressed"]  # same everywhere
            assert (key in protected.withheld) == pd.isna(rec["count"])
    assert len(seen) == len({*seen, *protected.withheld})
    full = _lines(cube, tables)
    full["hidden"] = full["count"].isna()
    for (geo, place), cells in full.groupby(["geo", "place_id"]):  # along each dim at every place
        for n in names:
            others = [m for m in names if m != n]
            groups = cells.groupby(others)["hidden"].sum() if others else pd.Series([cells["hidden"].sum()])
            assert not (groups == 1).any(), (geo, place, n)
    for towns, tracts in _covered_components(cube.pieces):  # Σ towns = Σ tracts over each component
        part = full[((full["geo"] == "towns") & full["place_id"].isin(towns))
                    | ((full["geo"] == "tracts") & full["place_id"].isin(tracts))]
        assert not (part.groupby(names)["hidden"].sum() == 1).any(), (towns, tracts)


def _covered_components(pieces: pd.DataFrame):
    """Components of towns and tracts linked by shared pieces, where every piece is in both."""
    links = pieces.dropna(how="all")
    comp = {u: {u} for col in GEOS for u in links[col].dropna().map(lambda u, c=col: (c, u))}
    for town, tract in links.dropna().to_numpy():
        merged = comp[("towns", town)] | comp[("tracts", tract)]
        for u in merged:
            comp[u] = merged
    for members in {id(m): m for m in comp.values()}.values():
        rows = links[links["towns"].map(lambda u: ("towns", u) in members)
                     | links["tracts"].map(lambda u: ("tracts", u) in members)]
        if rows.notna().all().all():
            yield sorted(u for c, u in members if c == "towns"), sorted(u for c, u in members if c == "tracts")


def test_attack_on_every_table_recovers_nothing():
    """The LP attacker combining every dims subset of towns and tracts pins no withheld non-zero cell.

    A complementary 0 (chosen only where a line has nothing else) may be pinned at 0: a publishable value.
    """
    for seed, n_dims in [(0, 2), (11, 3)]:  # seeds where lines alone leak
        cube = _cube(seed, n_dims, n_towns=3, n_tracts=4, scale=4.0)
        protected = protect(cube, 5)
        tables = _all_tables(protected)
        assert protected.withheld, "the fixture must withhold something"
        pinned = recover(tables, cube.pieces, cube.dims)
        assert all(v == 0 and protected.withheld[key] == COMPLEMENTARY for key, v in pinned.items()), pinned


def test_attacker_recovers_from_naive_suppression():
    """Negative control: primary-only, and per-table complementary suppression both leak."""
    cube = _cube(1, 2, scale=4.0)
    k = 5
    truth = {}
    for g in GEOS:
        for dims in _subsets(cube):
            for rec in cube.table(g, dims).to_dict("records"):
                cats = tuple(rec.get(d.name, TOTAL) for d in cube.dims)
                key = ("state", STATE, cats) if rec["place_id"] == STATE else (g, rec["place_id"], cats)
                truth[key] = rec["count"]
    primary_only = Protected(cube, k, {key: PRIMARY for key, v in truth.items() if 0 < v < k})
    pinned = recover(_all_tables(primary_only), cube.pieces, cube.dims)
    assert pinned and all(truth[key] == v for key, v in pinned.items())
    assert any(0 < v < k for v in pinned.values())


def test_lines_without_the_audit_leak(monkeypatch):
    """Negative control: every line holding 0 or >= 2 withheld cells is not enough; the audit is needed."""
    monkeypatch.setattr(crosstab_protection._Layout, "determined", lambda self, reason: np.zeros(0, dtype=int))
    cube = _cube(0, 2, scale=4.0)
    lines_only = protect(cube, 5)
    pinned = recover(_all_tables(lines_only), cube.pieces, cube.dims)
    assert any(v > 0 for v in pinned.values())
    for key, v in pinned.items():
        g, unit, cats = key
        t = cube.table(g, [d.name for d in cube.dims]).set_index(["place_id", *(d.name for d in cube.dims)])
        assert t.loc[(unit, *cats), "count"] == v


def test_decision_is_deterministic_and_shared_by_every_table():
    cube = _cube(7, 3)
    first, second = protect(cube, 7), protect(cube, 7)
    assert first.withheld == second.withheld
    state_from_towns = first.table("towns", ["race"]).query("place_id == @STATE")
    state_from_tracts = first.table("tracts", ["race"]).query("place_id == @STATE")
    assert state_from_towns.reset_index(drop=True).equals(state_from_tracts.reset_index(drop=True))


def _towns_cube(seed: int, n_units: int, people: int, dims: dict[Dim, tuple[float, ...]]) -> Cube:
    """A state of ``n_units`` towns of skewed (log-normal) sizes, each with its own category mix
    (Dirichlet with the concentrations given per dim)."""
    rng = np.random.default_rng(seed)
    towns = [f"u{i:03d}" for i in range(n_units)]
    size = rng.lognormal(0.0, 1.1, n_units)
    unit = rng.choice(n_units, people, p=size / size.sum())
    frame = pd.DataFrame({"piece": np.asarray(towns, dtype=object)[unit]})
    for d, alpha in dims.items():
        mix = rng.dirichlet(alpha, n_units)
        draw = (rng.random(people)[:, None] > np.cumsum(mix[unit], axis=1)).sum(axis=1)
        frame[d.name] = np.asarray(d.categories, dtype=object)[np.minimum(draw, len(d.categories) - 1)]
    return Cube.from_records(frame, pd.DataFrame({"towns": towns}, index=towns), list(dims))


def test_large_state_counts_are_published_on_a_dense_cube():
    """169 towns of realistic sizes, race x sex: no statewide cell of 10 k or more is withheld, the
    state's race x sex table is published whole, and the towns' totals mostly are (the audit finds
    changes moving counts between towns instead of withholding the state rows)."""
    k = 11
    dims = {Dim("race", ("w", "h", "b", "a", "o")): (8.0, 2.0, 1.5, 0.6, 0.4), Dim("sex", ("f", "m")): (20.0, 20.0)}
    cube = _towns_cube(3, 169, 12_000, dims)
    protected = protect(cube, k)
    table = protected.table("towns", ["race", "sex"])
    truth = cube.table("towns", ["race", "sex"])["count"]
    state = (table["place_id"] == STATE).to_numpy()
    assert (truth[state] >= k).all()  # no statewide small count: nothing at the state needs withholding
    assert table.loc[state, "count"].notna().all()
    withheld = table["count"].isna().to_numpy()
    assert withheld.any()  # the towns' tables do need protecting
    assert not (withheld & (truth.to_numpy() >= 10 * k) & state).any()
    totals = protected.table("towns", [])["count_suppressed"]
    assert totals.notna().any() and (totals.dropna() == PRIMARY).all()  # only the small towns' totals


def test_attack_on_many_units_recovers_nothing():
    """Cells cleared by changes across many units (not one unit at a time) are not pinned either: the
    LP attacker combining every table of 30 towns x race x sex recovers no withheld non-zero count."""
    dims = {Dim("race", ("w", "h", "b")): (6.0, 2.0, 1.0), Dim("sex", ("f", "m")): (20.0, 20.0)}
    cube = _towns_cube(5, 30, 900, dims)
    protected = protect(cube, 5)
    tables = [("towns", protected.table("towns", list(c))) for r in range(3) for c in combinations(["race", "sex"], r)]
    assert sum(int(t["count"].isna().sum()) for _, t in tables) > 20
    pinned = recover(tables, cube.pieces, list(dims))
    assert all(v == 0 and protected.withheld[key] == COMPLEMENTARY for key, v in pinned.items()), pinned
