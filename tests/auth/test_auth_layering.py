"""geosvc.auth stays framework-free except its ASGI middleware."""

from __future__ import annotations

import subprocess
import sys

from support.postgis import store_free

pytestmark = store_free


def test_auth_modules_load_no_web_framework():
    code = (
        "import importlib, pkgutil, sys\n"
        "import geosvc.auth as pkg\n"
        "for info in pkgutil.iter_modules(pkg.__path__, 'geosvc.auth.'):\n"
        "    if info.name != 'geosvc.auth.middleware':\n"
        "        importlib.import_module(info.name)\n"
        "print(sorted(m for m in ('fastapi', 'starlette', 'pygeoapi') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
