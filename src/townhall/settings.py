"""Every setting in one place.

Values come, highest priority first, from keyword arguments, ``TOWNHALL_*`` environment variables,
a ``townhall.toml`` file (path in ``TOWNHALL_CONFIG_FILE``, default ``./townhall.toml``) and the
defaults below. Settings are built on demand by :func:`get_settings`, never at import time.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_SECRET_KEY = "insecure-default-change-me"  # noqa: S105 - the value we refuse to run with


class SettingsError(RuntimeError):
    """The settings cannot be used to start the service."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOWNHALL_", extra="forbid")

    service_name: str = "Townhall"
    organisation_name: str = "Exampleshire Council"
    environment: Literal["production", "staging", "development", "test"] = "production"
    demo_mode: bool = False

    secret_key: str = DEFAULT_SECRET_KEY
    database_url: str = "sqlite:///./var/townhall.db"
    database_echo: bool = False

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Set when a reverse proxy terminates TLS: turns on Secure cookies and HSTS.
    behind_tls: bool = False
    trusted_proxies: str = "127.0.0.1"

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    session_max_age_seconds: int = Field(default=8 * 3600, ge=60)
    session_cookie_name: str = "townhall_session"

    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=15 * 60, ge=1)

    # argon2id cost; OWASP's minimum is m=19 MiB, t=2. Tests lower these for speed.
    password_time_cost: int = Field(default=3, ge=1)
    password_memory_kib: int = Field(default=65536, ge=8)

    # Days each record type is kept before `townhall retention purge` removes it.
    retention_days: dict[str, int] = Field(
        default_factory=lambda: {
            "decision_records": 6 * 365,  # six years: the usual limit for claims and appeals
            "login_failures": 30,
            "shadow_outputs": 365,
        }
    )

    # Keyed pseudonymisation: key id -> secret (at least 16 characters), and the id that signs new
    # pseudonyms. Rotate by adding a key and making it current; keep old keys for look-ups.
    pseudonym_keys: dict[str, SecretStr] = Field(default_factory=dict)
    pseudonym_current_key: str = ""

    # Anonymised exports made on the web wait here (for an hour) to be downloaded.
    exports_dir: Path = Path("var/exports")

    # System cards (one YAML file per deployed service) for the public transparency register.
    transparency_dir: Path = Path("transparency")

    log_level: str = "INFO"
    log_json: bool = True

    # Prometheus metrics: served at /metrics to staff with metrics:read (or an API token).
    metrics_enabled: bool = True

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.secret_key == DEFAULT_SECRET_KEY and not self.demo_mode:
            raise SettingsError(
                "TOWNHALL_SECRET_KEY is not set. Set it to a long random value "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))'), "
                "or set TOWNHALL_DEMO_MODE=true to run the fictional demo."
            )
        if len(self.secret_key) < 16 and not self.demo_mode:
            raise SettingsError("TOWNHALL_SECRET_KEY must be at least 16 characters long.")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("TOWNHALL_CONFIG_FILE", "townhall.toml"))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
            file_secret_settings,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, built once on first use."""
    return Settings()
