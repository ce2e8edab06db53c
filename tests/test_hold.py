"""A review hold stops the opt-in flow everywhere: service calls, YES replies and the hand-off gate."""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime

import pytest
from conftest import OUR_NUMBER, Clock, pin_sent_to
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_itms import ITMS, InvalidTransition
from flask_itms.messages import OPT_IN

PHONE = "+12125550123"
REVOCATION = "Please stop texting me"


def test_a_pin_cannot_finish_the_opt_in_while_held(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    itms.request_opt_in(PHONE)
    db.session.commit()
    itms.handle_inbound(PHONE, OUR_NUMBER, "YES", provider_message_id="in-1")
    db.session.commit()
    pin = pin_sent_to(sent, PHONE)
    itms.handle_inbound(PHONE, OUR_NUMBER, REVOCATION, provider_message_id="in-2")
    db.session.commit()
    texts_before = len(sent.sent)

    with pytest.raises(InvalidTransition, match="hold"):
        itms.enter_auth_code(PHONE, pin)
    db.session.rollback()

    assert itms.status(PHONE) == "awaiting_code"
    assert itms.can_text(PHONE) is False
    assert len(sent.sent) == texts_before
    itms.clear_hold(PHONE)
    itms.enter_auth_code(PHONE, pin)
    db.session.commit()
    assert itms.can_text(PHONE) is True


def test_a_yes_after_a_held_reply_changes_nothing(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    itms.quick_opt_in(PHONE)
    db.session.commit()
    itms.handle_inbound(PHONE, OUR_NUMBER, REVOCATION, provider_message_id="in-1")
    db.session.commit()
    texts_before, events_before = len(sent.sent), len(itms.events(PHONE))

    itms.handle_inbound(PHONE, OUR_NUMBER, "YES", provider_message_id="in-2")
    db.session.commit()

    assert itms.status(PHONE) == "pending"
    assert itms.consent(PHONE).on_hold is True
    assert (len(sent.sent), len(itms.events(PHONE))) == (texts_before, events_before)


def test_a_queued_opt_in_request_is_cancelled_by_a_hold_before_hand_off(
    make_app: t.Callable[..., Flask], clock: Clock
) -> None:
    clock.now = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)  # 11pm in New York: quiet hours
    app = make_app(ITMS_QUIET_HOURS=(8, 21))
    with app.app_context():
        state = app.extensions["itms"]
        itms, session = state.itms, state.session
        itms.request_opt_in(PHONE)
        session.commit()
        (request,) = itms.messages(PHONE)
        assert request.status == "queued"
        itms.handle_inbound(PHONE, OUR_NUMBER, "remove me", provider_message_id="in-1")
        session.commit()

        clock.advance(hours=10)  # 9am in New York
        itms.deliver_outbox()
        session.expire_all()
        outbound = [message for message in itms.messages(PHONE) if message.direction == "outbound"]
        assert [(message.purpose, message.status) for message in outbound] == [(OPT_IN, "cancelled")]
        assert state.provider.sent == []
