"""The ``ogctests`` OGC API Features core suite (PyPI, in ``.venv-ogctests``) passes against a live server."""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
from liveserver import ROOT

# One xdist worker runs the whole module (with --dist loadgroup), so its one-off client run happens once.
pytestmark = [pytest.mark.clients, pytest.mark.xdist_group("ogctests_suite")]

VENV = ROOT / ".venv-ogctests"
PLUGIN_DIR = Path(__file__).parent  # holds ogctests_plugin.py


def _suite_dir() -> Path:
    if not (VENV / "bin" / "pytest").exists():
        pytest.skip("ogctests is not installed in .venv-ogctests (bash scripts/setup.sh --test)")
    code = "import ogctests, pathlib; print(pathlib.Path(ogctests.__file__).parent / 'features' / 'core')"
    out = subprocess.run([str(VENV / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def _outcomes(junit: Path) -> dict[str, str]:
    """``{test name: passed | failed: message | skipped: reason}`` from the suite's JUnit XML."""
    outcomes = {}
    for case in ET.parse(junit).iter("testcase"):
        problem = next((c for c in case if c.tag in ("failure", "error", "skipped")), None)
        if problem is None:
            outcomes[case.get("name")] = "passed"
        else:
            outcomes[case.get("name")] = f"{problem.tag}: {problem.get('message', '')[:300]}"
    return outcomes


@pytest.fixture(scope="module")
def core_results(live_server, tmp_path_factory) -> dict[str, str]:
    """Run ogctests' core suite once (feature collections only: see ``ogctests_plugin``)."""
    suite = _suite_dir()
    junit = tmp_path_factory.mktemp("ogctests") / "core.xml"
    env = {**os.environ, "INSTANCE_URL": live_server.ogc_url, "CLIENT_OVERRIDDEN": "True",
           "PYTHONPATH": str(PLUGIN_DIR)}
    proc = subprocess.run(
        [str(VENV / "bin" / "pytest"), str(suite), "-q", "-p", "no:cacheprovider", "-p", "ogctests_plugin",
         f"--junitxml={junit}"],
        capture_output=True, text=True, env=env, cwd=junit.parent, timeout=900,
    )
    assert junit.exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    return _outcomes(junit)


def test_core_suite_passes(core_results):
    assert len(core_results) >= 29, f"only {len(core_results)} abstract tests ran"
    not_passed = {name: outcome for name, outcome in core_results.items() if outcome != "passed"}
    assert not not_passed, not_passed


def test_non_feature_collections_are_not_applicable(live_server):
    """Collections that are not feature collections (coverages) are left out of the core suite; list them."""
    collections = httpx.get(f"{live_server.ogc_url}/collections", params={"f": "json"}, timeout=30).json()
    features = [c["id"] for c in collections["collections"] if c.get("itemType") == "feature"]
    others = {c["id"]: c.get("itemType", "none") for c in collections["collections"] if c.get("itemType") != "feature"}
    vectors = [layer.id for layer in live_server.layers.values() if layer.kind == "vector"]
    assert set(vectors) <= set(features), "every published vector layer is a feature collection the suite tests"
    if others:
        listed = ", ".join(f"{cid} (itemType {kind})" for cid, kind in sorted(others.items()))
        pytest.skip(f"ogctests core not applicable to non-feature collections: {listed}")
