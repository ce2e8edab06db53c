"""Database helpers that let constraints, not check-then-insert, decide races."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session


def insert_or_ignore(session: Session, model: t.Any, values: dict[str, t.Any], conflict: list[str]) -> t.Any:
    """Insert a row unless one with the same ``conflict`` columns exists.

    Returns the new row's primary key, or ``None`` when the row already existed. On
    PostgreSQL and SQLite this is one ``INSERT … ON CONFLICT DO NOTHING``; elsewhere a
    savepoint catches the unique violation.
    """
    bind = session.get_bind(model)
    table = model.__table__
    defaults = {
        column.key: column.default.arg(None) if column.default.is_callable else column.default.arg
        for column in table.columns
        if column.default is not None and column.key not in values and not column.primary_key
    }
    row = {**defaults, **values}
    pk = table.primary_key.columns.values()[0]
    dialect = bind.dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(table).values(row).on_conflict_do_nothing(index_elements=conflict).returning(pk)
        return session.execute(statement).scalar()
    try:
        with session.begin_nested():
            return session.execute(sa.insert(table).values(row).returning(pk)).scalar()
    except IntegrityError:
        return None


def lock_rows(statement: sa.Select[t.Any], dialect: str, *, skip_locked: bool = False) -> sa.Select[t.Any]:
    """Add ``FOR UPDATE`` where the database has row locks (SQLite locks the whole file)."""
    if dialect == "sqlite":
        return statement
    return statement.with_for_update(skip_locked=skip_locked)
