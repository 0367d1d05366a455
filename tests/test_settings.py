"""Settings: env vars and townhall.toml, built on demand, no default secret outside demo mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from townhall.settings import DEFAULT_SECRET_KEY, Settings, SettingsError, get_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("TOWNHALL_SECRET_KEY", "TOWNHALL_DEMO_MODE", "TOWNHALL_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()


def test_refuses_to_start_with_the_default_secret() -> None:
    with pytest.raises(SettingsError, match="TOWNHALL_SECRET_KEY is not set"):
        Settings()


def test_demo_mode_may_use_the_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOWNHALL_DEMO_MODE", "true")
    assert Settings().secret_key == DEFAULT_SECRET_KEY


def test_short_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOWNHALL_SECRET_KEY", "short")
    with pytest.raises(SettingsError, match="at least 16"):
        Settings()


def test_environment_variables_override_the_toml_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "townhall.toml").write_text(
        'secret_key = "from-the-toml-file-0123456789"\nport = 9001\nservice_name = "Ask Us"\n'
    )
    monkeypatch.setenv("TOWNHALL_PORT", "9002")
    settings = Settings()
    assert settings.secret_key == "from-the-toml-file-0123456789"
    assert settings.service_name == "Ask Us"
    assert settings.port == 9002


def test_config_file_path_can_be_chosen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text('secret_key = "another-secret-value-0123456"\n')
    monkeypatch.setenv("TOWNHALL_CONFIG_FILE", str(path))
    assert Settings().secret_key == "another-secret-value-0123456"


def test_defaults_to_sqlite_in_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOWNHALL_SECRET_KEY", "x" * 32)
    assert Settings().database_url == "sqlite:///./var/townhall.db"


def test_wrong_types_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOWNHALL_SECRET_KEY", "x" * 32)
    monkeypatch.setenv("TOWNHALL_PORT", "eighty")
    with pytest.raises(ValidationError, match="port"):
        Settings()


def test_unknown_keys_in_the_toml_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "townhall.toml").write_text('secret_key = "' + "s" * 32 + '"\nsecrte = 1\n')
    with pytest.raises(ValidationError, match="secrte"):
        Settings()


def test_settings_are_built_on_demand_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOWNHALL_SECRET_KEY", "y" * 32)
    first = get_settings()
    assert get_settings() is first
    get_settings.cache_clear()
