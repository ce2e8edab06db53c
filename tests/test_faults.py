"""Fault injection in one process: the database fails in the middle of a webhook.

Each fault is real, not mocked: a PostgreSQL backend is terminated with
``pg_terminate_backend``, a SQLite connection is closed under the request, a second
SQLite connection holds the write lock. The webhook must answer 503 (so the carrier
retries) or wait its turn, and must leave nothing half-written: no message, no event,
no queued text, no replay key. The carrier's retry then goes through with exactly one
effect. SQLite's lock is in ``test_faults_sqlite.py``; provider outages and killed
processes are in ``test_faults_gunicorn.py``.
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from messagebird_signer import MessageBirdSigner

from flask_itms import signals

KEY = "f" * 64
SIGNER = MessageBirdSigner(KEY)
INBOUND = "/itms/messagebird/inbound"
PHONE = "+12015550123"
FORM = "application/x-www-form-urlencoded"


def stop_body(message_id: str = "mb-stop-1", text: str = "STOP") -> bytes:
    fields = {"originator": PHONE.lstrip("+"), "recipient": "13125550100", "payload": text, "id": message_id}
    return urlencode(fields).encode()


def deliver(client: FlaskClient, body: bytes) -> t.Any:
    """One delivery as MessageBird makes it: a fresh token for every attempt."""
    headers = {**SIGNER.headers(f"http://localhost{INBOUND}", body), "Content-Type": FORM}
    return client.post(INBOUND, data=body, headers=headers)


def snapshot(app: Flask) -> dict[str, t.Any]:
    """Everything a webhook can write, read on a connection of its own."""
    state = app.extensions["itms"]
    Consent, Event, Message, Replay = (
        state.models.Consent,
        state.models.ConsentEvent,
        state.models.Message,
        state.models.WebhookReplay,
    )
    with app.app_context(), state.db.engine.connect() as connection:
        return {
            "statuses": dict(connection.execute(sa.select(Consent.phone, Consent.status)).all()),
            "events": connection.execute(sa.select(sa.func.count()).select_from(Event)).scalar_one(),
            "messages": sorted(
                (str(row.direction), str(row.purpose), str(row.status))
                for row in connection.execute(sa.select(Message.direction, Message.purpose, Message.status))
            ),
            "replay_keys": connection.execute(sa.select(sa.func.count()).select_from(Replay)).scalar_one(),
        }


def opted_in_app(make_app: t.Callable[..., Flask], **config: t.Any) -> Flask:
    """An app with one opted-in number, whose texts all went out."""
    app = make_app(ITMS_MESSAGEBIRD_SIGNING_KEY=KEY, **config)
    state = app.extensions["itms"]
    with app.app_context():
        state.itms.quick_opt_in(PHONE)
        state.db.session.commit()
        state.itms.handle_inbound(PHONE, "+13125550100", "YES", provider_message_id="mb-yes")
        state.db.session.commit()
        assert state.itms.status(PHONE) == "opted_in"
    return app


@pytest.fixture
def hook_app(make_app: t.Callable[..., Flask]) -> Flask:
    return opted_in_app(make_app)


def assert_one_opt_out(app: Flask, before: dict[str, t.Any]) -> None:
    after = snapshot(app)
    assert after["statuses"] == {PHONE: "opted_out"}
    assert after["events"] == before["events"] + 1
    added = list(after["messages"])
    for message in before["messages"]:
        added.remove(message)
    assert sorted(added) == [("inbound", "None", "received"), ("outbound", "ACE_SYSTEM_MSG_OPTED_OUT", "sent")]
    assert after["replay_keys"] == before["replay_keys"] + 1  # the retry's key; the failed one's was rolled back


# -- the connection drops mid-request ---------------------------------------------------------


def _drop_connection(app: Flask) -> None:
    """Kill the database connection the current request is using, for real."""
    session = app.extensions["itms"].db.session
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        killer = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=sa.pool.NullPool)
        with killer.connect() as other:
            # Waits (up to 5 s) until the backend is gone, so the next statement surely fails.
            assert other.exec_driver_sql(f"SELECT pg_terminate_backend({int(backend)}, 5000)").scalar_one()
        killer.dispose()
    else:
        connection.connection.dbapi_connection.close()  # type: ignore[union-attr]


#: Where in the request the connection goes: after the text is stored, after the consent
#: changed (its event and confirmation added), and as the transaction commits.
DROP_POINTS = ["message_received", "opted_out", "before_commit"]


@pytest.mark.parametrize("point", DROP_POINTS)
def test_a_connection_dropped_mid_request_leaves_nothing_and_the_retry_succeeds(
    hook_app: Flask, point: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = hook_app.test_client()
    before = snapshot(hook_app)
    dropped: list[str] = []

    def drop(*_args: t.Any, **_kwargs: t.Any) -> None:
        if not dropped:
            dropped.append(point)
            _drop_connection(hook_app)

    session = hook_app.extensions["itms"].db.session
    if point == "before_commit":
        sa.event.listen(session, "before_commit", drop)
    else:
        getattr(signals, point).connect(drop, hook_app)
    try:
        response = deliver(client, stop_body())
    finally:
        if point == "before_commit":
            sa.event.remove(session, "before_commit", drop)
        else:
            getattr(signals, point).disconnect(drop, hook_app)

    assert dropped == [point]
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert "nothing was stored" in response.json["error"]
    assert "503" in caplog.text
    assert snapshot(hook_app) == before  # no message, no event, no text, no replay key

    retry = deliver(client, stop_body())  # MessageBird retries with a new token
    assert (retry.status_code, retry.json) == (200, {"result": "stored"})
    assert_one_opt_out(hook_app, before)
    again = deliver(client, stop_body())
    assert (again.status_code, again.json) == (200, {"result": "duplicate"})
    assert snapshot(hook_app)["events"] == before["events"] + 1


def test_a_database_error_that_is_not_an_outage_stays_a_500(hook_app: Flask) -> None:
    # Only a lost or busy database earns a 503 (retry later). A bug, such as a violated
    # constraint, is a 500 and is not dressed up as an outage.
    def violate(*_args: t.Any, **_kwargs: t.Any) -> None:
        session = hook_app.extensions["itms"].db.session
        Template = hook_app.extensions["itms"].models.Template
        session.execute(sa.insert(Template).values(identifier="ACE_SYSTEM_MSG_HELP", label="x", body="x"))

    hook_app.config["PROPAGATE_EXCEPTIONS"] = False
    with signals.message_received.connected_to(violate, hook_app):
        response = hook_app.test_client().post(
            INBOUND,
            data=stop_body(),
            headers={**SIGNER.headers(f"http://localhost{INBOUND}", stop_body()), "Content-Type": FORM},
        )
    assert response.status_code == 500
