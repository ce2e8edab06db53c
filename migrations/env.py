"""Alembic environment for Flask-Migrate: the app's engine and ``db.metadata``.

``db.metadata`` holds the CRM's tables and the itms tables that ``ITMS(db=db)``
declared, so autogenerate sees both. The itms tables have their own revisions (branch
``itms``); generate the CRM's with ``flask db migrate --head crm@head``.
"""

from __future__ import annotations

import logging
import typing as t
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
# Log like `flask db` does, unless the app (or a test runner) already set logging up.
if config.config_file_name is not None and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

migrate = current_app.extensions["migrate"]
target_metadata = migrate.db.metadata


def skip_empty_autogenerate(context: t.Any, revision: t.Any, directives: list[t.Any]) -> None:
    """Write no revision file when autogenerate finds nothing to change."""
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("No changes in schema detected.")


def run_migrations_offline() -> None:
    context.configure(
        url=migrate.db.engine.url.render_as_string(hide_password=False),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # Flask-Migrate's defaults include render_as_batch, which lets ALTER TABLE work on SQLite.
    options = {"process_revision_directives": skip_empty_autogenerate, **migrate.configure_args}
    with migrate.db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, **options)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
