"""From request headers to a :class:`Caller`: a bearer token, an API key (``X-API-Key``, the password of
HTTP Basic, or a ``gsk_`` bearer), or nothing (anonymous). Credentials that are sent but invalid are a 401,
never a silent fall-back to anonymous.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable, Mapping

from geosvc.auth.caller import ANONYMOUS, Caller, utcnow
from geosvc.auth.keys import PREFIX, check_key, key_id_of
from geosvc.auth.store import AccessStore, open_access_store
from geosvc.auth.tokens import TokenVerifier
from geosvc.errors import Unauthorized


def verifier_from(settings) -> TokenVerifier | None:
    """The token verifier the settings configure (None: bearer tokens are not accepted)."""
    if not settings.auth.issuer:
        return None
    return TokenVerifier(settings.auth.issuer, settings.auth.audience, settings.auth.jwks_url,
                         settings.auth.roles_claim)


class Authenticator:
    """Resolves callers against one token verifier and one access store; ``clock`` decides which grants are in force."""

    def __init__(self, store: AccessStore, verifier: TokenVerifier | None = None,
                 clock: Callable[[], dt.datetime] = utcnow):
        self.store, self.verifier, self.clock = store, verifier, clock

    @classmethod
    def from_settings(cls, settings) -> Authenticator:
        return cls(open_access_store(settings), verifier_from(settings))

    def resolve_caller(self, headers: Mapping[str, str]) -> Caller:
        """The caller these headers (any case) prove; :class:`Unauthorized` for bad credentials."""
        headers = {name.lower(): value for name, value in headers.items()}
        api_key = headers.get("x-api-key")
        authorization = headers.get("authorization")
        if api_key is not None and authorization is not None:
            raise Unauthorized("send one credential: X-API-Key or Authorization, not both")
        if api_key is not None:
            return self._key_caller(api_key.strip())
        if authorization is None:
            return ANONYMOUS
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "basic":
            return self._key_caller(_basic_password(value))
        if scheme.lower() == "bearer" and value:
            if value.startswith(PREFIX):
                return self._key_caller(value)
            return self._token_caller(value)
        raise Unauthorized("unsupported Authorization scheme (use Bearer or Basic)")

    def _key_caller(self, key: str) -> Caller:
        stored = check_key(key, self.store.get_key(key_id_of(key)))
        return Caller(stored.subject, frozenset(stored.roles), "key", stored.key_id, stored.name,
                      self.store.grants_for(stored.subject, self.clock()))

    def _token_caller(self, token: str) -> Caller:
        if self.verifier is None:
            raise Unauthorized("bearer tokens are not accepted here (no issuer configured)")
        subject, roles = self.verifier.verify(token)
        return Caller(subject, roles, "token", grants=self.store.grants_for(subject, self.clock()))


def _basic_password(value: str) -> str:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("malformed Basic credentials") from None
    _, sep, password = decoded.partition(":")
    if not sep or not password:
        raise Unauthorized("Basic credentials carry no API key as the password")
    return password.strip()
