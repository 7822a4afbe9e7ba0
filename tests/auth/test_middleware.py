"""CallerMiddleware on a tiny Starlette app of our own: caller in request.state, 401 for bad credentials,
429 + Retry-After on the equity paths only, and cache headers that keep answers per caller."""

from __future__ import annotations

import base64

import pytest
from support.oidc import AUDIENCE, ISSUER
from pyrate_limiter import AbstractClock
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from fastapi.testclient import TestClient

from geosvc.auth.caller import utcnow
from geosvc.auth.keys import ApiKey, key_hash, new_key
from geosvc.auth.middleware import CallerMiddleware, caller_of
from geosvc.auth.ratelimit import RateLimiter
from geosvc.auth.resolve import Authenticator
from geosvc.auth.tokens import TokenVerifier

from support.postgis import store_free

pytestmark = store_free


class Clock(AbstractClock):
    def __init__(self):
        self.ms = 1_800_000_000_000

    def now(self) -> int:
        return self.ms


async def whoami(request: Request) -> JSONResponse:
    caller = caller_of(request)
    assert caller is request.state.caller
    return JSONResponse({"subject": caller.subject, "via": caller.via, "roles": sorted(caller.roles)},
                        headers={"Cache-Control": "public, max-age=60", "Vary": "Accept"})


@pytest.fixture
def setup(access_store, issuer):
    clock = Clock()
    auth = Authenticator(access_store, TokenVerifier(ISSUER, AUDIENCE, issuer.url))
    app = Starlette(routes=[Route(path, whoami, methods=["GET", "POST"]) for path in
                            ("/me", "/equity/exposure", "/ogc/processes/exposure/execution", "/ogc/processes")])
    app.add_middleware(CallerMiddleware, authenticator=auth, limiter=RateLimiter(access_store, "2/minute", clock=clock))
    key_id, key = new_key()
    access_store.add_key(ApiKey(key_id, "gdal", ("epi",), key_hash(key), utcnow()))
    return TestClient(app), key, clock


def test_the_caller_reaches_the_app(setup, issuer):
    client, key, _ = setup
    assert client.get("/me").json() == {"subject": None, "via": "anonymous", "roles": []}
    assert client.get("/me", headers={"X-API-Key": key}).json()["roles"] == ["epi"]
    basic = base64.b64encode(f"qgis:{key}".encode()).decode()
    assert client.get("/me", headers={"Authorization": f"Basic {basic}"}).json()["via"] == "key"
    token = client.get("/me", headers={"Authorization": f"Bearer {issuer.token()}"}).json()
    assert token == {"subject": "alice", "via": "token", "roles": ["health-analyst"]}


@pytest.mark.parametrize("headers", [{"X-API-Key": "gsk_000000000000_nope"}, {"Authorization": "Bearer not.a.jwt"},
                                     {"Authorization": "Basic " + base64.b64encode(b"u:wrong").decode()}])
def test_bad_credentials_are_answered_401_before_the_app(setup, headers):
    client, _, _ = setup
    response = client.get("/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "Unauthorized" and response.json()["description"]
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer realm=") and 'Basic realm="geosvc"' in challenge


def test_equity_routes_are_rate_limited_per_caller(setup):
    client, key, clock = setup
    for _ in range(2):
        assert client.post("/equity/exposure", headers={"X-API-Key": key}).status_code == 200
    limited = client.post("/equity/exposure", headers={"X-API-Key": key})
    assert limited.status_code == 429 and limited.json()["code"] == "TooManyRequests"
    assert 1 <= int(limited.headers["Retry-After"]) <= 30  # 2/minute refills one unit every 30 s
    assert client.post("/ogc/processes/exposure/execution", headers={"X-API-Key": key}).status_code == 429
    assert client.get("/me", headers={"X-API-Key": key}).status_code == 200  # other routes are not limited
    assert client.get("/ogc/processes", headers={"X-API-Key": key}).status_code == 200
    assert client.post("/equity/exposure").status_code == 200  # another caller has its own budget
    clock.ms += 31_000
    assert client.post("/equity/exposure", headers={"X-API-Key": key}).status_code == 200


def test_rate_limit_is_shared_by_workers(setup, access_store):
    """A second limiter on the same database (another worker process) spends the same budget."""
    client, key, clock = setup
    client.post("/equity/exposure", headers={"X-API-Key": key})
    other_worker = RateLimiter(type(access_store)(access_store.path), "2/minute", clock=clock)
    caller = Authenticator(access_store).resolve_caller({"X-API-Key": key})
    other_worker.check(caller.subject)
    assert client.post("/equity/exposure", headers={"X-API-Key": key}).status_code == 429


def test_cache_headers_keep_answers_per_caller(setup):
    client, key, _ = setup
    anonymous = client.get("/me")
    assert anonymous.headers["Cache-Control"] == "public, max-age=60"
    signed_in = client.get("/me", headers={"X-API-Key": key})
    assert signed_in.headers["Cache-Control"] == "private, no-cache"
    for response in (anonymous, signed_in):
        vary = [v.strip() for v in response.headers["Vary"].split(",")]
        assert {"Accept", "Authorization", "X-API-Key"} <= set(vary)
