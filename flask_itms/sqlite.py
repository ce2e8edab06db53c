"""SQLite set up for concurrent webhooks: WAL mode and a busy timeout on every connection.

Carriers deliver in bursts, and several server workers write at once. In WAL mode
readers never block the writer; with a busy timeout a writer that finds the database
locked waits its turn instead of failing with "database is locked". Both are set by a
``connect`` listener on the engine that holds the itms tables, and only on SQLite.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

if t.TYPE_CHECKING:
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

    from .settings import Settings


def tune_sqlite(app: Flask, db: SQLAlchemy, settings: Settings) -> None:
    """Listen for new connections on the app's default engine when it is SQLite."""
    with app.app_context():
        engine = db.engines.get(None)
    if engine is None or engine.dialect.name != "sqlite":
        return
    busy_ms = int(settings.sqlite_busy_timeout.total_seconds() * 1000)
    wal = settings.sqlite_wal and not _in_memory(engine.url)

    def on_connect(dbapi_connection: t.Any, _record: t.Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if busy_ms > 0:
                cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    sa.event.listen(engine, "connect", on_connect)


def _in_memory(url: sa.URL) -> bool:
    """WAL needs a file; an in-memory database keeps its own journal."""
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"
