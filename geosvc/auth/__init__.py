"""Identity and access: who is calling (tokens, API keys), what they may read (roles, grants, derived layers),
the tamper-evident audit trail, access requests and per-caller rate limits.

Everything here is framework-free except :mod:`geosvc.auth.middleware` (pure ASGI, Starlette types).
"""
