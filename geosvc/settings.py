"""Settings: one small model per concern, read from a TOML file and ``GEOSVC_<SECTION>_<FIELD>`` variables.

Priority, highest first: keyword arguments, ``GEOSVC_<SECTION>_<FIELD>``, the older flat names
(:data:`LEGACY_ENV`), the TOML file, the defaults here. The TOML file is ``--config`` / ``GEOSVC_CONFIG``,
else ``./config/geosvc.toml`` in the working directory, else the packaged ``geosvc/defaults/geosvc.toml``.
Relative paths in a TOML file are relative to that file's folder; anywhere else (environment,
keyword arguments, the packaged default) they are relative to the working directory.

No instance is built at import time; call :func:`load_settings`.
"""

from __future__ import annotations

import json
import os
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PACKAGED_CONFIG = Path(str(files("geosvc") / "defaults" / "geosvc.toml"))
"""The default config shipped in the wheel (its relative paths are relative to the working directory)."""
LOCAL_CONFIG = Path("config") / "geosvc.toml"
"""The config looked for in the working directory when none is named."""

AbsolutePath = Annotated[Path, AfterValidator(lambda path: path.resolve())]
"""A path made absolute against the working directory (TOML paths arrive already anchored)."""


def _from_json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise ValueError(f"expected a JSON list such as [1, 2], got {value!r}") from None


