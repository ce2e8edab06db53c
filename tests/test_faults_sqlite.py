"""Fault injection: SQLite locked by another writer.

A second connection holds SQLite's write lock (``BEGIN IMMEDIATE``), as a batch job or
a second app process would. A webhook then waits for the lock (the busy timeout) and
goes through when it is released, or, locked past the timeout, answers 503 with nothing
written, so the carrier retries. PostgreSQL locks rows instead: its concurrent writers
are in ``test_webhooks_gunicorn.py`` and ``test_concurrency_pg.py``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import typing as t

import pytest
import sqlalchemy as sa
from flask import Flask
from test_faults import assert_one_opt_out, deliver, opted_in_app, snapshot, stop_body


@pytest.fixture
def database_url(tmp_path: t.Any) -> str:
    """SQLite only, whatever other database the run has."""
    return f"sqlite:///{tmp_path / 'itms.db'}"


def _sqlite_path(app: Flask) -> str:
    database = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    assert database
    return database


def _hold_write_lock(path: str) -> sqlite3.Connection:
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # the write lock, held until commit or rollback
    return other


def test_sqlite_locked_past_the_busy_timeout_answers_503_and_writes_nothing(make_app: t.Callable[..., Flask]) -> None:
    locked_app = opted_in_app(make_app, ITMS_SQLITE_BUSY_TIMEOUT=0.3)
    client = locked_app.test_client()
    before = snapshot(locked_app)
    other = _hold_write_lock(_sqlite_path(locked_app))
    try:
        started = time.monotonic()
        response = deliver(client, stop_body())
        waited = time.monotonic() - started
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert response.status_code == 503
    assert waited >= 0.25  # it waited for the busy timeout before giving up
    assert snapshot(locked_app) == before

    retry = deliver(client, stop_body())
    assert (retry.status_code, retry.json) == (200, {"result": "stored"})
    assert_one_opt_out(locked_app, before)


def test_sqlite_locked_briefly_makes_the_request_wait_then_succeed(make_app: t.Callable[..., Flask]) -> None:
    app = opted_in_app(make_app)  # the default busy timeout: 10 s
    path = _sqlite_path(app)
    client = app.test_client()
    before = snapshot(app)
    other = _hold_write_lock(path)
    answers: list[t.Any] = []
    started = time.monotonic()
    request = threading.Thread(target=lambda: answers.append(deliver(client, stop_body())))
    request.start()
    time.sleep(0.6)
    assert not answers  # still waiting for the lock
    other.execute("COMMIT")
    other.close()
    request.join(timeout=30)
    elapsed = time.monotonic() - started
    [response] = answers
    assert (response.status_code, response.json) == (200, {"result": "stored"})
    assert elapsed >= 0.6
    assert_one_opt_out(app, before)
