"""The migrations build exactly the schema the models describe, and go down and up again."""

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services import db
from services.db.migrate import alembic_config
from services.db.models import Base



def schema_differences() -> list:
    with db.get_engine().connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def test_migrated_schema_matches_the_models(data_dir: Path) -> None:
    assert schema_differences() == []


def test_every_migration_goes_down_and_up_again(data_dir: Path) -> None:
    config = alembic_config()
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    assert schema_differences() == []
