"""The transactional core of the outbox: texts commit with their change and leave after it.

Retries, workers and quiet hours are tested with the sending code (test_outbox*.py).
"""

from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa
from conftest import text_in
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_itms import ITMS, ConsentStatus
from flask_itms.messages import AUTH_CODE, OPT_IN, OPTED_IN, OPTED_OUT
from flask_itms.providers import OutboundText, SendError

PHONE = "+12125550123"
OTHER = "+12125550124"


class FailingProvider:
    """A provider that raises for every text (or only for ``phones``), as an outage does."""

    name = "failing"

    def __init__(self, error: Exception, phones: t.Container[str] | None = None, then: t.Any = None) -> None:
        self.error, self.phones, self.then = error, phones, then
        self.calls: list[OutboundText] = []

    def send(self, text: OutboundText) -> str:
        self.calls.append(text)
        if self.phones is None or text.phone in self.phones:
            raise self.error
        return t.cast(str, self.then.send(text))


def committed(db: SQLAlchemy, itms: ITMS) -> dict[str, t.Any]:
    """What another connection sees: consent statuses, and messages as (phone, purpose, status)."""
    Consent, Message = itms.models.Consent, itms.models.Message
    with db.engine.connect() as connection:
        statuses = dict(connection.execute(sa.select(Consent.phone, Consent.status)).all())
        messages = [
            tuple(row)
            for row in connection.execute(
                sa.select(Message.phone, Message.purpose, Message.status)
                .where(Message.direction == "outbound")
                .order_by(Message.id)
            )
        ]
    return {"statuses": statuses, "messages": messages}


def opted_in(itms: ITMS, db: SQLAlchemy, *phones: str) -> None:
    for phone in phones:
        itms.quick_opt_in(phone)
        db.session.commit()
        text_in(itms, phone, "YES")
        db.session.commit()


# -- after commit, and only then -------------------------------------------------------------


