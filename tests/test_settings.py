"""Settings: section variables, the older flat names, which TOML file is read and what its paths are relative to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from geosvc.ogc.processes import process_resources
from geosvc.settings import LEGACY_ENV, PACKAGED_CONFIG, load_settings

ROOT = Path(__file__).resolve().parent.parent
GEOSVC = str(Path(sys.executable).with_name("geosvc"))

MINIMAL = '[data]\nroot = "src"\n[layers]\ndir = "records"\n[store]\ndir = "/abs/store"\n'


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No GEOSVC_* variable from outside, and a working directory without config/."""
    for name in [n for n in os.environ if n.startswith("GEOSVC_")]:
        monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "etc" / "geosvc.toml"
    path.parent.mkdir()
    path.write_text(MINIMAL)
    return path


@pytest.mark.parametrize(
    ("variable", "value", "read"),
    [
        ("GEOSVC_DATA_ROOT", "/srv/data", lambda s: s.data.root == Path("/srv/data")),
        ("GEOSVC_LAYERS_DIR", "/srv/layers", lambda s: s.layers.dir == Path("/srv/layers")),
        ("GEOSVC_STORE_DIR", "/srv/store", lambda s: s.store.dir == Path("/srv/store")),
        ("GEOSVC_STORE_DSN", "postgresql://u:pw@db/gis", lambda s: s.store.dsn is not None
         and s.store.dsn.get_secret_value().endswith("@db/gis")),
        ("GEOSVC_STATE_NAME", "Rhode Island", lambda s: s.state.name == "Rhode Island"),
        ("GEOSVC_STATE_BBOX", "[-71.9, 41.1, -71.1, 42.0]", lambda s: s.state.bbox == (-71.9, 41.1, -71.1, 42.0)),
        ("GEOSVC_CRS_ALLOWED", '["EPSG:4326"]', lambda s: s.crs.allowed == ["EPSG:4326"]),
        ("GEOSVC_CRS_SERVE", '["urn:x"]', lambda s: s.crs.serve == ["urn:x"]),
        ("GEOSVC_SERVER_HOST", "0.0.0.0", lambda s: s.server.host == "0.0.0.0"),
        ("GEOSVC_SERVER_PORT", "8123", lambda s: s.server.port == 8123 and s.base_url.endswith(":8123")),
        ("GEOSVC_SERVER_PUBLIC_URL", "https://gis.ct.gov/", lambda s: s.base_url == "https://gis.ct.gov"),
        ("GEOSVC_SERVER_WORKERS", "4", lambda s: s.server.workers == 4),
        ("GEOSVC_EQUITY_SUPPRESSION_K", "20", lambda s: s.equity.suppression_k == 20),
        ("GEOSVC_CONTACT_NAME", "Desk", lambda s: s.contact.name == "Desk"),
        ("GEOSVC_CONTACT_EMAIL", "desk@ct.gov", lambda s: s.contact.email == "desk@ct.gov"),
    ],
)
def test_each_section_variable(monkeypatch, config, variable, value, read):
    assert not read(load_settings(config))
    monkeypatch.setenv(variable, value)
    assert read(load_settings(config))


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("GEOSVC_HOST", "0.0.0.0", "0.0.0.0"),
        ("GEOSVC_PORT", "8124", 8124),
        ("GEOSVC_PUBLIC_URL", "https://x.example", "https://x.example"),
        ("GEOSVC_SUPPRESSION_K", "30", 30),
        ("GEOSVC_ALLOWED_CRS", '["EPSG:5070"]', ["EPSG:5070"]),
        ("GEOSVC_SERVE_CRS", '["urn:y"]', ["urn:y"]),
    ],
)
def test_legacy_flat_names_still_work(monkeypatch, config, variable, value, expected):
    section, field = LEGACY_ENV[variable]
    monkeypatch.setenv(variable, value)
    assert getattr(getattr(load_settings(config), section), field) == expected


