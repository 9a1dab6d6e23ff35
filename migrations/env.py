"""Alembic environment: the URL comes from bot.config (or the caller), never from alembic.ini."""

from collections.abc import Iterable

from alembic import context
from alembic.operations import MigrationScript
from alembic.runtime.migration import MigrationContext

from bot.config import Settings
from bot.storage.engine import make_engine
from bot.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    return url or Settings.from_env(require_slack=False).database_url


def _skip_empty(
    context_: MigrationContext, revision: str | Iterable[str | None] | Iterable[str], directives: list[MigrationScript]
) -> None:
    # `alembic revision --autogenerate` with no model change writes no empty file
    upgrade_ops = directives[0].upgrade_ops
    if getattr(config.cmd_opts, "autogenerate", False) and upgrade_ops is not None and upgrade_ops.is_empty():
        directives[:] = []


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url(), pooled=False)  # one short-lived connection for the migration
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,  # SQLite needs batch mode to alter tables
            process_revision_directives=_skip_empty,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
