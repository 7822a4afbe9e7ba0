"""Shared fixtures: an OpenID issuer of our own (RSA and EC keys made here, its JWKS served over real HTTP on
127.0.0.1), token minting, and a temp access database."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from geosvc.auth.store import SqliteAccessStore

from support.oidc import AUDIENCE, ISSUER, Issuer  # noqa: F401 (re-exported for the tests)


@pytest.fixture(scope="session")
def issuer():
    issuer = Issuer()
    yield issuer
    issuer.server.shutdown()


@pytest.fixture
def access_store(tmp_path):
    return SqliteAccessStore(tmp_path / "access.sqlite")
