"""Run the CLI in-process (typer's CliRunner) against a temp store."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from geosvc.cli.main import app


class Cli:
    """``cli("validate", "ct-towns")`` -> click Result, with GEOSVC_* pointing at temp folders."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.runner = CliRunner()

    def __call__(self, *args: str):
        return self.runner.invoke(app, list(args), env=self.env, catch_exceptions=False)


@pytest.fixture
def cli(tmp_path):
    """The real sample catalog and data, with a temp store."""
    return Cli({"GEOSVC_STORE_DIR": str(tmp_path / "store")})


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

    return Sandbox(
        {"GEOSVC_DATA_ROOT": str(tmp_path), "GEOSVC_LAYERS_DIR": str(tmp_path / "layers"), "GEOSVC_STORE_DIR": str(tmp_path / "store")}
    )
