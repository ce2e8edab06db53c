"""Fixtures: apps built by a factory, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import itertools
import os
import re
import typing as t
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_itms import ITMS, signals

POSTGRES_URL = os.environ.get("ITMS_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])

CUSTOMER = {"companyName": "Acme Recovery", "phone": "+18005550100"}
#: Noon in New York on a weekday: inside quiet-hours windows across the US.
NOON_EASTERN = datetime(2026, 6, 2, 16, 0, tzinfo=UTC)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--no-skips", action="store_true", help="treat every skipped test as a failure (CI)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> t.Generator[None, t.Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and item.config.getoption("--no-skips") and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped, and --no-skips forbids skips: {report.longrepr}"


class Clock:
    """A settable clock, handed to flask-itms as ``ITMS_CLOCK``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOON_EASTERN)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: t.Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'itms.db'}"
    assert POSTGRES_URL is not None
    return POSTGRES_URL


def reset_database(url: str) -> None:
    """Drop every table, so each PostgreSQL test starts from an empty database."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def _no_fsync(connection: t.Any, record: t.Any) -> None:
    """A test database need not survive a power cut: skipping fsync makes SQLite commits ~100x faster."""
    connection.execute("PRAGMA synchronous = OFF")


@pytest.fixture
def make_app(database_url: str, clock: Clock) -> t.Iterator[t.Callable[..., Flask]]:
    """Build an app with flask-itms on a fresh database; keyword arguments are config."""
    built: list[tuple[Flask, SQLAlchemy]] = []
    reset_database(database_url)

    def factory(*, create_tables: bool = True, **config: t.Any) -> Flask:
        app = Flask(f"itms_test_{len(built)}")
        app.config.update(
            TESTING=True,
            SECRET_KEY="test-secret",
            SQLALCHEMY_DATABASE_URI=database_url,
            ITMS_CUSTOMER=CUSTOMER,
            ITMS_CLOCK=clock,
        )
        app.config.update(config)
        db = SQLAlchemy()
        itms = ITMS(db=db)
        db.init_app(app)
        itms.init_app(app)
        if database_url.startswith("sqlite"):
            with app.app_context():
                sa.event.listen(db.engine, "connect", _no_fsync)
        if create_tables:
            with app.app_context():
                db.create_all()
        built.append((app, db))
        return app

    yield factory
    for app, db in built:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app: t.Callable[..., Flask]) -> t.Iterator[Flask]:
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def itms(app: Flask) -> ITMS:
    return t.cast(ITMS, app.extensions["itms"].itms)


@pytest.fixture
def db(app: Flask) -> SQLAlchemy:
    return t.cast(SQLAlchemy, app.extensions["itms"].db)


@pytest.fixture
def sent(app: Flask) -> t.Any:
    """The console provider's record of texts handed to it."""
    return app.extensions["itms"].provider


class Recorder:
    """Collects the keyword arguments of every signal it receives."""

    def __init__(self) -> None:
        self.calls: list[dict[str, t.Any]] = []

    def __call__(self, sender: t.Any, **kwargs: t.Any) -> None:
        self.calls.append({"sender": sender, **kwargs})


@pytest.fixture
def record_signal(app: Flask) -> t.Iterator[t.Callable[[t.Any], Recorder]]:
    """Connect a recorder to a signal for this app, for the test's duration."""
    connected: list[tuple[t.Any, Recorder]] = []

    def connect(signal: t.Any) -> Recorder:
        recorder = Recorder()
        signal.connect(recorder, app)
        connected.append((signal, recorder))
        return recorder

    yield connect
    for signal, recorder in connected:
        signal.disconnect(recorder, app)


#: The number consumers text; what ``handle_inbound`` gets as the recipient.
OUR_NUMBER = "+18005550100"
_PIN = re.compile(r"\b\d{6}\b")
_inbound_ids = itertools.count(1)


def text_in(itms: ITMS, phone: str, body: str, *, provider_message_id: str | None = None) -> t.Any:
    """The consumer at ``phone`` texts ``body`` (a fresh provider id unless one is given)."""
    message_id = provider_message_id or f"in-{next(_inbound_ids)}"
    return itms.handle_inbound(phone, OUR_NUMBER, body, provider_message_id=message_id)


def pin_sent_to(sent: t.Any, phone: str) -> str:
    """The PIN in the last auth-code text the provider was given for ``phone``."""
    for body in reversed(sent.texts_to(phone)):
        if match := _PIN.search(body):
            return match.group()
    raise AssertionError(f"no PIN was sent to {phone}")


__all__ = ["CUSTOMER", "OUR_NUMBER", "Clock", "Recorder", "pin_sent_to", "signals", "text_in"]