FromJson = BeforeValidator(_from_json)
"""Lists in environment variables are JSON text, decoded during validation so errors name the setting."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSettings(Section):
    root: AbsolutePath = Field(description="Folder that layer sources are read from")


class LayersSettings(Section):
    dir: AbsolutePath = Field(description="Folder of layer records (*.yaml)")


class StoreSettings(Section):
    backend: Literal["gpkg", "postgis"] = Field("gpkg", description="Store backend")
    dir: AbsolutePath = Field(description="Folder of the embedded store")
    dsn: SecretStr | None = Field(None, description="Database connection string (database backends)")


class StateSettings(Section):
    name: str = Field("Connecticut", description="The state whose layers are served")
    bbox: Annotated[tuple[float, float, float, float], NoDecode, FromJson] = Field(
        (-73.73, 40.95, -71.78, 42.06), description="State extent in CRS84 (minx, miny, maxx, maxy)"
    )


class CrsSettings(Section):
    allowed: Annotated[list[str], NoDecode, FromJson] = Field(
        ["OGC:CRS84", "EPSG:4326", "EPSG:4269", "EPSG:4267", "EPSG:3857", "EPSG:6433", "EPSG:6434",
         "EPSG:2234", "EPSG:26956", "EPSG:26918", "EPSG:6347", "EPSG:5070"],
        description="CRSs a layer may be declared in (anything else is an error finding)",
    )
    serve: Annotated[list[str], NoDecode, FromJson] = Field(
        ["http://www.opengis.net/def/crs/OGC/1.3/CRS84", "http://www.opengis.net/def/crs/EPSG/0/4326",
         "http://www.opengis.net/def/crs/EPSG/0/4269", "http://www.opengis.net/def/crs/EPSG/0/3857",
         "http://www.opengis.net/def/crs/EPSG/0/6434", "http://www.opengis.net/def/crs/EPSG/0/2234"],
        description="CRSs advertised for every vector collection",
    )


class ServerSettings(Section):
    host: str = Field("127.0.0.1", description="Interface to bind")
    port: int = Field(5000, ge=1, le=65535, description="Port to bind")
    public_url: str | None = Field(None, description="Public base URL (default http://host:port)")
    workers: int = Field(1, ge=1, le=32, description="Server worker processes")
    query_timeout_s: float = Field(10.0, gt=0, le=600, description="Time budget of one store query (then 503)")
    registry_poll_s: float = Field(0.5, gt=0, le=60, description="How often workers look for registry changes")
    shutdown_timeout_s: float = Field(3.0, ge=0, le=120, description="Graceful shutdown: wait this long for requests")


class EquitySettings(Section):
    suppression_k: int = Field(11, ge=2, description="Minimum cell size (callers may raise it, never lower it)")
    time_budget_s: float = Field(20.0, gt=0, description="Wall-time budget of one equity request (s)")
    rate_limit: str = Field("30/minute", pattern=r"^\d+/(second|minute|hour|day)$",
                            description="Equity requests allowed per caller, e.g. '30/minute'")


class AuthSettings(Section):
    issuer: str | None = Field(None, description="OpenID Connect issuer whose bearer tokens are accepted (iss)")
    audience: str | None = Field(None, description="Audience a bearer token must name (aud)")
    jwks_url: str | None = Field(None, description="URL of the issuer's JSON Web Key Set")
    roles_claim: str = Field("roles", description="Token claim holding the caller's roles (dotted path allowed)")
    steward_role: str = Field("steward", description="Role that may decide access requests over the API")

    @model_validator(mode="after")
    def _token_sign_in(self) -> AuthSettings:
        names = ("issuer", "audience", "jwks_url")
        missing = [f"GEOSVC_AUTH_{name.upper()}" for name in names if not getattr(self, name)]
        if 0 < len(missing) < len(names):
            raise ValueError(f"token sign-in needs auth.issuer, auth.audience and auth.jwks_url together; "
                             f"set {', '.join(missing)} too")
        return self


class SyncSettings(Section):
    timeout: float = Field(60.0, gt=0, description="Seconds a sync request may take to connect or between bytes")
    retries: int = Field(3, ge=0, description="Retries of a failed sync request (connection, timeout, 429, 5xx)")
    backoff: float = Field(2.0, ge=0, description="First retry wait in seconds (doubles each retry, jittered)")
    jitter: float = Field(0.1, ge=0, le=1, description="Up to this fraction of a layer's sync interval is added to its due time")
    tick: float = Field(30.0, gt=0, description="Seconds between due checks of `geosvc sync --watch`")


class ContactSettings(Section):
    name: str = Field("geosvc data coordination desk", description="Service contact (OGC landing page)")
    email: str = Field("gis@example.org", description="Service contact e-mail")


class PortalSettings(Section):
    name: str = Field("geosvc", min_length=1, description="Service name shown on the portal pages")
    logo: str = Field("/ogc/static/img/geosvc.svg", pattern=r"^/[^/]",
                      description="Logo of the portal pages: a path on this host (nothing is loaded from another host)")


LEGACY_ENV: dict[str, tuple[str, str]] = {
    "GEOSVC_HOST": ("server", "host"),
    "GEOSVC_PORT": ("server", "port"),
    "GEOSVC_PUBLIC_URL": ("server", "public_url"),
    "GEOSVC_SUPPRESSION_K": ("equity", "suppression_k"),
    "GEOSVC_ALLOWED_CRS": ("crs", "allowed"),
    "GEOSVC_SERVE_CRS": ("crs", "serve"),
}
"""Flat variable names from before the sections -> (section, field). The other old names
(``GEOSVC_DATA_ROOT``, ``GEOSVC_STORE_DIR``, ``GEOSVC_STATE_BBOX``, ...) already are section names."""


class LegacyEnvSource(PydanticBaseSettingsSource):
    """The :data:`LEGACY_ENV` variables, read into their sections."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything happens in __call__: one variable -> one nested field

    def __call__(self) -> dict[str, Any]:
        values: dict[str, dict[str, Any]] = {}
        for name, (section, key) in LEGACY_ENV.items():
            if name in os.environ:
                values.setdefault(section, {})[key] = os.environ[name]
        return values


class TomlFileSource(TomlConfigSettingsSource):
    """pydantic-settings' TOML source, with relative paths anchored to the file's folder (``anchor``)."""

    def __init__(self, settings_cls: type[BaseSettings], toml_file: Path, anchor: Path | None):
        super().__init__(settings_cls, toml_file)
        self.anchor = anchor

    def __call__(self) -> dict[str, Any]:
        values = {"config": str(self.toml_file_path), **super().__call__()}
        for section, field in path_fields(self.settings_cls):
            table = values.get(section)
            if self.anchor and isinstance(table, dict) and isinstance(table.get(field), str):
                table[field] = str(self.anchor / table[field])  # absolute values survive the join
        return values