def test_texts_reach_the_provider_only_after_commit(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    itms.request_opt_in(PHONE)
    text_in(itms, OTHER, "HELP")
    (queued,) = [message for message in itms.messages(PHONE) if message.direction == "outbound"]
    assert queued.status == "queued"
    assert sent.sent == []
    assert committed(db, itms)["messages"] == []  # the row is in the open transaction only
    db.session.commit()
    assert [text.phone for text in sent.sent] == [PHONE, OTHER]
    assert committed(db, itms)["messages"] == [(PHONE, OPT_IN, "sent"), (OTHER, "ACE_SYSTEM_MSG_HELP", "sent")]


def test_a_rolled_back_change_sends_nothing(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    itms.request_opt_in(PHONE)
    text_in(itms, OTHER, "STOP")
    db.session.rollback()
    assert sent.sent == []
    assert committed(db, itms) == {"statuses": {}, "messages": []}
    itms.quick_opt_in(OTHER)  # the next transaction sends only its own text
    db.session.commit()
    assert [text.phone for text in sent.sent] == [OTHER]
    assert itms.status(PHONE) is ConsentStatus.NONE


def test_a_closed_session_forgets_its_texts(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    itms.request_opt_in(PHONE)
    db.session.close()
    itms.quick_opt_in(OTHER)
    db.session.commit()
    assert [text.phone for text in sent.sent] == [OTHER]
    assert [row[0] for row in committed(db, itms)["messages"]] == [OTHER]


def test_a_released_savepoint_sends_nothing_before_the_real_commit(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    itms.request_opt_in(PHONE)
    with db.session.begin_nested():
        itms.quick_opt_in(OTHER)
    assert sent.sent == []
    db.session.commit()
    assert sorted(text.phone for text in sent.sent) == [PHONE, OTHER]


def test_a_change_rolled_back_after_a_released_savepoint_sends_nothing(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    itms.request_opt_in(PHONE)
    with db.session.begin_nested():
        itms.quick_opt_in(OTHER)
    db.session.rollback()
    assert sent.sent == []
    assert committed(db, itms) == {"statuses": {}, "messages": []}


def test_a_rolled_back_savepoint_keeps_the_outer_texts(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    itms.request_opt_in(PHONE)
    savepoint = db.session.begin_nested()
    itms.quick_opt_in(OTHER)
    savepoint.rollback()
    db.session.commit()
    assert [text.phone for text in sent.sent] == [PHONE]
    assert committed(db, itms)["statuses"] == {PHONE: "pending"}


# -- the gate at hand-off ----------------------------------------------------------------------


def test_consent_is_checked_again_at_hand_off(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    """glific#161: consent checked when queuing but not when sending."""
    opted_in(itms, db, PHONE)
    reminder = itms.send(PHONE, "Your payment is due")
    itms.opt_out(PHONE)  # in the same transaction, before the hand-off
    db.session.commit()
    assert sent.texts_to(PHONE)[-1] == itms.render(OPTED_OUT, PHONE)
    assert "Your payment is due" not in " ".join(sent.texts_to(PHONE))
    assert reminder.status == "cancelled"
    assert "opted_out" in reminder.error


@pytest.fixture
def worker_app(make_app: t.Callable[..., Flask]) -> t.Iterator[Flask]:
    """Texts wait for ``deliver_outbox`` (the worker), so consent can change in between."""
    app = make_app(ITMS_SEND_MODE="worker")
    with app.app_context():
        yield app


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (lambda itms: text_in(itms, PHONE, "STOP"), ConsentStatus.OPTED_OUT),
        (lambda itms: itms.opt_out(PHONE), ConsentStatus.OPTED_OUT),
        (lambda itms: text_in(itms, PHONE, "Please stop texting me"), ConsentStatus.OPTED_IN),
    ],
    ids=["keyword", "agent", "hold"],
)
def test_a_queued_agent_text_is_cancelled_when_consent_changes_before_hand_off(
    worker_app: Flask, change: t.Callable[[ITMS], t.Any], status: ConsentStatus
) -> None:
    state = worker_app.extensions["itms"]
    itms, db, sent = state.itms, state.db, state.provider
    itms.quick_opt_in(PHONE)
    db.session.commit()
    text_in(itms, PHONE, "YES")
    db.session.commit()
    itms.deliver_outbox()
    reminder = itms.send(PHONE, "Your payment is due")
    db.session.commit()
    change(itms)
    db.session.commit()
    itms.deliver_outbox()
    db.session.expire_all()
    assert itms.status(PHONE) is status
    assert reminder.status == "cancelled"
    assert not [body for body in sent.texts_to(PHONE) if body.startswith("Your payment")]
    if status is ConsentStatus.OPTED_OUT:  # Rock#7049: the opt-out never blocks its own confirmation
        assert sent.texts_to(PHONE)[-1] == itms.render(OPTED_OUT, PHONE)


def test_flow_texts_that_no_longer_fit_the_status_are_cancelled(worker_app: Flask) -> None:
    state = worker_app.extensions["itms"]
    itms, db, sent = state.itms, state.db, state.provider
    itms.request_opt_in(PHONE)
    db.session.commit()
    itms.deliver_outbox()
    text_in(itms, PHONE, "YES")  # the PIN text is queued ...
    db.session.commit()
    itms.opt_out(PHONE)  # ... and the agent opts the number out before it leaves
    db.session.commit()
    itms.deliver_outbox()
    db.session.expire_all()
    by_purpose = {message.purpose: message for message in itms.messages(PHONE) if message.direction == "outbound"}
    assert by_purpose[AUTH_CODE].status == "cancelled"
    assert not any(character.isdigit() for character in by_purpose[AUTH_CODE].body)  # no PIN kept
    assert by_purpose[OPTED_OUT].status == "sent"
    assert [text.body.startswith("Reply YES") for text in sent.sent] == [True, False]


# -- a failing provider never undoes or blocks the change --------------------------------------


@pytest.mark.parametrize(
    "error",
    [SendError("carrier down"), SendError("rejected", permanent=True), ConnectionError("network unreachable")],
    ids=["outage", "permanent", "bug"],
)
def test_a_failing_provider_never_undoes_or_blocks_an_opt_out(
    app: Flask, itms: ITMS, db: SQLAlchemy, sent: t.Any, error: Exception
) -> None:
    opted_in(itms, db, PHONE, OTHER)
    failing = FailingProvider(error)
    app.extensions["itms"].provider = failing

    text_in(itms, PHONE, "STOP")
    db.session.commit()  # does not raise: the failure is the outbox's to record
    itms.opt_out(OTHER, actor="agent:alice")
    db.session.commit()

    assert committed(db, itms)["statuses"] == {PHONE: "opted_out", OTHER: "opted_out"}
    assert [text.phone for text in failing.calls] == [PHONE, OTHER]  # tried after each commit
    db.session.expire_all()
    for phone in (PHONE, OTHER):
        assert itms.events(phone)[-1].to_status == "opted_out"
        confirmation = itms.messages(phone)[-1]
        assert confirmation.purpose == OPTED_OUT
        assert confirmation.status in ("queued", "failed")  # kept, with why it failed
        assert confirmation.error
    # The session is still usable, and the next change goes through.
    itms.request_opt_in("+12125550125")
    db.session.commit()
    assert itms.status("+12125550125") is ConsentStatus.PENDING


def test_one_failing_text_does_not_hold_back_the_others(app: Flask, itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    app.extensions["itms"].provider = FailingProvider(SendError("carrier down"), phones={PHONE}, then=sent)
    itms.request_opt_in(PHONE)
    itms.request_opt_in(OTHER)
    itms.quick_opt_in("+12125550125")
    db.session.commit()
    assert [text.phone for text in sent.sent] == [OTHER, "+12125550125"]
    assert committed(db, itms)["statuses"] == {PHONE: "pending", OTHER: "pending", "+12125550125": "pending"}


def test_a_failing_provider_never_blocks_an_opt_in(app: Flask, itms: ITMS, db: SQLAlchemy) -> None:
    itms.quick_opt_in(PHONE)
    db.session.commit()
    app.extensions["itms"].provider = FailingProvider(SendError("carrier down"))
    text_in(itms, PHONE, "YES")
    db.session.commit()
    assert committed(db, itms)["statuses"] == {PHONE: "opted_in"}
    assert committed(db, itms)["messages"][-1][:2] == (PHONE, OPTED_IN)


def test_the_console_provider_never_logs_a_pin(
    itms: t.Any, db: t.Any, sent: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import re

    caplog.set_level(logging.INFO, logger="flask_itms.console")
    itms.request_opt_in("+12125550199")
    db.session.commit()
    itms.handle_inbound("+12125550199", "+18005550100", "YES", provider_message_id="pin-log")
    db.session.commit()
    pin = re.search(r"\b\d{6}\b", sent.sent[-1].body)
    assert pin is not None
    assert "PIN" in caplog.text
    assert pin.group() not in caplog.text
