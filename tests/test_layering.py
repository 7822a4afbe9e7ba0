"""The one-way data flow holds: pure packages import no web framework, only geosvc.ogc imports pygeoapi."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "geosvc"
PURE = ["geosvc.records", "geosvc.sources", "geosvc.validate", "geosvc.store", "geosvc.equity", "geosvc.report",
        "geosvc.metadata", "geosvc.plan_metrics", "geosvc.feeds", "geosvc.cql2", "geosvc.portal", "geosvc.tiles"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", PURE)
def test_pure_packages_load_no_web_framework(module):
    """Importing every module of a pure package pulls in neither FastAPI, Starlette nor pygeoapi."""
    code = (
        "import importlib, pkgutil, sys\n"
        f"pkg = importlib.import_module({module!r})\n"
        "for info in pkgutil.walk_packages(getattr(pkg, '__path__', []), pkg.__name__ + '.'):\n"
        "    importlib.import_module(info.name)\n"
        "print(sorted(m for m in ('fastapi', 'starlette', 'pygeoapi') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"{module} loads {out.strip()}"


def test_only_the_ogc_package_imports_pygeoapi():
    offenders = [
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*.py")
        if "ogc" not in path.relative_to(PACKAGE).parts
        and any(name.split(".")[0] == "pygeoapi" for name in _imports(path))
    ]
    assert offenders == []


def test_nothing_below_the_web_layer_imports_it():
    """records, sources, validate, store, equity and feeds never import geosvc.api, geosvc.ogc or geosvc.cli."""
    upward = ("geosvc.api", "geosvc.ogc", "geosvc.cli")
    offenders = []
    for package in ("records", "sources", "validate", "store", "equity", "metadata", "feeds", "tiles"):
        for path in (PACKAGE / package).rglob("*.py"):
            offenders += [f"{path.name}: {name}" for name in _imports(path) if name.startswith(upward)]
    assert offenders == []


def test_only_the_crs_module_imports_pyproj():
    """One CRS module: every other module reaches PROJ through geosvc.crs."""
    offenders = [
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*.py")
        if path != PACKAGE / "crs.py" and any(name.split(".")[0] == "pyproj" for name in _imports(path))
    ]
    assert offenders == []
