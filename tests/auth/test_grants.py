"""Who may read what: roles, grants in force, restricted records without roles, derived layers."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from geosvc.auth.caller import ANONYMOUS, Caller, Grant
from geosvc.auth.grants import Requirement, can_read, effective_access, visible
from geosvc.records.models import LayerRecord

from support.postgis import store_free

pytestmark = store_free

NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)


def _record(layer_id: str, sensitivity="public", roles=None, derived_from=None) -> LayerRecord:
    data = {"id": layer_id, "title": layer_id, "theme": "health", "update_cadence": "P1Y", "sensitivity": sensitivity}
    if roles is not None:
        data["access"] = {"roles": roles}
    if derived_from:
        data |= {"kind": "raster", "derived": {"input_layer": derived_from, "value_field": "pop"}}
    else:
        data["source"] = {"path": f"{layer_id}.gpkg"}
    return LayerRecord.model_validate(data)


TOWNS = _record("towns")
CASES = _record("cases", "restricted", ["epi", "health-analyst"])
SEALED = _record("sealed", "restricted")
CASE_DENSITY = _record("case-density", derived_from="cases")  # public record, restricted input
CASE_DENSITY_LOCKED = _record("case-density-locked", "restricted", ["gis"], derived_from="cases")
ORPHAN = _record("orphan-density", derived_from="withdrawn-layer")
ALL = [TOWNS, CASES, SEALED, CASE_DENSITY, CASE_DENSITY_LOCKED, ORPHAN]


def test_access_only_on_restricted_records():
    with pytest.raises(ValidationError, match="only to layers with sensitivity 'restricted'"):
        _record("xy", "public", ["epi"])
    assert SEALED.access is None  # restricted without roles is valid (and readable by nobody)


def test_anonymous_sees_public_layers_only():
    assert [r.id for r in visible(ANONYMOUS, ALL, at=NOW)] == ["towns"]


def test_a_granted_role_opens_the_layer_and_its_public_derivative():
    analyst = Caller("alice", frozenset({"health-analyst"}), "token")
    assert [r.id for r in visible(analyst, ALL, at=NOW)] == ["towns", "cases", "case-density"]


def test_derived_layer_needs_its_own_role_and_its_inputs():
    assert effective_access(CASE_DENSITY_LOCKED, ALL) == (Requirement("case-density-locked", frozenset({"gis"})),
                                                          Requirement("cases", frozenset({"epi", "health-analyst"})))
    gis_only = Caller("g", frozenset({"gis"}), "key")
    both = Caller("h", frozenset({"gis", "epi"}), "key")
    assert not can_read(gis_only, CASE_DENSITY_LOCKED, ALL, NOW)
    assert can_read(both, CASE_DENSITY_LOCKED, ALL, NOW)


def test_restricted_without_roles_and_unknown_inputs_are_readable_by_nobody():
    everyone = Caller("root", frozenset({"epi", "health-analyst", "gis", "steward"}), "token")
    assert not can_read(everyone, SEALED, ALL, NOW)
    assert not can_read(everyone, ORPHAN, ALL, NOW)


def test_grants_open_one_layer_through_a_listed_role_until_expiry():
    grant = Grant("bob", "cases", "epi", expires_at=NOW + dt.timedelta(hours=1))
    bob = Caller("bob", frozenset(), "token", grants=frozenset({grant}))
    assert can_read(bob, CASES, ALL, NOW) and can_read(bob, CASE_DENSITY, ALL, NOW)
    assert not can_read(bob, CASES, ALL, NOW + dt.timedelta(hours=1))  # lapsed
    assert not can_read(bob, SEALED, ALL, NOW)  # a grant is for its layer only
    wrong_role = Caller("bob", grants=frozenset({Grant("bob", "cases", "gis")}), via="token")
    assert not can_read(wrong_role, CASES, ALL, NOW)  # through a role the layer does not list
