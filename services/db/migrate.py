"""Run Alembic migrations without an alembic.ini: ``python -m services.db.migrate [revision]``."""

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations
from services.settings import get_settings


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", (database_url or get_settings().database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    """Bring the database to ``revision`` (the newest by default)."""
    command.upgrade(alembic_config(database_url), revision)


if __name__ == "__main__":
    upgrade(revision=sys.argv[1] if len(sys.argv) > 1 else "head")
