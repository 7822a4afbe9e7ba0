"""OpenID Connect bearer tokens (JWT) verified with PyJWT against the issuer's JWKS.

Checked: signature with a key of the issuer's JWKS (fetched over HTTP, cached, refetched once on an
unknown ``kid`` after a cool-down), ``iss``, ``aud``, ``exp`` (required), ``nbf``/``iat`` when present, and
an algorithm allow-list of asymmetric algorithms only, so ``alg: none`` and HMAC tokens signed with the
public key never verify.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jwt
from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError

from geosvc.errors import AuthUnavailable, Unauthorized

ALGORITHMS = ("RS256", "ES256", "PS256")
LEEWAY_S = 30  # clock skew tolerated between the issuer and us


def claim_at(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted claim path (``realm_access.roles``); a top-level claim named with dots wins."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def roles_from(value: Any) -> frozenset[str]:
    """Roles from a claim value: a list of strings, or one space-separated string (as ``scope`` is)."""
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, Iterable) and not isinstance(value, dict):
        return frozenset(str(v) for v in value if isinstance(v, str | int))
    return frozenset()


class TokenVerifier:
    """Verifies bearer tokens of one issuer; ``verify(token) -> (subject, roles)``."""

    def __init__(self, issuer: str, audience: str, jwks_url: str, roles_claim: str = "roles",
                 *, cache_s: float = 300, refetch_cooldown_s: float = 30, timeout_s: float = 5):
        self.issuer = issuer
        self.audience = audience
        self.roles_claim = roles_claim
        self.jwks = PyJWKClient(jwks_url, cache_jwk_set=True, lifespan=cache_s,
                                cooldown_duration=refetch_cooldown_s, timeout=timeout_s)

    def verify(self, token: str) -> tuple[str, frozenset[str]]:
        """Subject and roles of a valid token; :class:`Unauthorized` naming the cause otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"malformed bearer token: {exc}") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise Unauthorized(f"bearer token algorithm {alg!r} is not accepted (allowed: {', '.join(ALGORITHMS)})")
        if not isinstance(header.get("kid"), str):
            raise Unauthorized("bearer token has no key id (kid)")
        try:
            key = self.jwks.get_signing_key(header["kid"])
        except PyJWKClientConnectionError as exc:
            raise AuthUnavailable(f"cannot fetch the token issuer's keys: {exc}") from None
        except PyJWKClientError:
            raise Unauthorized(f"bearer token signed with unknown key '{header['kid']}'") from None
        try:
            claims = jwt.decode(
                token, key, algorithms=list(ALGORITHMS), audience=self.audience, issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("bearer token has expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("bearer token is not meant for this service (audience)") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("bearer token is from another issuer") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"invalid bearer token: {exc}") from None
        return str(claims["sub"]), roles_from(claim_at(claims, self.roles_claim))
