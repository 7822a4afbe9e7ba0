"""Settings: ``config/geosvc.toml`` overridden by ``GEOSVC_*`` environment variables.

No instance is built at import time; call :func:`load_settings`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import Field, field_validator, model_validator
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
    contact_name: str = Field("geosvc data coordination desk", description="Service contact (OGC landing page)")
    contact_email: str = Field("gis@example.org", description="Service contact e-mail")
    auth_issuer: str | None = Field(None, description="OpenID Connect issuer whose bearer tokens are accepted (iss)")
    auth_audience: str | None = Field(None, description="Audience a bearer token must name (aud)")
    auth_jwks_url: str | None = Field(None, description="URL of the issuer's JSON Web Key Set")
    auth_roles_claim: str = Field("roles", description="Token claim holding the caller's roles (dotted path allowed)")
    auth_steward_role: str = Field("steward", description="Role that may decide access requests over the API")
    equity_rate_limit: str = Field("30/minute", pattern=r"^\d+/(second|minute|hour|day)$",
                                   description="Equity requests allowed per caller, e.g. '30/minute'")

    @field_validator("data_root", "layers_dir", "store_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value if value.is_absolute() else (PROJECT_ROOT / value).resolve()

    @model_validator(mode="after")
    def _token_sign_in(self) -> Settings:
        names = ("auth_issuer", "auth_audience", "auth_jwks_url")
        missing = [f"GEOSVC_{name.upper()}" for name in names if not getattr(self, name)]
        if 0 < len(missing) < len(names):
            raise ValueError(f"token sign-in needs auth_issuer, auth_audience and auth_jwks_url together; "
                             f"set {', '.join(missing)} too")
        return self

    @property
    def base_url(self) -> str:
        """Public URL of the service root, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def catalog_path(self) -> Path:
        """SQLite catalog of published versions and validation runs."""
        return self.store_dir / "catalog.sqlite"

    @property
    def access_path(self) -> Path:
        """SQLite database of API keys, access requests, grants, the audit trail and rate-limit state."""
        return self.store_dir / "access.sqlite"


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
