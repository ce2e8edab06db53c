"""The repository's migrations/ (Flask-Migrate) builds the CRM tables and the itms tables exactly."""

from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from crm_support import build_crm, dispose
from flask import Flask

from example_app.extensions import db, migrate

CRM_TABLES = {"crm_user", "crm_client", "crm_account", "crm_phone"}
ITMS_TABLES = {"itms_consent", "itms_consent_event", "itms_message", "itms_template", "itms_webhook_replay"}


@pytest.fixture
def empty_crm(database_url: str) -> t.Iterator[Flask]:
    app = build_crm(database_url, seeded=False)
    with app.app_context():
        db.drop_all()
        yield app
    dispose(app)


def alembic_config() -> Config:
    """Flask-Migrate's config for the app, with the itms revisions added."""
    return t.cast(Config, migrate.get_config())


def tables() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def differences() -> list[t.Any]:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_upgrade_heads_builds_both_branches_exactly(empty_crm: Flask) -> None:
    command.upgrade(alembic_config(), "heads")
    assert tables() == CRM_TABLES | ITMS_TABLES
    assert differences() == []


def test_the_crm_branch_goes_down_and_up_on_its_own(empty_crm: Flask) -> None:
    config = alembic_config()
    command.upgrade(config, "heads")
    command.downgrade(config, "crm@base")
    assert tables() == ITMS_TABLES
    command.upgrade(config, "heads")
    assert differences() == []


def test_the_comparison_sees_a_missing_table(empty_crm: Flask) -> None:
    """The schema check can fail: without the CRM branch, its tables are reported missing."""
    command.upgrade(alembic_config(), "itms@head")
    missing = {diff[1].name for diff in differences() if diff[0] == "add_table"}
    assert missing == CRM_TABLES


def test_there_are_two_labelled_heads(empty_crm: Flask) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    heads = {script.get_revision(head) for head in script.get_heads()}
    assert heads == {script.get_revision("crm@head"), script.get_revision("itms@head")}
    assert len(heads) == 2
