"""Quiet hours (FDCPA 805(a)(1)): agent-initiated texts wait for 8am–9pm local; replies do not."""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime, timedelta

import pytest
from conftest import Clock
from flask import Flask

from flask_itms import ITMS
from flask_itms.quiet_hours import next_allowed

NEW_JERSEY = "+12015550123"  # America/New_York
IDAHO = "+12085550123"  # America/Boise and America/Los_Angeles
HAWAII = "+18082345678"  # Pacific/Honolulu
OUR_NUMBER = "+18005550199"
HOURS = (8, 21)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- next_allowed, the pure function ------------------------------------------------------


def test_inside_the_window_is_now() -> None:
    noon_eastern = utc(2026, 6, 2, 16, 0, 7)
    assert next_allowed(noon_eastern, ("America/New_York",), HOURS, "America/New_York") == noon_eastern


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 6, 2, 7, 0), utc(2026, 6, 2, 12, 0)),  # 3am EDT waits for 8am EDT
        (utc(2026, 6, 2, 11, 59), utc(2026, 6, 2, 12, 0)),  # 7:59am
        (utc(2026, 6, 2, 12, 0), utc(2026, 6, 2, 12, 0)),  # 8:00am sharp is inside
        (utc(2026, 6, 3, 0, 59), utc(2026, 6, 3, 0, 59)),  # 8:59pm is inside
        (utc(2026, 6, 3, 1, 0), utc(2026, 6, 3, 12, 0)),  # 9:00pm waits for tomorrow
        (utc(2026, 3, 8, 9, 0), utc(2026, 3, 8, 12, 0)),  # DST starts: 4am EST -> 8am EDT
        (utc(2026, 11, 1, 10, 30), utc(2026, 11, 1, 13, 0)),  # DST ends: 5:30am EST -> 8am EST
    ],
)
def test_closed_window_waits_for_the_next_opening(now: datetime, expected: datetime) -> None:
    assert next_allowed(now, ("America/New_York",), HOURS, "America/New_York") == expected


def test_several_zones_take_the_most_restrictive() -> None:
    # 8:30am in Boise is 7:30am in Los Angeles: wait for 8am Pacific.
    assert next_allowed(
        utc(2026, 6, 2, 14, 30), ("America/Boise", "America/Los_Angeles"), HOURS, "America/New_York"
    ) == utc(2026, 6, 2, 15, 0)
    # 8:30pm Pacific is 9:30pm Mountain: closed; the next opening is 8am Pacific.
    assert next_allowed(
        utc(2026, 6, 3, 3, 30), ("America/Boise", "America/Los_Angeles"), HOURS, "America/New_York"
    ) == utc(2026, 6, 3, 15, 0)


def test_zones_without_a_common_window_use_the_fallback() -> None:
    # UTC-8, UTC and UTC+8 never share 8am-9pm (any two 13-hour windows would overlap).
    zones = ("Etc/GMT+8", "Etc/GMT", "Etc/GMT-8")
    assert next_allowed(utc(2026, 6, 2, 7, 0), zones, HOURS, "America/New_York") == utc(2026, 6, 2, 12, 0)


def test_unknown_zones_use_the_fallback() -> None:
    assert next_allowed(utc(2026, 6, 2, 7, 0), (), HOURS, "America/Chicago") == utc(2026, 6, 2, 13, 0)


# -- through the outbox -------------------------------------------------------------------


@pytest.fixture
def night(clock: Clock) -> Clock:
    """3am in New Jersey."""
    clock.now = utc(2026, 6, 2, 7, 0)
    return clock


def deliver(app: Flask, db: t.Any) -> None:
    db.session.commit()
    app.extensions["itms"].itms.deliver_outbox()
    db.session.expire_all()


def test_an_opt_in_request_waits_for_the_morning(app: Flask, itms: ITMS, db: t.Any, sent: t.Any, night: Clock) -> None:
    itms.request_opt_in(NEW_JERSEY, account="ACCT-1", actor="agent:alice")
    db.session.commit()
    (message,) = itms.messages(NEW_JERSEY)
    assert message.status == "queued"
    assert message.send_after == utc(2026, 6, 2, 12, 0)
    assert sent.sent == []

    night.now = utc(2026, 6, 2, 11, 59)
    deliver(app, db)
    assert sent.sent == []

    night.now = utc(2026, 6, 2, 12, 0)
    deliver(app, db)
    assert sent.texts_to(NEW_JERSEY) == [message.body]


