"""An OpenID Connect issuer of the tests' own: RSA and EC keys made here, its JWKS served over real HTTP."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://idp.example.test/realms/ct"
AUDIENCE = "geosvc"


class Issuer:
    """Signing keys by kid, a JWKS endpoint serving the public halves, and a fetch counter."""

    def __init__(self):
        self.keys = {"rsa-1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
                     "ec-1": ec.generate_private_key(ec.SECP256R1())}
        self.algs = {"rsa-1": "RS256", "ec-1": "ES256"}
        self.fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                issuer.fetches += 1
                body = json.dumps(issuer.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/protocol/openid-connect/certs"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def jwks(self) -> dict:
        out = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.get_default_algorithms()[self.algs[kid]].to_jwk(key.public_key()))
            out.append(jwk | {"kid": kid, "use": "sig", "alg": self.algs[kid]})
        return {"keys": out}

    def add_key(self, kid: str, alg: str = "RS256"):
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.algs[kid] = alg

    def claims(self, **overrides) -> dict:
        now = int(time.time())
        return {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300,
                "roles": ["health-analyst"]} | overrides

    def token(self, kid: str = "rsa-1", alg: str | None = None, **claims) -> str:
        return jwt.encode(self.claims(**claims), self.keys[kid], algorithm=alg or self.algs[kid],
                          headers={"kid": kid})