def test_priority_keywords_then_sections_then_legacy_then_file(monkeypatch, config):
    config.write_text(MINIMAL + "[server]\nport = 6001\n")
    assert load_settings(config).server.port == 6001
    monkeypatch.setenv("GEOSVC_PORT", "6002")
    assert load_settings(config).server.port == 6002
    monkeypatch.setenv("GEOSVC_SERVER_PORT", "6003")
    assert load_settings(config).server.port == 6003
    assert load_settings(config, server_port=6004).server.port == 6004


def test_file_paths_are_relative_to_the_file_and_env_paths_to_the_working_directory(monkeypatch, config, clean_env):
    settings = load_settings(config)
    assert settings.config == config
    assert settings.data.root == config.parent / "src" and settings.layers.dir == config.parent / "records"
    assert settings.store.dir == Path("/abs/store") and settings.catalog_path == Path("/abs/store/catalog.sqlite")
    monkeypatch.setenv("GEOSVC_DATA_ROOT", "elsewhere")
    assert load_settings(config).data.root == clean_env / "elsewhere"
    assert load_settings(config, layers_dir="mine").layers.dir == clean_env / "mine"


def test_which_file(monkeypatch, config, clean_env):
    packaged = load_settings()
    assert packaged.config == PACKAGED_CONFIG and PACKAGED_CONFIG.is_relative_to(ROOT / "geosvc")
    # the packaged default's relative paths are relative to the working directory, never the installed tree
    assert (packaged.data.root, packaged.layers.dir, packaged.store.dir) == (
        clean_env / "data", clean_env / "layers", clean_env / "var" / "store")
    local = clean_env / "config" / "geosvc.toml"
    local.parent.mkdir()
    local.write_text('[data]\nroot = "d"\n[layers]\ndir = "l"\n[store]\ndir = "s"\n')
    assert load_settings().data.root == local.parent / "d"
    monkeypatch.setenv("GEOSVC_CONFIG", str(config))
    assert load_settings().config == config
    with pytest.raises(FileNotFoundError):
        load_settings(clean_env / "missing.toml")


def test_the_checkout_config_finds_the_shared_data():
    settings = load_settings(ROOT / "config" / "geosvc.toml")
    assert settings.layers.dir == ROOT / "layers" and (settings.layers.dir / "ct-towns.yaml").is_file()
    assert settings.data.root.is_dir() and settings.store.dir == ROOT / "var" / "store"


def test_replace_validates_the_changed_sections(config):
    settings = load_settings(config)
    changed = settings.replace(server_port=7001, contact_name="Desk")
    assert (changed.server.port, changed.contact.name, settings.server.port) == (7001, "Desk", 5000)
    with pytest.raises(ValueError, match="server.port|port"):
        settings.replace(server_port=0)
    with pytest.raises(ValueError, match="no settings section 'suppression'"):
        settings.replace(suppression_k=3)


def test_secrets_stay_out_of_the_processes_config(monkeypatch, config):
    monkeypatch.setenv("GEOSVC_STORE_DSN", "postgresql://u:hunter2@db/gis")
    settings = load_settings(config)
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(process_resources())  # the generated pygeoapi config carries no settings at all
    assert settings.store.dsn.get_secret_value() == "postgresql://u:hunter2@db/gis"


@pytest.mark.parametrize(
    ("toml", "env", "needle"),
    [
        ('[server]\nport = "eighty"\n', {}, "invalid setting 'server.port'"),
        ("[server]\nworkers = 99\n", {}, "invalid setting 'server.workers'"),
        ('[stor]\ndir = "x"\n', {}, "invalid setting 'stor'"),
        ("", {"GEOSVC_STATE_BBOX": "not-a-bbox"}, "invalid setting 'state.bbox'"),
        ("", {"GEOSVC_SUPPRESSION_K": "1"}, "invalid setting 'equity.suppression_k'"),
        ("[data\n", {}, "cannot read config"),
    ],
)
def test_bad_settings_are_one_line_errors_exit_2(tmp_path, config, toml, env, needle):
    config.write_text(MINIMAL + toml)
    proc = subprocess.run([GEOSVC, "--config", str(config), "validate"], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and needle in lines[0], proc.stderr
