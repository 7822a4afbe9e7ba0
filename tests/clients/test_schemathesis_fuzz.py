"""schemathesis fuzzes every GET operation of the served OpenAPI document: no request gets a 5xx."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.clients, pytest.mark.slow]

ST = Path(sys.executable).parent / "st"
MAX_EXAMPLES = 8  # per operation and phase; keeps the run under ~3 minutes on 2 busy cores
SEED = 2010


def test_records_items_csv_is_not_a_server_error(live_server):
    """Found by the run below: pygeoapi 0.24's CSV formatter read an unset ``query_crs_uri`` for the records
    catalog (no CRS support), so ``f=csv`` answered 500."""
    response = httpx.get(f"{live_server.ogc_url}/collections/records/items", params={"f": "csv"}, timeout=30)
    assert response.status_code == 400, response.text[:300]


def _problems(report: str) -> dict[str, list[str]]:
    """Failing or erroring operations of a schemathesis report, with the requests that reproduce them."""
    blocks = re.split(r"^_{3,} ((?:GET|POST|PUT|PATCH|DELETE) \S+) _{3,}$", report, flags=re.M)
    return {op: re.findall(r"curl -X \S+ '([^']+)'", body) or [body.strip()[:300]]
            for op, body in zip(blocks[1::2], blocks[2::2])}


def test_no_server_error_on_any_get_operation(live_server, tmp_path):
    if not ST.exists():
        pytest.skip("schemathesis is not installed in the project venv")
    proc = subprocess.run(
        [str(ST), "run", f"{live_server.ogc_url}/openapi?f=json", "--checks", "not_a_server_error",
         "--include-method", "GET", "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
         "--phases", "examples,coverage,fuzzing", "--request-timeout", "60", "--no-color"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    summary = proc.stdout[proc.stdout.find("SUMMARY"):] if "SUMMARY" in proc.stdout else proc.stdout[-3000:]
    tested = re.search(r"Tested: (\d+)", proc.stdout)
    assert tested and int(tested.group(1)) >= 20, f"too few operations tested:\n{summary}"
    problems = _problems(proc.stdout)
    assert not problems, f"schemathesis found problems: {problems}\n{summary}"
    assert proc.returncode == 0, f"schemathesis failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