@pytest.mark.parametrize(("phone", "opens"), [(IDAHO, utc(2026, 6, 2, 15, 0)), (HAWAII, utc(2026, 6, 2, 18, 0))])
def test_the_consumers_zone_decides(
    app: Flask, itms: ITMS, db: t.Any, sent: t.Any, clock: Clock, phone: str, opens: datetime
) -> None:
    clock.now = utc(2026, 6, 2, 14, 30)  # 10:30am New York, 7:30am Los Angeles, 4:30am Honolulu
    itms.request_opt_in(phone)
    db.session.commit()
    assert itms.messages(phone)[0].send_after == opens
    assert sent.sent == []


def test_agent_texts_wait_and_replies_do_not(app: Flask, itms: ITMS, db: t.Any, sent: t.Any, clock: Clock) -> None:
    itms.request_opt_in(NEW_JERSEY, account="ACCT-1", actor="agent:alice")
    db.session.commit()
    clock.now = utc(2026, 6, 2, 3, 0)  # 11pm the day before, in New Jersey

    # YES at night: the PIN is a reply and goes at once.
    itms.handle_inbound(NEW_JERSEY, OUR_NUMBER, "yes", provider_message_id="in-1")
    db.session.commit()
    assert "ACE_SYSTEM_MSG_AUTH_CODE" in [m.template for m in itms.messages(NEW_JERSEY) if m.status == "sent"]
    pin = next(text.body for text in sent.sent if "PIN" in text.body)
    code = next(word for word in pin.replace(".", " ").split() if word.isdigit() and len(word) == 6)

    # The agent enters the PIN the consumer read out: the confirmation is a reply too.
    itms.enter_auth_code(NEW_JERSEY, code, actor="agent:alice")
    db.session.commit()
    # HELP is always answered, at once.
    itms.handle_inbound(NEW_JERSEY, OUR_NUMBER, "HELP", provider_message_id="in-2")
    db.session.commit()
    # An agent's own text waits for 8am.
    agent_text = itms.send(NEW_JERSEY, "Please call us about your account.", actor="agent:alice")
    db.session.commit()
    # STOP is confirmed at once (FCC: within five minutes).
    itms.handle_inbound(NEW_JERSEY, OUR_NUMBER, "STOP", provider_message_id="in-3")
    db.session.commit()

    status = {m.template or m.purpose: m.status for m in itms.messages(NEW_JERSEY) if m.direction == "outbound"}
    assert status == {
        "ACE_SYSTEM_MSG_AUTH_CODE": "sent",
        "ACE_SYSTEM_MSG_OPTED_IN": "sent",
        "ACE_SYSTEM_MSG_HELP": "sent",
        "agent": "queued",
        "ACE_SYSTEM_MSG_OPTED_OUT": "sent",
        "ACE_SYSTEM_MSG_OPT_IN": "sent",
    }
    assert agent_text.send_after == utc(2026, 6, 2, 12, 0)

    clock.now = utc(2026, 6, 2, 12, 0)
    deliver(app, db)  # the consumer opted out meanwhile: the agent's text is never sent
    db.session.refresh(agent_text)
    assert agent_text.status == "cancelled"


def test_auto_opt_in_confirmation_waits(app: Flask, itms: ITMS, db: t.Any, sent: t.Any, night: Clock) -> None:
    """The host's policy, not the consumer, started it: it is not a reply."""
    itms.auto_opt_in_policy(lambda account: True)
    itms.auto_opt_in(NEW_JERSEY, account="ACCT-1")
    db.session.commit()
    (message,) = itms.messages(NEW_JERSEY)
    assert message.template == "ACE_SYSTEM_MSG_OPTED_IN"
    assert message.send_after == utc(2026, 6, 2, 12, 0)
    assert sent.sent == []


def test_none_switches_quiet_hours_off(make_app: t.Callable[..., Flask], night: Clock) -> None:
    app = make_app(ITMS_QUIET_HOURS=None)
    with app.app_context():
        state = app.extensions["itms"]
        state.itms.request_opt_in(NEW_JERSEY)
        state.db.session.commit()
        assert state.itms.messages(NEW_JERSEY)[0].status == "sent"
        assert len(state.provider.sent) == 1


def test_a_narrower_window_is_honoured(make_app: t.Callable[..., Flask], clock: Clock) -> None:
    clock.now = utc(2026, 6, 2, 12, 30)  # 8:30am New York
    app = make_app(ITMS_QUIET_HOURS=(9, 20))
    with app.app_context():
        state = app.extensions["itms"]
        state.itms.request_opt_in(NEW_JERSEY)
        state.db.session.commit()
        assert state.itms.messages(NEW_JERSEY)[0].send_after == clock.now + timedelta(minutes=30)
