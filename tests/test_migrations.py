"""The shipped Alembic revisions build exactly the schema the models declare."""

from __future__ import annotations

import os
import typing as t

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from flask import Flask

from flask_itms.migrations import VERSION_LOCATION, include_itms_revisions

ENV = os.path.join(os.path.dirname(__file__), "alembic_env")


def alembic_config(connection: sa.Connection, metadata: sa.MetaData) -> Config:
    config = Config()
    config.set_main_option("script_location", ENV)
    include_itms_revisions(config)
    config.attributes["connection"] = connection
    config.attributes["metadata"] = metadata
    return config


def schema_differences(connection: sa.Connection, metadata: sa.MetaData) -> list[t.Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
    return compare_metadata(context, metadata)


@pytest.fixture
def empty_app(make_app: t.Callable[..., Flask]) -> t.Iterator[Flask]:
    app = make_app(create_tables=False)
    with app.app_context():
        yield app


def test_upgrade_gives_the_models_schema(empty_app: Flask) -> None:
    db = empty_app.extensions["itms"].db
    with db.engine.begin() as connection:
        command.upgrade(alembic_config(connection, db.metadata), "itms@head")
    with db.engine.connect() as connection:
        assert schema_differences(connection, db.metadata) == []
        tables = set(sa.inspect(connection).get_table_names())
    assert {"itms_consent", "itms_consent_event", "itms_message", "itms_template", "itms_webhook_replay"} <= tables


def test_downgrade_then_upgrade(empty_app: Flask) -> None:
    db = empty_app.extensions["itms"].db
    with db.engine.begin() as connection:
        config = alembic_config(connection, db.metadata)
        command.upgrade(config, "itms@head")
        command.downgrade(config, "itms@base")
        assert not [name for name in sa.inspect(connection).get_table_names() if name.startswith("itms_")]
        command.upgrade(config, "itms@head")
    with db.engine.connect() as connection:
        assert schema_differences(connection, db.metadata) == []


def test_a_missing_column_is_detected(empty_app: Flask) -> None:
    """The comparison can fail: a schema one column short is reported."""
    db = empty_app.extensions["itms"].db
    with db.engine.begin() as connection:
        command.upgrade(alembic_config(connection, db.metadata), "itms@head")
    with (
        db.engine.begin() as connection,
        Operations(MigrationContext.configure(connection)).batch_alter_table("itms_template") as batch,
    ):
        batch.drop_column("mms_url")
    with db.engine.connect() as connection:
        differences = schema_differences(connection, db.metadata)
    assert [diff[0] for diff in differences] == ["add_column"]


def test_the_itms_branch_is_labelled() -> None:
    config = Config()
    config.set_main_option("script_location", ENV)
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", VERSION_LOCATION)
    script = ScriptDirectory.from_config(config)
    roots = [revision for revision in script.walk_revisions() if revision.down_revision is None]
    assert [sorted(root.branch_labels) for root in roots] == [["itms"]]
    assert len(script.get_revisions("itms@head")) == 1