def path_fields(settings_cls: type[BaseSettings]) -> list[tuple[str, str]]:
    """(section, field) of every path setting."""
    return [
        (section, name)
        for section, info in settings_cls.model_fields.items()
        if isinstance(info.annotation, type) and issubclass(info.annotation, Section)
        for name, field in info.annotation.model_fields.items()
        if field.annotation is Path
    ]


def config_file(config: Path | str | None = None) -> Path:
    """The TOML file to read: ``config``, else ``GEOSVC_CONFIG``, else ./config/geosvc.toml, else the packaged one."""
    if config is None and os.environ.get("GEOSVC_CONFIG"):
        config = Path(os.environ["GEOSVC_CONFIG"])
    if config is not None:
        config = Path(config)
        if not config.is_file():
            raise FileNotFoundError(2, "No such file", str(config))
        return config.resolve()
    return LOCAL_CONFIG.resolve() if LOCAL_CONFIG.is_file() else PACKAGED_CONFIG


class Settings(BaseSettings):
    """All geosvc settings, one section per concern (paths are absolute once loaded)."""

    model_config = SettingsConfigDict(
        env_prefix="GEOSVC_", env_nested_delimiter="_", env_nested_max_split=1, extra="forbid"
    )

    config: Path | None = Field(None, description="The TOML file read (--config / GEOSVC_CONFIG)")
    data: DataSettings
    layers: LayersSettings
    store: StoreSettings
    state: StateSettings = StateSettings()
    crs: CrsSettings = CrsSettings()
    server: ServerSettings = ServerSettings()
    equity: EquitySettings = EquitySettings()
    contact: ContactSettings = ContactSettings()
    sync: SyncSettings = SyncSettings()
    auth: AuthSettings = AuthSettings()
    portal: PortalSettings = PortalSettings()

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings, env_settings, dotenv_settings, file_secret_settings
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = config_file(init_settings.init_kwargs.get("config"))
        anchor = None if toml == PACKAGED_CONFIG else toml.parent
        return init_settings, env_settings, LegacyEnvSource(settings_cls), TomlFileSource(settings_cls, toml, anchor)

    def replace(self, **overrides: Any) -> Settings:
        """A copy with ``overrides`` (spelled like :func:`load_settings`'s), the changed sections validated."""
        update = {}
        for name, fields in sectioned(overrides).items():
            section = getattr(self, name, None)
            if not isinstance(section, Section):
                raise ValueError(f"no settings section {name!r} (overrides are spelled <section>_<field>)")
            update[name] = section.model_validate({**section.model_dump(), **fields})
        return self.model_copy(update=update)

    @property
    def base_url(self) -> str:
        """Public URL of the service root, without a trailing slash."""
        return (self.server.public_url or f"http://{self.server.host}:{self.server.port}").rstrip("/")

    @property
    def catalog_path(self) -> Path:
        """SQLite catalog of published versions and validation runs."""
        return self.store.dir / "catalog.sqlite"

    @property
    def access_path(self) -> Path:
        """SQLite database of API keys, access requests, grants, the audit trail and rate-limit state."""
        return self.store.dir / "access.sqlite"



def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Settings from ``config`` (see :func:`config_file`) and the environment, with ``overrides`` winning.

    Overrides are spelled like the variables without the prefix, ``<section>_<field>``:
    ``load_settings(store_dir=tmp, server_port=8080, equity_suppression_k=20)``.
    """
    return Settings(config=config_file(config), **sectioned(overrides))


def sectioned(overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"store_dir": x}`` -> ``{"store": {"dir": x}}`` (the first ``_`` ends the section, as in the variables)."""
    sections: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        section, _, field = key.partition("_")
        sections.setdefault(section, {})[field] = value
    return sections
