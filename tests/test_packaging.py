"""The wheel as deployed: built from the checkout's sources, installed with the pinned dependencies into a fresh
venv outside the checkout (``scripts/install-wheel.sh``, the Dockerfile's steps), then ``geosvc validate``,
``publish`` and ``serve`` run from another folder holding only a config and two layer records.

About 2 min on this shared machine (1 min when quiet), most of it ``pip install -r requirements.lock``
into the new venv (from pip's cache).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import httpx
import pytest
import yaml
from support.serverproc import free_port, running

from geosvc.settings import load_settings

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("packaging")]

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["ct-towns", "ct-hospitals"]


def _tracked_sources(dest: Path) -> Path:
    """A copy of the checkout (its files git does not ignore), so building leaves no trace here."""
    listing = ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    names = subprocess.run(listing, capture_output=True, check=True).stdout
    for name in filter(None, names.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(venv bin folder, wheel) after ``scripts/install-wheel.sh`` into a fresh venv under tmp."""
    tmp = tmp_path_factory.mktemp("packaging")
    python = subprocess.run(["bash", str(ROOT / "scripts" / "find-python.sh")], capture_output=True, text=True,
                            check=True).stdout.strip()
    venv = tmp / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    source = _tracked_sources(tmp / "src")
    install = ["bash", str(source / "scripts" / "install-wheel.sh"), str(source), str(venv / "bin" / "python"),
               str(tmp / "wheel")]
    proc = subprocess.run(install, capture_output=True, text=True, timeout=900, env=_clean_env())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (wheel,) = (tmp / "wheel").glob("geosvc-*.whl")
    return venv / "bin", wheel


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without GEOSVC_* and PYTHONPATH: only the installed package may answer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEOSVC_") and k != "PYTHONPATH"}
    return {**env, **extra}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder with config/geosvc.toml (the image's) and two layer records, nothing else."""
    work = tmp_path_factory.mktemp("work")
    (work / "config").mkdir()
    shutil.copy(ROOT / "deploy" / "geosvc.toml", work / "config" / "geosvc.toml")
    (work / "layers").mkdir()
    for layer_id in LAYERS:
        shutil.copy(ROOT / "layers" / f"{layer_id}.yaml", work / "layers")
    return work


def test_wheel_ships_templates_static_files_and_the_default_config(installed):
    _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "geosvc/defaults/geosvc.toml" in names
    for folder in ("ogc/templates", "ogc/static", "portal/templates", "portal/static"):
        tracked = {p.relative_to(ROOT).as_posix() for p in (ROOT / "geosvc" / folder).rglob("*") if p.is_file()}
        assert tracked and tracked <= names, sorted(tracked - names)[:5]


def test_installed_geosvc_validates_publishes_and_serves_html(installed, workdir, tmp_path):
    bin_dir, _ = installed
    geosvc = str(bin_dir / "geosvc")
    env = _clean_env(GEOSVC_DATA_ROOT=str(load_settings(ROOT / "config" / "geosvc.toml").data.root),
                     GEOSVC_STORE_DIR=str(tmp_path / "store"))

    where = subprocess.run([str(bin_dir / "python"), "-c", "import geosvc; print(geosvc.__file__)"], cwd=workdir,
                           env=env, capture_output=True, text=True, check=True).stdout
    assert Path(where).is_relative_to(bin_dir.parent) and not Path(where).is_relative_to(ROOT)

    for command in ("validate", "publish"):
        proc = subprocess.run([geosvc, command], cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{command}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        assert all(layer_id in proc.stdout for layer_id in LAYERS), proc.stdout

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    title = yaml.safe_load((workdir / "layers" / "ct-towns.yaml").read_text())["title"]
    with running([geosvc, "serve", "--host", "127.0.0.1", "--port", str(port)], f"{base}/health",
                 tmp_path / "serve.log", env=env, cwd=workdir):
        with httpx.Client(base_url=base, timeout=30) as client:
            for page in ("/ogc/collections?f=html", "/ogc/collections/ct-towns/items?f=html"):
                response = client.get(page)
                assert response.status_code == 200, page
                assert response.headers["content-type"].startswith("text/html") and title in response.text
                assets = set(re.findall(r'(?:href|src)="([^"]*/static/[^"]+)"', response.text))
                assert any("/vendor/" in a for a in assets), assets
                for asset in assets:
                    assert client.get(asset).status_code == 200, asset
