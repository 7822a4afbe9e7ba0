"""Run the CLI in-process (typer's CliRunner) against a temp store (the backend under test: GEOSVC_TEST_STORE)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from support.postgis import store_env, store_settings
from typer.testing import CliRunner

from geosvc.cli.main import app
from geosvc.store.backends import open_store


class Cli:
    """``cli("validate", "ct-towns")`` -> click Result, with GEOSVC_* pointing at temp folders and the store of
    ``settings``; ``cli.store`` is that store."""

    def __init__(self, settings, env: dict[str, str] | None = None):
        self.settings = settings
        self.env = {**store_env(settings), **(env or {})}
        self.runner = CliRunner()

    @property
    def store(self):
        return open_store(self.settings)

    def __call__(self, *args: str):
        return self.runner.invoke(app, list(args), env=self.env, catch_exceptions=False)


@pytest.fixture
def cli(tmp_path):
    """The real sample catalog and data, with a temp store."""
    return Cli(store_settings(store_dir=tmp_path / "store"))


@pytest.fixture
def sandbox(tmp_path):
    """A temp data root, layers dir and store; ``sandbox.write(record)`` adds a YAML record."""

    class Sandbox(Cli):
        root = tmp_path
        layers = tmp_path / "layers"
        store_dir = tmp_path / "store"

        def write(self, record: dict) -> Path:
            self.layers.mkdir(exist_ok=True)
            path = self.layers / f"{record['id']}.yaml"
            path.write_text(yaml.safe_dump(record, sort_keys=False))
            return path

    settings = store_settings(data_root=tmp_path, layers_dir=tmp_path / "layers", store_dir=tmp_path / "store")
    return Sandbox(settings, {"GEOSVC_DATA_ROOT": str(tmp_path), "GEOSVC_LAYERS_DIR": str(tmp_path / "layers")})
