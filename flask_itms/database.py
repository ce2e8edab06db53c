"""Database helpers that let constraints, not check-then-insert, decide races."""

from __future__ import annotations

import functools
import typing as t

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached

#: Dialects with ``INSERT … ON CONFLICT DO NOTHING … RETURNING``.
_UPSERT_DIALECTS: dict[str, t.Callable[[t.Any], t.Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert_or_ignore(session: Session, model: t.Any, values: dict[str, t.Any], conflict: list[str]) -> t.Any:
    """Insert a row unless one with the same ``conflict`` columns exists.

    Returns the new row's primary key, or ``None`` when the row already existed. On
    PostgreSQL and SQLite this is one ``INSERT … ON CONFLICT DO NOTHING``; elsewhere a
    savepoint catches the unique violation.
    """
    connection = session.connection(bind_arguments={"mapper": model})
    dialect = connection.dialect.name
    row = _with_defaults(model.__table__, values)
    if dialect in _UPSERT_DIALECTS:
        return connection.execute(_insert_returning_key(model.__table__, tuple(conflict), dialect), row).scalar()
    table = model.__table__
    pk = table.primary_key.columns.values()[0]
    try:
        with session.begin_nested():
            return session.execute(sa.insert(table).values(row).returning(pk)).scalar()
    except IntegrityError:
        return None


def insert_entity_or_ignore(session: Session, model: t.Any, values: dict[str, t.Any], conflict: list[str]) -> t.Any:
    """Like :func:`insert_or_ignore`, but return the new row as a persistent ``model`` entity.

    On PostgreSQL and SQLite the entity is built from the values just inserted and the
    key ``RETURNING`` gave, and joins the session as though loaded by a query: no second
    round trip, and none of the ORM's bulk-insert machinery, which costs more than the
    statement on a busy webhook. A column the database fills in itself (a server
    default) is left expired, so reading it loads it.
    """
    key = insert_or_ignore(session, model, values, conflict)
    if key is None:
        return None
    if session.get_bind(model).dialect.name not in _UPSERT_DIALECTS:
        return session.get_one(model, key)
    attributes = _attribute_keys(model)
    row = _with_defaults(model.__table__, values)
    entity = model(**{attributes[column]: value for column, value in row.items()})
    setattr(entity, attributes[model.__table__.primary_key.columns.values()[0].key], key)
    make_transient_to_detached(entity)
    session.add(entity)
    return entity


@functools.cache
def _attribute_keys(model: t.Any) -> dict[str, str]:
    """The mapped attribute of each table column, by column key."""
    mapper = sa.inspect(model)
    return {column.key: mapper.get_property_by_column(column).key for column in model.__table__.columns}


def _with_defaults(table: sa.Table, values: dict[str, t.Any]) -> dict[str, t.Any]:
    defaults = {key: default() for key, default in _defaults(table) if key not in values}
    return {**defaults, **values} if defaults else values


@functools.cache
def _defaults(table: sa.Table) -> tuple[tuple[str, t.Callable[[], t.Any]], ...]:
    """Each column's Python-side default, as a function of nothing (primary keys left out)."""

    def default_of(default: t.Any) -> t.Callable[[], t.Any]:
        if default.is_callable:
            return functools.partial(default.arg, None)
        return functools.partial(lambda value: value, default.arg)

    return tuple(
        (column.key, default_of(column.default))
        for column in table.columns
        if column.default is not None and not column.primary_key
    )


# Built once per table: constructing and cache-keying an INSERT on every webhook costs
# more Python time than the database spends running it.
@functools.cache
def _insert_returning_key(table: sa.Table, conflict: tuple[str, ...], dialect: str) -> t.Any:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING`` the primary key."""
    pk = table.primary_key.columns.values()[0]
    return _UPSERT_DIALECTS[dialect](table).on_conflict_do_nothing(index_elements=list(conflict)).returning(pk)


def lock_rows(statement: sa.Select[t.Any], dialect: str, *, skip_locked: bool = False) -> sa.Select[t.Any]:
    """Add ``FOR UPDATE`` where the database has row locks (SQLite locks the whole file)."""
    if dialect == "sqlite":
        return statement
    return statement.with_for_update(skip_locked=skip_locked)
