"""Settings: ``config/geosvc.toml`` overridden by ``GEOSVC_*`` environment variables.

No instance is built at import time; call :func:`load_settings`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "geosvc.toml"


class Settings(BaseSettings):
    """All geosvc settings (paths are absolute once loaded)."""

    model_config = SettingsConfigDict(env_prefix="GEOSVC_", extra="forbid")

    data_root: Path = Field(description="Folder that layer sources are read from")
    layers_dir: Path = Field(description="Folder of layer records (*.yaml)")
    store_dir: Path = Field(description="Folder of the embedded store")
    state_name: str = "Connecticut"
    state_bbox: tuple[float, float, float, float] = Field(
        description="State extent in CRS84 (minx, miny, maxx, maxy)"
    )
    allowed_crs: list[str]
    serve_crs: list[str]
    host: str = "127.0.0.1"
    port: int = 5000
    public_url: str | None = Field(None, description="Public base URL (default http://host:port)")
    suppression_k: int = Field(11, ge=2)
    equity_time_budget_s: float = Field(20.0, gt=0, description="Wall-time budget of one equity request (s)")
    contact_name: str = Field("geosvc data coordination desk", description="Service contact (OGC landing page)")
    contact_email: str = Field("gis@example.org", description="Service contact e-mail")

    @field_validator("data_root", "layers_dir", "store_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value if value.is_absolute() else (PROJECT_ROOT / value).resolve()

    @property
    def base_url(self) -> str:
        """Public URL of the service root, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def catalog_path(self) -> Path:
        """SQLite catalog of published versions and validation runs."""
        return self.store_dir / "catalog.sqlite"


def load_settings(config: Path | None = None, **overrides) -> Settings:
    """Read the TOML config, then let ``GEOSVC_*`` variables and ``overrides`` win."""
    path = config or DEFAULT_CONFIG
    with open(path, "rb") as fh:
        values = tomllib.load(fh)
    # pydantic-settings gives init kwargs priority over the environment; we want the
    # environment to beat the file, so only pass file values that the env does not set.
    file_values = {k: v for k, v in values.items() if f"GEOSVC_{k.upper()}" not in os.environ}
    file_values.update(overrides)
    return Settings(**file_values)
