"""Bearer tokens: only a token signed by the issuer's JWKS, for our audience, unexpired, with an allowed
asymmetric algorithm gets through; everything else is a 401 naming the cause."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from support.oidc import AUDIENCE, ISSUER
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from geosvc.auth.resolve import Authenticator
from geosvc.auth.tokens import TokenVerifier
from geosvc.errors import AuthUnavailable, Unauthorized

from support.postgis import store_free

pytestmark = store_free


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hand_made(header: dict, claims: dict, sign) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(sign(signing_input.encode()))}"


@pytest.fixture
def auth(issuer, access_store):
    verifier = TokenVerifier(ISSUER, AUDIENCE, issuer.url, "roles", refetch_cooldown_s=0)
    return Authenticator(access_store, verifier)


def _bearer(auth, token):
    return auth.resolve_caller({"authorization": f"Bearer {token}"})


@pytest.mark.parametrize("kid, alg", [("rsa-1", "RS256"), ("ec-1", "ES256")])
def test_valid_token_gives_subject_and_roles(auth, issuer, kid, alg):
    caller = _bearer(auth, issuer.token(kid))
    assert (caller.subject, caller.via, caller.roles) == ("alice", "token", frozenset({"health-analyst"}))


def test_ps256_token_against_a_ps256_key(auth, issuer):
    issuer.add_key("rsa-pss", "PS256")
    assert _bearer(auth, issuer.token("rsa-pss")).roles == {"health-analyst"}


def test_roles_from_a_nested_claim_path(issuer, access_store):
    verifier = TokenVerifier(ISSUER, AUDIENCE, issuer.url, "realm_access.roles")
    token = issuer.token(roles=None, realm_access={"roles": ["steward", "gis"]})
    caller = Authenticator(access_store, verifier).resolve_caller({"Authorization": f"Bearer {token}"})
    assert caller.roles == {"steward", "gis"}


def test_a_token_without_the_roles_claim_has_no_roles(auth, issuer):
    assert _bearer(auth, issuer.token(roles=None)).roles == frozenset()


@pytest.mark.parametrize("case, cause", [
    ("expired", "expired"), ("wrong_audience", "audience"), ("wrong_issuer", "issuer"), ("forged", "signature"),
    ("alg_none", "'none' is not accepted"), ("hs256_public_key", "'HS256' is not accepted"),
    ("unknown_kid", "unknown key"), ("alg_swapped", "algorithm"), ("no_exp", "exp"), ("garbage", "malformed"),
])
def test_bad_tokens_are_401(auth, issuer, case, cause):
    claims = issuer.claims()
    if case == "expired":
        token = issuer.token(exp=claims["iat"] - 120, iat=claims["iat"] - 600)
    elif case == "wrong_audience":
        token = issuer.token(aud="another-service")
    elif case == "wrong_issuer":
        token = issuer.token(iss="https://evil.example.test")
    elif case == "forged":  # signed with a key of our own under the issuer's kid
        token = jwt.encode(claims, rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256",
                           headers={"kid": "rsa-1"})
    elif case == "alg_none":
        token = _hand_made({"alg": "none", "typ": "JWT", "kid": "rsa-1"}, claims, lambda _: b"")
    elif case == "hs256_public_key":  # the classic confusion attack: HMAC keyed with the published public key
        pem = issuer.keys["rsa-1"].public_key().public_bytes(serialization.Encoding.PEM,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo)
        token = _hand_made({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims,
                           lambda data: hmac.new(pem, data, hashlib.sha256).digest())
    elif case == "unknown_kid":
        token = _relabel(issuer, "nobody-knows-me")
    elif case == "alg_swapped":  # an EC key's kid on an RSA-signed token
        token = jwt.encode(claims, issuer.keys["rsa-1"], "RS256", headers={"kid": "ec-1"})
    elif case == "no_exp":
        claims.pop("exp")
        token = jwt.encode(claims, issuer.keys["rsa-1"], "RS256", headers={"kid": "rsa-1"})
    else:
        token = "not.a.jwt"
    with pytest.raises(Unauthorized) as caught:
        _bearer(auth, token)
    assert caught.value.http_status == 401
    assert cause.lower() in str(caught.value).lower()
    assert "Bearer" in caught.value.headers["WWW-Authenticate"] and "Basic" in caught.value.headers["WWW-Authenticate"]


def _relabel(issuer, kid):
    return jwt.encode(issuer.claims(), issuer.keys["rsa-1"], "RS256", headers={"kid": kid})


def test_jwks_is_cached_and_refetched_on_a_rotated_key(issuer, access_store):
    auth = Authenticator(access_store, TokenVerifier(ISSUER, AUDIENCE, issuer.url, refetch_cooldown_s=0))
    before = issuer.fetches
    for _ in range(3):
        _bearer(auth, issuer.token())
    assert issuer.fetches == before + 1  # one fetch, then the cache
    issuer.add_key("rsa-rotated")
    assert _bearer(auth, issuer.token("rsa-rotated")).subject == "alice"
    assert issuer.fetches == before + 2  # the unknown kid forced one refetch


def test_unknown_kids_do_not_hammer_the_issuer(issuer, access_store):
    """Within the cool-down, an unknown kid is refused without another JWKS fetch."""
    auth = Authenticator(access_store, TokenVerifier(ISSUER, AUDIENCE, issuer.url, refetch_cooldown_s=60))
    _bearer(auth, issuer.token())
    before = issuer.fetches
    for i in range(5):
        with pytest.raises(Unauthorized):
            _bearer(auth, _relabel(issuer, f"random-{i}"))
    assert issuer.fetches == before


def test_issuer_unreachable_is_503_not_401(access_store):
    auth = Authenticator(access_store, TokenVerifier(ISSUER, AUDIENCE, "http://127.0.0.1:9/jwks", timeout_s=1))
    token = _hand_made({"alg": "RS256", "kid": "k"}, {"sub": "x"}, lambda _: b"sig")
    with pytest.raises(AuthUnavailable) as caught:
        _bearer(auth, token)
    assert caught.value.http_status == 503


def test_tokens_refused_when_no_issuer_is_configured(access_store, issuer):
    with pytest.raises(Unauthorized, match="no issuer configured"):
        _bearer(Authenticator(access_store, None), issuer.token())


def test_settings_must_name_issuer_audience_and_jwks_together(tmp_path):
    from geosvc.auth.resolve import verifier_from
    from geosvc.settings import load_settings

    assert verifier_from(load_settings(store_dir=tmp_path)) is None
    with pytest.raises(ValueError, match="set GEOSVC_AUTH_AUDIENCE too"):
        load_settings(store_dir=tmp_path, auth_issuer=ISSUER, auth_jwks_url="http://127.0.0.1:1/")
    verifier = verifier_from(load_settings(store_dir=tmp_path, auth_issuer=ISSUER, auth_audience=AUDIENCE,
                                           auth_jwks_url="http://127.0.0.1:1/", auth_roles_claim="groups"))
    assert (verifier.issuer, verifier.audience, verifier.roles_claim) == (ISSUER, AUDIENCE, "groups")


def test_settings_come_from_geosvc_auth_variables(tmp_path, monkeypatch):
    from geosvc.settings import load_settings

    monkeypatch.setenv("GEOSVC_AUTH_ISSUER", ISSUER)
    monkeypatch.setenv("GEOSVC_AUTH_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("GEOSVC_AUTH_JWKS_URL", "http://127.0.0.1:1/certs")
    monkeypatch.setenv("GEOSVC_AUTH_ROLES_CLAIM", "realm_access.roles")
    monkeypatch.setenv("GEOSVC_EQUITY_RATE_LIMIT", "5/second")
    settings = load_settings(store_dir=tmp_path)
    assert (settings.auth.issuer, settings.auth.audience, settings.auth.roles_claim, settings.equity.rate_limit,
            settings.auth.steward_role) == (ISSUER, AUDIENCE, "realm_access.roles", "5/second", "steward")
    assert settings.access_path == tmp_path / "access.sqlite"
    monkeypatch.setenv("GEOSVC_EQUITY_RATE_LIMIT", "lots")
    with pytest.raises(ValueError, match="rate_limit"):
        load_settings(store_dir=tmp_path)
