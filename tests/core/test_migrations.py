"""Migrations match the models and can be undone and redone, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command

from townhall.core.migrate import alembic_config, downgrade, upgrade


def test_models_and_migrations_agree(database_url: str) -> None:
    # Raises if autogenerate would write any operation: a model change without a migration.
    command.check(alembic_config(database_url))


def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    downgrade(database_url, "base")
    upgrade(database_url)
    command.check(alembic_config(database_url))
