"""Every generated broken input, through the CLI: caught with its code, not published, previous version intact."""

from __future__ import annotations

import json

import pytest
from support.broken_inputs import ERROR_CASES, REPAIRED_CASES, clean_layer

from geosvc.validate.repair import repair_geometries

VICTIM = "victim"


def _publish_clean(sandbox):
    record, _ = clean_layer(sandbox.root, VICTIM)
    sandbox.write(record)
    result = sandbox("publish", VICTIM)
    assert result.exit_code == 0, result.output
    store = sandbox.store
    return store, store.get(VICTIM)


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: c.name)
def test_broken_input_is_caught_and_previous_version_kept(sandbox, case):
    store, before = _publish_clean(sandbox)
    record, data_root = case.build(sandbox.root)
    assert data_root == sandbox.root
    sandbox.write({**record, "id": VICTIM})

    validate = sandbox("validate", VICTIM, "--format", "json")
    assert validate.exit_code == 1, validate.output
    (layer,) = json.loads(validate.stdout)["layers"]
    assert case.expected_code in {f["code"] for f in layer["findings"] if f["severity"] == "error"}

    publish = sandbox("publish", VICTIM)
    assert publish.exit_code == 1
    failure = [line for line in publish.stderr.splitlines() if line.startswith("error:")]
    assert len(failure) == 1 and f"layer '{VICTIM}': not published" in failure[0]
    assert "validation failed" in failure[0] and case.expected_code in failure[0]
    for output in (validate.output, publish.output):
        assert "Traceback" not in output

    after = store.get(VICTIM)
    assert after == before
    assert [v.version for v in store.versions(VICTIM)] == [1]
    store.check(after)  # the kept version is still readable
    assert len(store.read_features(store.get(VICTIM))) == before.feature_count


def test_failing_layer_does_not_stop_the_others(sandbox):
    store, before = _publish_clean(sandbox)
    good, _ = clean_layer(sandbox.root, "bystander")
    sandbox.write(good)
    broken = next(c for c in ERROR_CASES if c.name == "duplicate_ids")
    record, _ = broken.build(sandbox.root)
    sandbox.write({**record, "id": VICTIM})
    result = sandbox("publish")
    assert result.exit_code == 1
    assert "1 layer(s) published, 0 unchanged, 1 failed" in result.stdout
    assert store.get("bystander").version == 1 and store.get(VICTIM) == before


@pytest.mark.parametrize("case", REPAIRED_CASES, ids=lambda c: c.name)
def test_repaired_input_is_published_with_a_note_saying_what_was_done(sandbox, case):
    record, _ = case.build(sandbox.root)
    sandbox.write(record)
    validate = sandbox("validate", record["id"], "--format", "json")
    assert validate.exit_code == 0, validate.output
    (layer,) = json.loads(validate.stdout)["layers"]
    assert (case.expected_code, "warning") in {(f["code"], f["severity"]) for f in layer["findings"]}

    publish = sandbox("publish", record["id"])
    assert publish.exit_code == 0, publish.output
    store = sandbox.store
    published = store.get(record["id"])
    assert any(case.note in note for note in published.notes), published.notes
    again = repair_geometries(store.read_features(store.get(record["id"]))).notes  # nothing left to repair, only to report
    assert [note for note in again if not note.startswith("published ")] == []


def test_record_with_the_old_clip_to_state_gets_a_one_line_error(sandbox):
    record, _ = clean_layer(sandbox.root, VICTIM)
    sandbox.write({**record, "clip_to_state": True})
    result = sandbox("validate", VICTIM)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "outside_state_extent: drop" in result.output
