"""The consent state machine through the public contract: every row and rule of DESIGN.md.

Each test drives ``itms`` the way a host does (service call, then commit) and checks what
the consumer received, the signal, the audit event and the stored status.
"""

from __future__ import annotations

import itertools
import re
import typing as t
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from conftest import Recorder, pin_sent_to, text_in
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_itms import (
    ITMS,
    ConsentRequired,
    ConsentStatus,
    InvalidAuthCode,
    InvalidPhoneNumber,
    InvalidTransition,
    ITMSError,
    OptedOut,
    SystemTemplateError,
    signals,
)
from flask_itms.messages import AUTH_CODE, HELP, OPT_IN, OPTED_IN, OPTED_OUT

PHONE = "+12125550123"
OTHER = "+12125550124"
ACTOR = "agent:alice"

OPT_IN_TEXT = (
    "Reply YES to receive msgs from Acme Recovery. Reply HELP for help, STOP to cancel. Std. msg&data rates apply."
)
OPTED_IN_TEXT = (
    "Thank you for agreeing to receive msgs from Acme Recovery. Reply HELP for help, STOP to opt out."
    " Std. msg&data rates apply."
)

#: Ways to bring PHONE to a status, each through the public API.
FLOW_STARTS = ["none", "pending", "pending_quick", "pending_supervisor", "awaiting_code"]
NOT_OPTED_OUT = [*FLOW_STARTS, "opted_in"]
EVERY_STATUS = [*NOT_OPTED_OUT, "opted_out"]


def reach(itms: ITMS, db: SQLAlchemy, where: str, phone: str = PHONE) -> None:
    """Bring ``phone`` to ``where`` through the public API, committing as a host does."""
    if where == "none":
        return
    if where == "pending":
        itms.request_opt_in(phone, account="ACCT-1")
    elif where == "pending_quick":
        itms.quick_opt_in(phone, account="ACCT-1")
    elif where == "pending_supervisor":
        itms.link_number(phone, "ACCT-1")
    elif where == "awaiting_code":
        itms.request_opt_in(phone, account="ACCT-1")
        db.session.commit()
        text_in(itms, phone, "YES")
    elif where == "opted_in":
        itms.quick_opt_in(phone, account="ACCT-1")
        db.session.commit()
        text_in(itms, phone, "YES")
    elif where == "opted_out":
        itms.opt_out(phone)
    else:  # pragma: no cover - a typo in a test
        raise AssertionError(where)
    db.session.commit()
    expected = where.split("_")[0] if where.startswith("pending") else where
    assert itms.status(phone) == expected


def status_name(where: str) -> str:
    return "pending" if where.startswith("pending") else where


def assert_event(
    event: t.Any,
    *,
    from_status: str,
    to_status: str,
    method: str | None,
    source: str,
    now: datetime,
    actor: str | None = None,
    message: t.Any = None,
    keyword: str | None = None,
    phone: str = PHONE,
) -> None:
    assert (
        event.phone,
        event.from_status,
        event.to_status,
        event.method,
        event.source,
        event.actor,
        event.message_id,
        event.keyword,
    ) == (phone, from_status, to_status, method, source, actor, message.id if message is not None else None, keyword)
    assert event.created_at == now
    assert event.created_at.tzinfo is not None
    assert event.created_at.utcoffset() == timedelta(0)


class Watch:
    """What happened to PHONE since it was made: new texts and new events."""

    def __init__(self, itms: ITMS, sent: t.Any, phone: str = PHONE) -> None:
        self.itms, self.sent, self.phone = itms, sent, phone
        self.texts_before = len(sent.texts_to(phone))
        self.events_before = len(itms.events(phone))

    def texts(self) -> list[str]:
        return self.sent.texts_to(self.phone)[self.texts_before :]

    def events(self) -> list[t.Any]:
        return self.itms.events(self.phone)[self.events_before :]


# -- phone numbers ---------------------------------------------------------------------

PHONE_METHODS: list[tuple[str, t.Callable[[ITMS, str], t.Any]]] = [
    ("status", lambda itms, phone: itms.status(phone)),
    ("can_text", lambda itms, phone: itms.can_text(phone)),
    ("request_opt_in", lambda itms, phone: itms.request_opt_in(phone)),
    ("quick_opt_in", lambda itms, phone: itms.quick_opt_in(phone)),
    ("enter_auth_code", lambda itms, phone: itms.enter_auth_code(phone, "123456")),
    ("opt_out", lambda itms, phone: itms.opt_out(phone)),
    ("link_number", lambda itms, phone: itms.link_number(phone, "ACCT-1")),
    ("auto_opt_in", lambda itms, phone: itms.auto_opt_in(phone, account="ACCT-1")),
    ("clear_hold", lambda itms, phone: itms.clear_hold(phone)),
    ("send", lambda itms, phone: itms.send(phone, "Hello")),
    ("messages", lambda itms, phone: itms.messages(phone)),
    ("events", lambda itms, phone: itms.events(phone)),
]


BAD_PHONES = ["", "not a number", "+1 555", "12", "+999 1234 5678", "+1" + "2" * 70]


def test_invalid_phone_is_refused_with_a_value_error_and_changes_nothing(
    itms: ITMS, db: SQLAlchemy, sent: t.Any
) -> None:
    itms.auto_opt_in_policy(lambda account: True)
    for name, call in PHONE_METHODS:
        for bad in BAD_PHONES:
            with pytest.raises(InvalidPhoneNumber) as caught:
                call(itms, bad)
            assert isinstance(caught.value, ValueError), name
            assert str(caught.value), name  # says what was wrong
            db.session.commit()
    Consent, Event, Message = itms.models.Consent, itms.models.ConsentEvent, itms.models.Message
    for model in (Consent, Event, Message):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0
    assert sent.sent == []


def test_every_common_format_of_a_number_shares_one_record(itms: ITMS, db: SQLAlchemy) -> None:
    itms.quick_opt_in("(212) 555-0123")
    db.session.commit()
    for spelling in ("+1 212 555 0123", "212.555.0123", "+12125550123", "1-212-555-0123"):
        assert itms.status(spelling) is ConsentStatus.PENDING
    assert itms.consent(PHONE).phone == PHONE
    assert db.session.scalar(sa.select(sa.func.count()).select_from(itms.models.Consent)) == 1


def test_status_is_a_str_enum_and_none_for_an_unknown_number(itms: ITMS) -> None:
    status = itms.status(PHONE)
    assert status is ConsentStatus.NONE
    assert isinstance(status, str)
    assert status == "none"
    assert itms.can_text(PHONE) is False
    assert itms.consent(PHONE) is None


# -- the state table -------------------------------------------------------------------


@pytest.mark.parametrize("start", FLOW_STARTS)
@pytest.mark.parametrize(("action", "method"), [("request_opt_in", "agent"), ("quick_opt_in", "quick")])
def test_opt_in_request_from_each_allowed_status(
    app: Flask,
    itms: ITMS,
    db: SQLAlchemy,
    sent: t.Any,
    clock: t.Any,
    record_signal: t.Callable[[t.Any], Recorder],
    start: str,
    action: str,
    method: str,
) -> None:
    reach(itms, db, start)
    watch = Watch(itms, sent)
    requested = record_signal(signals.opt_in_requested)

    consent = getattr(itms, action)(PHONE, account="ACCT-7", actor=ACTOR)

    assert requested.calls == [{"sender": app, "phone": PHONE, "consent": consent, "method": method, "actor": ACTOR}]
    assert watch.texts() == []  # nothing leaves before the commit
    db.session.commit()
    assert itms.status(PHONE) is ConsentStatus.PENDING
    assert itms.consent(PHONE).method == method
    assert itms.consent(PHONE).account == "ACCT-7"
    assert itms.can_text(PHONE) is False
    assert watch.texts() == [OPT_IN_TEXT]
    (event,) = watch.events()
    assert_event(
        event,
        from_status=status_name(start),
        to_status="pending",
        method=method,
        source="agent",
        actor=ACTOR,
        now=clock.now,
    )


def test_link_number_sends_the_opt_in_request_from_none(
    app: Flask,
    itms: ITMS,
    db: SQLAlchemy,
    sent: t.Any,
    clock: t.Any,
    record_signal: t.Callable[[t.Any], Recorder],
) -> None:
    requested = record_signal(signals.opt_in_requested)
    consent = itms.link_number(PHONE, "ACCT-9", actor="supervisor:sam")
    assert requested.calls == [
        {"sender": app, "phone": PHONE, "consent": consent, "method": "supervisor", "actor": "supervisor:sam"}
    ]
    db.session.commit()
    assert itms.status(PHONE) is ConsentStatus.PENDING
    assert itms.consent(PHONE).account == "ACCT-9"
    assert sent.texts_to(PHONE) == [OPT_IN_TEXT]
    (event,) = itms.events(PHONE)
    assert_event(
        event,
        from_status="none",
        to_status="pending",
        method="supervisor",
        source="supervisor",
        actor="supervisor:sam",
        now=clock.now,
    )


def test_link_number_only_from_none(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    for number, start in enumerate(["pending", "awaiting_code", "pending_quick"]):
        phone = f"+1212556{number:04d}"
        reach(itms, db, start, phone)
        watch = Watch(itms, sent, phone)
        with pytest.raises(InvalidTransition):
            itms.link_number(phone, "ACCT-2")
        db.session.commit()
        assert itms.status(phone) == status_name(start)
        assert itms.consent(phone).account == "ACCT-1"
        assert (watch.texts(), watch.events()) == ([], [])


def test_link_number_needs_an_account(itms: ITMS) -> None:
    with pytest.raises(ValueError, match="account"):
        itms.link_number(PHONE, None)


def test_yes_to_an_agent_request_sends_a_pin_and_awaits_the_code(
    app: Flask,
    itms: ITMS,
    db: SQLAlchemy,
    sent: t.Any,
    clock: t.Any,
    record_signal: t.Callable[[t.Any], Recorder],
) -> None:
    reach(itms, db, "pending")
    watch = Watch(itms, sent)
    pin_signal = record_signal(signals.auth_code_sent)
    opted_in = record_signal(signals.opted_in)

    message = text_in(itms, PHONE, "Yes")
    consent = itms.consent(PHONE)
    assert pin_signal.calls == [{"sender": app, "phone": PHONE, "consent": consent}]
    db.session.commit()

    assert itms.status(PHONE) is ConsentStatus.AWAITING_CODE
    assert itms.can_text(PHONE) is False
    assert opted_in.calls == []
    pin = pin_sent_to(sent, PHONE)
    assert watch.texts() == [itms.render(AUTH_CODE, PHONE, authCode=pin)]
    assert "STOP" in watch.texts()[0]
    (event,) = watch.events()
    assert_event(
        event,
        from_status="pending",
        to_status="awaiting_code",
        method="agent",
        source="consumer",
        message=message,
        keyword="yes",
        now=clock.now,
    )


@pytest.mark.parametrize(("start", "method"), [("pending_quick", "quick"), ("pending_supervisor", "supervisor")])
def test_yes_to_a_quick_or_supervisor_request_opts_in(
    app: Flask,
    itms: ITMS,
    db: SQLAlchemy,
    sent: t.Any,
    clock: t.Any,
    record_signal: t.Callable[[t.Any], Recorder],
    start: str,
    method: str,
) -> None:
    reach(itms, db, start)
    watch = Watch(itms, sent)
    opted_in = record_signal(signals.opted_in)
    pin_signal = record_signal(signals.auth_code_sent)

    message = text_in(itms, PHONE, " YES! ")
    consent = itms.consent(PHONE)
    assert opted_in.calls == [{"sender": app, "phone": PHONE, "consent": consent, "method": method, "actor": None}]
    db.session.commit()

    assert pin_signal.calls == []
    assert itms.status(PHONE) is ConsentStatus.OPTED_IN
    assert itms.can_text(PHONE) is True
    assert watch.texts() == [OPTED_IN_TEXT]
    (event,) = watch.events()
    assert_event(
        event,
        from_status="pending",
        to_status="opted_in",
        method=method,
        source="consumer",
        message=message,
        keyword="yes",
        now=clock.now,
    )


def test_the_right_pin_opts_in(
    app: Flask,
    itms: ITMS,
    db: SQLAlchemy,
    sent: t.Any,
    clock: t.Any,
    record_signal: t.Callable[[t.Any], Recorder],
) -> None:
    reach(itms, db, "awaiting_code")
    pin = pin_sent_to(sent, PHONE)
    watch = Watch(itms, sent)
    opted_in = record_signal(signals.opted_in)
    clock.advance(minutes=3)

    consent = itms.enter_auth_code(PHONE, pin, actor=ACTOR)

    assert opted_in.calls == [{"sender": app, "phone": PHONE, "consent": consent, "method": "agent", "actor": ACTOR}]
    db.session.commit()
    assert itms.status(PHONE) is ConsentStatus.OPTED_IN
    assert itms.can_text(PHONE) is True
    assert watch.texts() == [OPTED_IN_TEXT]
    (event,) = watch.events()
    assert_event(
        event,
        from_status="awaiting_code",
        to_status="opted_in",
        method="agent",
        source="agent",
        actor=ACTOR,
        now=clock.now,
    )


@pytest.mark.parametrize("start", FLOW_STARTS)
def test_auto_opt_in_from_each_allowed_status(
    app: Flask,
    itms: ITMS,
    db: SQLAlchemy,
    sent: t.Any,
    clock: t.Any,
    record_signal: t.Callable[[t.Any], Recorder],
    start: str,
) -> None:
    asked: list[t.Any] = []

    @itms.auto_opt_in_policy
    def policy(account: t.Any) -> bool:
        asked.append(account)
        return account == "ACCT-AUTO"

    reach(itms, db, start)
    watch = Watch(itms, sent)
    opted_in = record_signal(signals.opted_in)

    consent = itms.auto_opt_in(PHONE, account="ACCT-AUTO", actor="system:import")

    assert asked == ["ACCT-AUTO"]
    assert opted_in.calls == [
        {"sender": app, "phone": PHONE, "consent": consent, "method": "auto", "actor": "system:import"}
    ]
    db.session.commit()
    assert itms.status(PHONE) is ConsentStatus.OPTED_IN
    assert itms.consent(PHONE).account == "ACCT-AUTO"
    assert watch.texts() == [OPTED_IN_TEXT]
    (event,) = watch.events()
    assert_event(
        event,
        from_status=status_name(start),
        to_status="opted_in",
        method="auto",
        source="system",
        actor="system:import",
        now=clock.now,
    )


@pytest.mark.parametrize("start", NOT_OPTED_OUT)
def test_opt_out_keyword_from_each_status(
    app: Flask,
    itms: ITMS,
    db: SQLAlchemy,
    sent: t.Any,
    clock: t.Any,
    record_signal: t.Callable[[t.Any], Recorder],
    start: str,
) -> None:
    opted_out = record_signal(signals.opted_out)
    for number, (stop, keyword) in enumerate(
        [("STOP", "stop"), ("Stop.", "stop"), ("unsubscribe", "unsubscribe"), ("🛑", "🛑"), ("opt out", "opt out")]
    ):
        phone = f"+1212555{1000 + number}"
        reach(itms, db, start, phone)
        watch = Watch(itms, sent, phone)
        opted_out.calls.clear()

        message = text_in(itms, phone, stop)

        consent = itms.consent(phone)
        assert opted_out.calls == [
            {"sender": app, "phone": phone, "consent": consent, "method": "keyword", "actor": None, "message": message}
        ]
        db.session.commit()
        assert itms.status(phone) is ConsentStatus.OPTED_OUT
        assert itms.can_text(phone) is False
        assert watch.texts() == [itms.render(OPTED_OUT, phone)]
        (event,) = watch.events()
        assert_event(
            event,
            phone=phone,
            from_status=status_name(start),
            to_status="opted_out",
            method="keyword",
            source="consumer",
            message=message,
            keyword=keyword,
            now=clock.now,
        )


@pytest.mark.parametrize("start", NOT_OPTED_OUT)
def test_agent_opt_out_from_each_status(
    app: Flask,
    itms: ITMS,
    db: SQLAlchemy,
    sent: t.Any,
    clock: t.Any,
    record_signal: t.Callable[[t.Any], Recorder],
    start: str,
) -> None:
    reach(itms, db, start)
    watch = Watch(itms, sent)
    opted_out = record_signal(signals.opted_out)

    consent = itms.opt_out(PHONE, actor=ACTOR, reason="asked on the phone")

    assert opted_out.calls == [
        {"sender": app, "phone": PHONE, "consent": consent, "method": "agent", "actor": ACTOR, "message": None}
    ]
    db.session.commit()
    assert itms.status(PHONE) is ConsentStatus.OPTED_OUT
    assert watch.texts() == [itms.render(OPTED_OUT, PHONE)]
    (event,) = watch.events()
    assert_event(
        event,
        from_status=status_name(start),
        to_status="opted_out",
        method="agent",
        source="agent",
        actor=ACTOR,
        now=clock.now,
    )
    assert event.reason == "asked on the phone"


def test_opt_out_confirmation_names_the_brand_and_promises_silence(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    reach(itms, db, "opted_in")
    text_in(itms, PHONE, "STOP")
    db.session.commit()
    confirmation = sent.texts_to(PHONE)[-1]
    assert "Acme Recovery" in confirmation
    assert "no more" in confirmation.lower()
    # FCC 24-24: nothing promotional, so no call to action beyond the confirmation.
    assert "reply yes" not in confirmation.lower()
    assert "http" not in confirmation.lower()


@pytest.mark.parametrize("start", ["none", "opted_out"])
def test_start_keyword_opts_in_from_none_and_opted_out(
    app: Flask,
    itms: ITMS,
    db: SQLAlchemy,
    sent: t.Any,
    clock: t.Any,
    record_signal: t.Callable[[t.Any], Recorder],
    start: str,
) -> None:
    opted_in = record_signal(signals.opted_in)
    for number, (word, keyword) in enumerate([("START", "start"), ("unstop", "unstop"), ("Resume.", "resume")]):
        phone = f"+1212555{1000 + number}"
        reach(itms, db, start, phone)
        watch = Watch(itms, sent, phone)
        opted_in.calls.clear()

        message = text_in(itms, phone, word)

        consent = itms.consent(phone)
        assert opted_in.calls == [
            {"sender": app, "phone": phone, "consent": consent, "method": "keyword", "actor": None}
        ]
        db.session.commit()
        assert itms.status(phone) is ConsentStatus.OPTED_IN
        assert itms.can_text(phone) is True
        assert watch.texts() == [OPTED_IN_TEXT]
        (event,) = watch.events()
        assert_event(
            event,
            phone=phone,
            from_status=start,
            to_status="opted_in",
            method="keyword",
            source="consumer",
            message=message,
            keyword=keyword,
            now=clock.now,
        )


def test_start_keyword_changes_nothing_elsewhere(
    itms: ITMS,
    db: SQLAlchemy,
    sent: t.Any,
    record_signal: t.Callable[[t.Any], Recorder],
) -> None:
    for number, start in enumerate(["pending", "pending_quick", "awaiting_code", "opted_in"]):
        phone = f"+1212556{number:04d}"
        reach(itms, db, start, phone)
        watch = Watch(itms, sent, phone)
        opted_in = record_signal(signals.opted_in)
        message = text_in(itms, phone, "START")
        db.session.commit()
        assert itms.status(phone) == status_name(start)
        assert (watch.texts(), watch.events(), opted_in.calls) == ([], [], [])
        assert itms.messages(phone)[-1] is message
        assert message.direction == "inbound"


@pytest.mark.parametrize("start", EVERY_STATUS)
def test_help_is_answered_in_every_status(
    app: Flask,
    itms: ITMS,
    db: SQLAlchemy,
    sent: t.Any,
    record_signal: t.Callable[[t.Any], Recorder],
    start: str,
) -> None:
    reach(itms, db, start)
    consent_before = (itms.status(PHONE), itms.can_text(PHONE))
    asked = record_signal(signals.help_requested)
    for word in ("HELP", "info", "Help?"):
        watch = Watch(itms, sent)
        asked.calls.clear()

        message = text_in(itms, PHONE, word)

        assert asked.calls == [{"sender": app, "phone": PHONE, "message": message}]
        db.session.commit()
        assert (itms.status(PHONE), itms.can_text(PHONE)) == consent_before
        assert watch.events() == []
        (reply,) = watch.texts()
        assert reply == itms.render(HELP, PHONE)
        # CTIA: brand, a help contact, how to stop, and the rates line.
        for part in ("Acme Recovery", "+18005550100", "STOP", "Msg&data rates may apply"):
            assert part in reply


# -- refusals --------------------------------------------------------------------------

OUTBOUND_STARTS: list[tuple[str, t.Callable[[ITMS], t.Any]]] = [
    ("request_opt_in", lambda itms: itms.request_opt_in(PHONE, account="ACCT-2")),
    ("quick_opt_in", lambda itms: itms.quick_opt_in(PHONE, account="ACCT-2")),
    ("link_number", lambda itms: itms.link_number(PHONE, "ACCT-2")),
    ("auto_opt_in", lambda itms: itms.auto_opt_in(PHONE, account="ACCT-2")),
]


@pytest.mark.parametrize(("name", "call"), OUTBOUND_STARTS, ids=[name for name, _ in OUTBOUND_STARTS])
@pytest.mark.parametrize(("start", "error"), [("opted_out", OptedOut), ("opted_in", InvalidTransition)])
def test_outbound_starts_are_refused_when_opted_out_or_in(
    itms: ITMS,
    db: SQLAlchemy,
    sent: t.Any,
    record_signal: t.Callable[[t.Any], Recorder],
    name: str,
    call: t.Callable[[ITMS], t.Any],
    start: str,
    error: type[Exception],
) -> None:
    itms.auto_opt_in_policy(lambda account: True)
    reach(itms, db, start)
    watch = Watch(itms, sent)
    recorders = [record_signal(signal) for signal in (signals.opt_in_requested, signals.opted_in)]
    with pytest.raises(error) as caught:
        call(itms)
    if start == "opted_out":
        assert "START" in str(caught.value)  # says how the conversation can re-open
    db.session.commit()  # even committed, the refusal changed nothing
    assert itms.status(PHONE) == start
    assert itms.consent(PHONE).account != "ACCT-2"
    assert (watch.texts(), watch.events()) == ([], [])
    assert [recorder.calls for recorder in recorders] == [[], []]


def test_opt_out_twice_is_refused_and_sends_one_confirmation(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    reach(itms, db, "opted_in")
    itms.opt_out(PHONE)
    db.session.commit()
    with pytest.raises(InvalidTransition):
        itms.opt_out(PHONE)
    db.session.commit()
    assert sent.texts_to(PHONE).count(itms.render(OPTED_OUT, PHONE)) == 1
    assert [event.to_status for event in itms.events(PHONE)][-1:] == ["opted_out"]
    assert len([event for event in itms.events(PHONE) if event.to_status == "opted_out"]) == 1


def test_enter_auth_code_outside_awaiting_code_is_refused(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    for number, start in enumerate(["none", "pending", "pending_quick", "opted_in", "opted_out"]):
        phone = f"+1212556{number:04d}"
        reach(itms, db, start, phone)
        watch = Watch(itms, sent, phone)
        with pytest.raises(InvalidTransition):
            itms.enter_auth_code(phone, "123456")
        db.session.commit()
        assert itms.status(phone) == status_name(start)
        assert (watch.texts(), watch.events()) == ([], [])


# -- YES outside a live request ----------------------------------------------------------


def test_yes_after_the_request_expired_changes_nothing(
    app: Flask, itms: ITMS, db: SQLAlchemy, sent: t.Any, clock: t.Any
) -> None:
    reach(itms, db, "pending")
    clock.advance(seconds=app.config["ITMS_OPT_IN_REQUEST_TTL"].total_seconds())
    watch = Watch(itms, sent)
    message = text_in(itms, PHONE, "YES")
    db.session.commit()
    assert itms.status(PHONE) is ConsentStatus.PENDING
    assert (watch.texts(), watch.events()) == ([], [])
    assert message.intent == "yes"
    assert itms.messages(PHONE)[-1] is message  # kept as an ordinary inbound message


def test_yes_just_before_the_request_expires_still_counts(
    app: Flask, itms: ITMS, db: SQLAlchemy, sent: t.Any, clock: t.Any
) -> None:
    reach(itms, db, "pending_quick")
    clock.advance(seconds=app.config["ITMS_OPT_IN_REQUEST_TTL"].total_seconds() - 1)
    text_in(itms, PHONE, "YES")
    db.session.commit()
    assert itms.status(PHONE) is ConsentStatus.OPTED_IN


def test_request_ttl_is_per_app_config(make_app: t.Callable[..., Flask], clock: t.Any) -> None:
    app = make_app(ITMS_OPT_IN_REQUEST_TTL=timedelta(hours=1))
    itms: ITMS = app.extensions["itms"].itms
    with app.app_context():
        itms.quick_opt_in(PHONE)
        app.extensions["itms"].db.session.commit()
        clock.advance(hours=1, seconds=1)
        text_in(itms, PHONE, "YES")
        app.extensions["itms"].db.session.commit()
        assert itms.status(PHONE) is ConsentStatus.PENDING


def test_yes_without_a_pending_request_changes_nothing(
    itms: ITMS, db: SQLAlchemy, sent: t.Any, record_signal: t.Callable[[t.Any], Recorder]
) -> None:
    for number, start in enumerate(["none", "awaiting_code", "opted_in"]):
        phone = f"+1212556{number:04d}"
        reach(itms, db, start, phone)
        watch = Watch(itms, sent, phone)
        recorders = [record_signal(signal) for signal in (signals.auth_code_sent, signals.opted_in)]
        text_in(itms, phone, "YES")
        db.session.commit()
        assert itms.status(phone) == start
        assert (watch.texts(), watch.events()) == ([], [])
        assert [recorder.calls for recorder in recorders] == [[], []]


def test_opted_out_consumer_answering_an_old_request_stays_opted_out(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    for number, start in enumerate(["pending", "pending_quick", "pending_supervisor"]):
        phone = f"+1212556{number:04d}"
        reach(itms, db, start, phone)
        text_in(itms, phone, "STOP")
        db.session.commit()
        watch = Watch(itms, sent, phone)
        text_in(itms, phone, "YES")
        db.session.commit()
        assert itms.status(phone) is ConsentStatus.OPTED_OUT
        assert (watch.texts(), watch.events()) == ([], [])


# -- the auth code (PIN) -----------------------------------------------------------------


def test_wrong_pin_raises_counts_an_attempt_and_changes_nothing_else(
    itms: ITMS, db: SQLAlchemy, sent: t.Any, record_signal: t.Callable[[t.Any], Recorder]
) -> None:
    reach(itms, db, "awaiting_code")
    pin = pin_sent_to(sent, PHONE)
    wrong = f"{(int(pin) + 1) % 1_000_000:06d}"
    watch = Watch(itms, sent)
    opted_in = record_signal(signals.opted_in)
    with pytest.raises(InvalidAuthCode, match="tries left"):
        itms.enter_auth_code(PHONE, wrong)
    db.session.commit()
    assert itms.consent(PHONE).auth_code_attempts == 1
    assert itms.status(PHONE) is ConsentStatus.AWAITING_CODE
    assert (watch.texts(), watch.events(), opted_in.calls) == ([], [], [])
    itms.enter_auth_code(PHONE, pin)  # the right one still works
    db.session.commit()
    assert itms.status(PHONE) is ConsentStatus.OPTED_IN


def test_pin_dies_after_the_maximum_wrong_tries(make_app: t.Callable[..., Flask]) -> None:
    app = make_app(ITMS_AUTH_CODE_MAX_ATTEMPTS=3)
    state = app.extensions["itms"]
    itms, db, sent = state.itms, state.db, state.provider
    with app.app_context():
        reach(itms, db, "awaiting_code")
        pin = pin_sent_to(sent, PHONE)
        wrong = f"{(int(pin) + 1) % 1_000_000:06d}"
        for _ in range(3):
            with pytest.raises(InvalidAuthCode):
                itms.enter_auth_code(PHONE, wrong)
            db.session.commit()
        with pytest.raises(InvalidAuthCode, match="new opt-in request"):
            itms.enter_auth_code(PHONE, pin)
        db.session.commit()
        assert itms.status(PHONE) is ConsentStatus.AWAITING_CODE
        assert itms.can_text(PHONE) is False
        # The agent sends a new request; the new YES brings a new, working PIN.
        itms.request_opt_in(PHONE)
        db.session.commit()
        text_in(itms, PHONE, "YES")
        db.session.commit()
        itms.enter_auth_code(PHONE, pin_sent_to(sent, PHONE))
        db.session.commit()
        assert itms.status(PHONE) is ConsentStatus.OPTED_IN


def test_one_wrong_try_less_than_the_maximum_leaves_the_pin_alive(make_app: t.Callable[..., Flask]) -> None:
    app = make_app(ITMS_AUTH_CODE_MAX_ATTEMPTS=3)
    state = app.extensions["itms"]
    itms, db, sent = state.itms, state.db, state.provider
    with app.app_context():
        reach(itms, db, "awaiting_code")
        pin = pin_sent_to(sent, PHONE)
        for _ in range(2):
            with pytest.raises(InvalidAuthCode):
                itms.enter_auth_code(PHONE, "not it")
            db.session.commit()
        itms.enter_auth_code(PHONE, pin)
        db.session.commit()
        assert itms.status(PHONE) is ConsentStatus.OPTED_IN


@pytest.mark.parametrize(("wait", "alive"), [(timedelta(minutes=10) - timedelta(seconds=1), True), (None, False)])
def test_pin_expires_after_its_ttl(
    make_app: t.Callable[..., Flask], clock: t.Any, wait: timedelta | None, alive: bool
) -> None:
    app = make_app(ITMS_AUTH_CODE_TTL=timedelta(minutes=10))
    state = app.extensions["itms"]
    itms, db, sent = state.itms, state.db, state.provider
    with app.app_context():
        reach(itms, db, "awaiting_code")
        clock.advance(seconds=(wait or timedelta(minutes=10)).total_seconds())
        if alive:
            itms.enter_auth_code(PHONE, pin_sent_to(sent, PHONE))
            assert itms.status(PHONE) is ConsentStatus.OPTED_IN
        else:
            with pytest.raises(InvalidAuthCode, match="expired"):
                itms.enter_auth_code(PHONE, pin_sent_to(sent, PHONE))
            db.session.commit()
            assert itms.status(PHONE) is ConsentStatus.AWAITING_CODE


def test_pin_may_be_typed_with_spaces(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    reach(itms, db, "awaiting_code")
    pin = pin_sent_to(sent, PHONE)
    itms.enter_auth_code(PHONE, f" {pin[:3]} {pin[3:]} ")
    assert itms.status(PHONE) is ConsentStatus.OPTED_IN


def _every_stored_value(db: SQLAlchemy, itms: ITMS) -> list[str]:
    """Every value in every itms table, read through a fresh connection (what is committed)."""
    values: list[str] = []
    with db.engine.connect() as connection:
        for model in (itms.models.Consent, itms.models.ConsentEvent, itms.models.Message, itms.models.Template):
            for row in connection.execute(sa.select(model.__table__)):
                values.extend(str(value) for value in row if value is not None)
    return values


def test_pin_is_stored_only_as_a_hash(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    reach(itms, db, "awaiting_code")
    pin = pin_sent_to(sent, PHONE)
    anywhere = re.compile(rf"(?<!\d){pin}(?!\d)")
    assert not [value for value in _every_stored_value(db, itms) if anywhere.search(value)]
    consent = itms.consent(PHONE)
    assert consent.auth_code_hash and pin not in consent.auth_code_hash
    (pin_text,) = [message for message in itms.messages(PHONE) if message.template == AUTH_CODE]
    assert pin not in pin_text.body
    assert pin not in pin_text.display_body
    assert pin_text.status == "sent"


def test_each_yes_to_a_new_request_brings_a_fresh_pin(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    pins = []
    for _ in range(4):
        itms.request_opt_in(PHONE)
        db.session.commit()
        text_in(itms, PHONE, "YES")
        db.session.commit()
        pins.append(pin_sent_to(sent, PHONE))
    assert len(set(pins)) > 1
    # A YES while awaiting the code sends no second PIN.
    texts_before = len(sent.texts_to(PHONE))
    text_in(itms, PHONE, "YES")
    db.session.commit()
    assert len(sent.texts_to(PHONE)) == texts_before
    if pins[-2] != pins[-1]:  # one chance in a million that they coincide
        with pytest.raises(InvalidAuthCode):
            itms.enter_auth_code(PHONE, pins[-2])
        db.session.commit()
    itms.enter_auth_code(PHONE, pins[-1])
    assert itms.status(PHONE) is ConsentStatus.OPTED_IN


def test_pin_comes_from_secrets(itms: ITMS, db: SQLAlchemy, sent: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import flask_itms.consent

    monkeypatch.setattr(flask_itms.consent.secrets, "randbelow", lambda limit: 42)
    reach(itms, db, "awaiting_code")
    assert pin_sent_to(sent, PHONE) == "000042"


# -- review hold -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Please stop texting me", "Can you stop by tomorrow?", "remove me", "🛑 why?"])
def test_ambiguous_revocation_puts_consent_on_hold(
    itms: ITMS, db: SQLAlchemy, sent: t.Any, clock: t.Any, text: str
) -> None:
    reach(itms, db, "opted_in")
    watch = Watch(itms, sent)
    message = text_in(itms, PHONE, text)
    db.session.commit()
    assert itms.status(PHONE) is ConsentStatus.OPTED_IN  # not guessed to be an opt-out
    assert itms.can_text(PHONE) is False
    assert itms.textable([PHONE]) == set()
    assert watch.texts() == []
    (event,) = watch.events()
    assert (event.from_status, event.to_status, event.source, event.message_id) == (
        "opted_in",
        "opted_in",
        "consumer",
        message.id,
    )
    with pytest.raises(ConsentRequired, match="hold"):
        itms.send(PHONE, "Your payment is due")


def test_clear_hold_lets_texts_through_again(itms: ITMS, db: SQLAlchemy, sent: t.Any, clock: t.Any) -> None:
    reach(itms, db, "opted_in")
    text_in(itms, PHONE, "Please cancel my payment plan")
    db.session.commit()
    watch = Watch(itms, sent)
    itms.clear_hold(PHONE, actor=ACTOR)
    db.session.commit()
    assert itms.can_text(PHONE) is True
    (event,) = watch.events()
    assert (event.from_status, event.to_status, event.source, event.actor) == ("opted_in", "opted_in", "agent", ACTOR)
    itms.send(PHONE, "Your payment is due")
    db.session.commit()
    assert watch.texts() == ["Your payment is due Reply STOP to opt out."]
    with pytest.raises(InvalidTransition):
        itms.clear_hold(PHONE)


def test_opt_out_from_hold(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    reach(itms, db, "opted_in")
    text_in(itms, PHONE, "Please stop texting me")
    db.session.commit()
    itms.opt_out(PHONE, actor=ACTOR, reason="read the held text")
    db.session.commit()
    assert itms.status(PHONE) is ConsentStatus.OPTED_OUT
    assert sent.texts_to(PHONE)[-1] == itms.render(OPTED_OUT, PHONE)
    assert itms.consent(PHONE).on_hold is False


def test_hold_on_an_opted_out_number_is_not_recorded(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    reach(itms, db, "opted_out")
    watch = Watch(itms, sent)
    text_in(itms, PHONE, "Please stop texting me")
    db.session.commit()
    assert (watch.texts(), watch.events()) == ([], [])
    with pytest.raises(InvalidTransition):
        itms.clear_hold(PHONE)


@pytest.mark.parametrize("start", ["none", "pending", "awaiting_code"])
def test_a_held_number_gets_no_new_opt_in_flow_until_an_agent_reviews_it(
    itms: ITMS, db: SQLAlchemy, sent: t.Any, start: str
) -> None:
    """A held reply may be a revocation: only opt-out or clear_hold end the hold (DESIGN)."""
    itms.auto_opt_in_policy(lambda account: True)
    reach(itms, db, start)
    text_in(itms, PHONE, "Take me off your list")
    db.session.commit()
    watch = Watch(itms, sent)
    for name, call in OUTBOUND_STARTS:
        with pytest.raises(InvalidTransition, match="hold"):
            call(itms)
        db.session.commit()
        assert itms.status(PHONE) == start, name
        assert itms.consent(PHONE).on_hold is True
        assert (watch.texts(), watch.events()) == ([], []), name
    itms.clear_hold(PHONE)  # once reviewed, the flow may start again
    itms.request_opt_in(PHONE)
    db.session.commit()
    assert watch.texts() == [OPT_IN_TEXT]


# -- one confirmation, one number --------------------------------------------------------


def test_repeated_stops_with_different_ids_get_one_confirmation(
    itms: ITMS, db: SQLAlchemy, sent: t.Any, record_signal: t.Callable[[t.Any], Recorder]
) -> None:
    reach(itms, db, "opted_in")
    opted_out = record_signal(signals.opted_out)
    for word in ("STOP", "stop", "STOP!!", "Unsubscribe", "🛑"):
        text_in(itms, PHONE, word)
        db.session.commit()
    assert sent.texts_to(PHONE).count(itms.render(OPTED_OUT, PHONE)) == 1
    assert len(opted_out.calls) == 1
    assert [event.to_status for event in itms.events(PHONE)].count("opted_out") == 1
    assert len([m for m in itms.messages(PHONE) if m.direction == "inbound"]) == 1 + 5  # YES, and every STOP kept


def test_stop_in_one_transaction_twice_gets_one_confirmation(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    reach(itms, db, "opted_in")
    text_in(itms, PHONE, "STOP")
    text_in(itms, PHONE, "STOP")
    db.session.commit()
    assert sent.texts_to(PHONE) == [OPT_IN_TEXT, OPTED_IN_TEXT, itms.render(OPTED_OUT, PHONE)]


def test_an_opt_out_on_one_number_leaves_every_other_number_alone(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    """Rock#5581: one opt-out disabled texting for every number."""
    reach(itms, db, "opted_in", PHONE)
    reach(itms, db, "opted_in", OTHER)  # same account, ACCT-1
    text_in(itms, PHONE, "STOP")
    db.session.commit()
    assert itms.status(OTHER) is ConsentStatus.OPTED_IN
    assert itms.can_text(OTHER) is True
    assert itms.textable([PHONE, OTHER]) == {OTHER}
    itms.send(OTHER, "Still here")
    db.session.commit()
    assert sent.texts_to(OTHER)[-1].startswith("Still here")


def test_provider_confirmed_keywords_get_no_second_confirmation(make_app: t.Callable[..., Flask]) -> None:
    """Spoke#2184: Bird answers its own STOP keywords; a second text would be spam."""
    app = make_app(ITMS_PROVIDER_CONFIRMS_KEYWORDS=("stop", "unsubscribe"))
    state = app.extensions["itms"]
    itms, db, sent = state.itms, state.db, state.provider
    with app.app_context():
        reach(itms, db, "opted_in", PHONE)
        reach(itms, db, "opted_in", OTHER)
        text_in(itms, PHONE, "Stop")
        text_in(itms, OTHER, "revoke")
        db.session.commit()
        assert itms.status(PHONE) is ConsentStatus.OPTED_OUT
        assert sent.texts_to(PHONE) == [OPT_IN_TEXT, OPTED_IN_TEXT]
        assert sent.texts_to(OTHER)[-1] == itms.render(OPTED_OUT, OTHER)
        # The confirmation the provider sent is still on record.
        assert itms.messages(PHONE)[-1].template == OPTED_OUT


# -- auto opt-in policy ------------------------------------------------------------------


def test_the_auto_opt_in_policy_gets_the_hosts_own_account(itms: ITMS, db: SQLAlchemy) -> None:
    class Account:
        def __init__(self, number: str, business_type: str) -> None:
            self.number, self.business_type = number, business_type

        def __str__(self) -> str:
            return self.number

    itms.auto_opt_in_policy(lambda account: account.business_type == "utility")
    itms.auto_opt_in(PHONE, account=Account("ACCT-42", "utility"))
    db.session.commit()
    assert itms.consent(PHONE).account == "ACCT-42"
    with pytest.raises(ITMSError, match="ACCT-43"):
        itms.auto_opt_in(OTHER, account=Account("ACCT-43", "retail"))
    with pytest.raises(ValueError, match="account"):
        itms.auto_opt_in(OTHER, account=None)
    assert itms.status(OTHER) is ConsentStatus.NONE


def test_signal_receivers_join_the_transaction(app: Flask, itms: ITMS, db: SQLAlchemy) -> None:
    """A receiver's own writes commit, or roll back, with the change that sent the signal."""

    def note(sender: Flask, phone: str, **extra: t.Any) -> None:
        itms.create_template(f"NOTE_{phone[1:]}", label="Opt-out note", body="Noted")

    with signals.opted_out.connected_to(note, app):
        itms.opt_out(PHONE)
        db.session.rollback()
        assert itms.status(PHONE) is ConsentStatus.NONE
        assert [t.identifier for t in itms.templates() if t.identifier.startswith("NOTE_")] == []
        itms.opt_out(PHONE)
        db.session.commit()
    assert itms.status(PHONE) is ConsentStatus.OPTED_OUT
    assert itms.template(f"NOTE_{PHONE[1:]}").body == "Noted"


def test_auto_opt_in_without_a_policy_is_refused(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    with pytest.raises(ITMSError, match="auto_opt_in_policy"):
        itms.auto_opt_in(PHONE, account="ACCT-1")
    db.session.commit()
    assert itms.status(PHONE) is ConsentStatus.NONE
    assert sent.sent == []


def test_auto_opt_in_refused_by_policy_changes_nothing(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    for number, start in enumerate(FLOW_STARTS):
        phone = f"+1212556{number:04d}"
        itms.auto_opt_in_policy(lambda account: False)
        reach(itms, db, start, phone)
        watch = Watch(itms, sent, phone)
        with pytest.raises(ITMSError, match="ACCT-9"):
            itms.auto_opt_in(phone, account="ACCT-9")
        db.session.commit()
        assert itms.status(phone) == status_name(start)
        assert (watch.texts(), watch.events()) == ([], [])


# -- send() -------------------------------------------------------------------------------


def test_send_needs_consent(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    for number, start in enumerate(["none", "pending", "awaiting_code", "opted_out"]):
        phone = f"+1212556{number:04d}"
        reach(itms, db, start, phone)
        watch = Watch(itms, sent, phone)
        messages_before = len(itms.messages(phone))
        with pytest.raises(ConsentRequired):
            itms.send(phone, "Your payment is due")
        db.session.commit()
        assert len(itms.messages(phone)) == messages_before
        assert watch.texts() == []


NOTICE_CASES = [
    ("Your payment is due.", "Your payment is due. Reply STOP to opt out."),
    ("Your payment stopped.  ", "Your payment stopped. Reply STOP to opt out."),
    ("Payment due. Text STOP to end texts.", "Payment due. Text STOP to end texts."),
    ("Payment due. reply stop to quit", "Payment due. reply stop to quit"),
]


def test_send_appends_the_reg_f_opt_out_notice_when_missing(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    reach(itms, db, "opted_in")
    for body, sent_body in NOTICE_CASES:
        message = itms.send(PHONE, body, actor=ACTOR)
        assert (message.direction, message.body, message.template, message.status) == (
            "outbound",
            sent_body,
            None,
            "queued",
        )
        db.session.commit()
        assert sent.texts_to(PHONE)[-1] == sent_body
        assert message.status == "sent"
        assert message.provider_message_id
        assert itms.messages(PHONE)[-1] is message


def test_send_uses_the_configured_opt_out_notice(make_app: t.Callable[..., Flask]) -> None:
    app = make_app(ITMS_OPT_OUT_NOTICE="Reply STOP to stop texts to this number.")
    state = app.extensions["itms"]
    with app.app_context():
        reach(state.itms, state.db, "opted_in")
        state.itms.send(PHONE, "Hi")
        state.db.session.commit()
        assert state.provider.texts_to(PHONE)[-1] == "Hi Reply STOP to stop texts to this number."


def test_send_renders_an_agent_template(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    reach(itms, db, "opted_in")
    itms.create_template("PAYMENT_DUE", label="Payment due", body="${customer.companyName}: your payment is due.")
    message = itms.send(PHONE, template="PAYMENT_DUE", actor=ACTOR)
    db.session.commit()
    assert message.template == "PAYMENT_DUE"
    assert sent.texts_to(PHONE)[-1] == "Acme Recovery: your payment is due. Reply STOP to opt out."


def test_send_refuses_a_system_template(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    reach(itms, db, "opted_in")
    watch = Watch(itms, sent)
    messages_before = len(itms.messages(PHONE))
    for identifier in (OPT_IN, OPTED_IN, AUTH_CODE, OPTED_OUT, HELP):
        with pytest.raises(SystemTemplateError):
            itms.send(PHONE, template=identifier)
        db.session.commit()
    assert watch.texts() == []
    assert len(itms.messages(PHONE)) == messages_before


def test_send_needs_a_body_or_a_template(itms: ITMS, db: SQLAlchemy) -> None:
    reach(itms, db, "opted_in")
    for body in (None, "", "   "):
        with pytest.raises(ITMSError):
            itms.send(PHONE, body)


# -- transactions ------------------------------------------------------------------------


def _committed_counts(db: SQLAlchemy, itms: ITMS) -> tuple[int, ...]:
    """Row counts and statuses as another connection sees them: what was committed."""
    with db.engine.connect() as connection:
        counts = tuple(
            connection.scalar(sa.select(sa.func.count()).select_from(model.__table__)) or 0
            for model in (itms.models.Consent, itms.models.ConsentEvent, itms.models.Message, itms.models.Template)
        )
        statuses = tuple(connection.scalars(sa.select(itms.models.Consent.status).order_by(itms.models.Consent.id)))
    return (*counts, hash(statuses))


SERVICE_CALLS: list[tuple[str, str, t.Callable[[ITMS, t.Any], t.Any]]] = [
    ("request_opt_in", "none", lambda itms, sent: itms.request_opt_in(PHONE, actor=ACTOR)),
    ("quick_opt_in", "none", lambda itms, sent: itms.quick_opt_in(PHONE, actor=ACTOR)),
    ("link_number", "none", lambda itms, sent: itms.link_number(PHONE, "ACCT-5")),
    ("auto_opt_in", "none", lambda itms, sent: itms.auto_opt_in(PHONE, account="ACCT-5")),
    ("enter_auth_code", "awaiting_code", lambda itms, sent: itms.enter_auth_code(PHONE, pin_sent_to(sent, PHONE))),
    ("opt_out", "opted_in", lambda itms, sent: itms.opt_out(PHONE)),
    ("send", "opted_in", lambda itms, sent: itms.send(PHONE, "Hi")),
    ("handle_inbound STOP", "opted_in", lambda itms, sent: text_in(itms, PHONE, "STOP")),
    ("handle_inbound YES", "pending", lambda itms, sent: text_in(itms, PHONE, "YES")),
    ("handle_inbound HELP", "none", lambda itms, sent: text_in(itms, PHONE, "HELP")),
    ("handle_inbound hold", "opted_in", lambda itms, sent: text_in(itms, PHONE, "remove me")),
    (
        "create_template",
        "none",
        lambda itms, sent: itms.create_template("NEW_ONE", label="New", body="Hello"),
    ),
]


@pytest.mark.parametrize(("name", "start", "call"), SERVICE_CALLS, ids=[name for name, _, _ in SERVICE_CALLS])
def test_service_methods_never_commit(
    itms: ITMS, db: SQLAlchemy, sent: t.Any, name: str, start: str, call: t.Callable[[ITMS, t.Any], t.Any]
) -> None:
    itms.auto_opt_in_policy(lambda account: True)
    reach(itms, db, start)
    itms.templates()  # the system templates exist, so only the call's own rows could appear
    db.session.commit()
    before = _committed_counts(db, itms)
    texts_before = len(sent.sent)
    status_before = itms.status(PHONE)

    call(itms, sent)
    db.session.rollback()

    assert _committed_counts(db, itms) == before
    assert itms.status(PHONE) == status_before
    assert len(sent.sent) == texts_before
    db.session.commit()  # a later, unrelated commit sends nothing of the rolled-back call
    assert len(sent.sent) == texts_before


def test_event_timestamps_are_utc_whatever_the_database_session_zone(
    make_app: t.Callable[..., Flask], database_url: str, clock: t.Any
) -> None:
    """PostgreSQL answers timestamptz in the session's zone; the contract says UTC."""
    options = (
        {"SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": "-c timezone=Asia/Kolkata"}}}
        if database_url.startswith("postgresql")
        else {}
    )
    app = make_app(**options)
    state = app.extensions["itms"]
    with app.app_context():
        reach(state.itms, state.db, "opted_in")
        state.db.session.expire_all()
        for event in state.itms.events(PHONE):
            assert event.created_at == clock.now
            assert event.created_at.tzinfo is UTC
        for message in state.itms.messages(PHONE):
            assert message.created_at.tzinfo is UTC


def test_events_are_appended_never_rewritten(itms: ITMS, db: SQLAlchemy, sent: t.Any, clock: t.Any) -> None:
    def snapshot() -> list[tuple[t.Any, ...]]:
        Event = itms.models.ConsentEvent
        with db.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.select(Event.__table__).order_by(Event.id))]

    history: list[tuple[t.Any, ...]] = []
    steps: list[t.Callable[[], t.Any]] = [
        lambda: itms.request_opt_in(PHONE, actor=ACTOR),
        lambda: text_in(itms, PHONE, "YES"),
        lambda: itms.enter_auth_code(PHONE, pin_sent_to(sent, PHONE), actor=ACTOR),
        lambda: text_in(itms, PHONE, "Please stop texting me"),
        lambda: itms.clear_hold(PHONE, actor=ACTOR),
        lambda: text_in(itms, PHONE, "STOP"),
        lambda: text_in(itms, PHONE, "START"),
        lambda: itms.opt_out(PHONE, actor=ACTOR),
    ]
    for step in steps:
        clock.advance(minutes=1)
        step()
        db.session.commit()
        now = snapshot()
        assert now[: len(history)] == history
        assert len(now) == len(history) + 1
        history = now
    assert [(e.from_status, e.to_status) for e in itms.events(PHONE)] == [
        ("none", "pending"),
        ("pending", "awaiting_code"),
        ("awaiting_code", "opted_in"),
        ("opted_in", "opted_in"),
        ("opted_in", "opted_in"),
        ("opted_in", "opted_out"),
        ("opted_out", "opted_in"),
        ("opted_in", "opted_out"),
    ]
    created = [event.created_at for event in itms.events(PHONE)]
    assert created == sorted(created)


# -- textable: the campaign gate -----------------------------------------------------------


def test_textable_of_100000_numbers_runs_a_constant_number_of_queries(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    opted_in = [f"+1212300{i:04d}" for i in range(6)]
    for phone in opted_in:
        reach(itms, db, "opted_in", phone)
    text_in(itms, opted_in[0], "Please stop texting me")  # held
    reach(itms, db, "pending", "+12123010001")
    reach(itms, db, "awaiting_code", "+12123010002")
    reach(itms, db, "opted_out", "+12123010003")
    reach(itms, db, "opted_in", "+12123010004")
    text_in(itms, "+12123010004", "STOP")
    db.session.commit()

    numbers = [f"+1213{2000000 + i}" for i in range(100_000 - len(opted_in) - 4)]
    asked = [*numbers, *opted_in, "+12123010001", "+12123010002", "+12123010003", "+12123010004"]
    asked += ["(212) 300-0001", "not a number", ""]  # other spellings and junk cost no query either
    statements: list[str] = []

    def count(conn: t.Any, cursor: t.Any, statement: str, *args: t.Any) -> None:
        statements.append(statement)

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        few = itms.textable(asked[:10])
        few_queries = len(statements)
        statements.clear()
        many = itms.textable(asked)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == few_queries <= 1
    assert many == set(opted_in[1:])
    assert few == set()


def test_textable_of_nothing_runs_no_query(itms: ITMS) -> None:
    assert itms.textable([]) == set()
    assert itms.textable(iter([PHONE])) == set()


# -- the whole machine against a reference model -----------------------------------------

ACTIONS = [
    "request_opt_in",
    "quick_opt_in",
    "link_number",
    "auto_opt_in",
    "opt_out",
    "right_pin",
    "wrong_pin",
    "clear_hold",
    "send",
    "in:STOP",
    "in:START",
    "in:YES",
    "in:HELP",
    "in:Please stop texting me",
    "in:Hello there",
    "wait:1",
    "wait:11",
    f"wait:{7 * 24 * 60 + 1}",
]
MODEL_PIN_TTL = timedelta(minutes=10)
MODEL_REQUEST_TTL = timedelta(days=7)
MODEL_MAX_ATTEMPTS = 2
_model_phones = itertools.count()


class Model:
    """The state table of DESIGN.md, written out plainly for one number."""

    def __init__(self) -> None:
        self.status = "none"
        self.method: str | None = None
        self.on_hold = False
        self.request_expires: datetime | None = None
        self.pin_expires: datetime | None = None
        self.attempts = 0

    @property
    def can_text(self) -> bool:
        return self.status == "opted_in" and not self.on_hold

    def apply(self, action: str, now: datetime) -> tuple[type[Exception] | None, list[str], list[str], int]:
        """Expected (error, texts by purpose, signals, events) of ``action``."""
        status = self.status
        if action in ("request_opt_in", "quick_opt_in", "link_number", "auto_opt_in"):
            if status == "opted_out":
                return OptedOut, [], [], 0
            if status == "opted_in" or self.on_hold or (action == "link_number" and status != "none"):
                return InvalidTransition, [], [], 0
            self.pin_expires, self.attempts = None, 0
            if action == "auto_opt_in":
                self.status, self.method = "opted_in", "auto"
                return None, [OPTED_IN], ["opted_in"], 1
            method = {"request_opt_in": "agent", "quick_opt_in": "quick", "link_number": "supervisor"}[action]
            self.status, self.method, self.request_expires = "pending", method, now + MODEL_REQUEST_TTL
            return None, [OPT_IN], ["opt_in_requested"], 1
        if action == "opt_out" or (action == "in:STOP" and status != "opted_out"):
            if status == "opted_out":
                return InvalidTransition, [], [], 0
            self.status, self.on_hold = "opted_out", False
            return None, [OPTED_OUT], ["opted_out"], 1
        if action in ("right_pin", "wrong_pin"):
            if status != "awaiting_code" or self.on_hold:
                return InvalidTransition, [], [], 0
            assert self.pin_expires is not None
            if self.attempts >= MODEL_MAX_ATTEMPTS or now >= self.pin_expires:
                return InvalidAuthCode, [], [], 0
            if action == "wrong_pin":
                self.attempts += 1
                return InvalidAuthCode, [], [], 0
            self.status = "opted_in"
            return None, [OPTED_IN], ["opted_in"], 1
        if action == "clear_hold":
            if not self.on_hold:
                return InvalidTransition, [], [], 0
            self.on_hold = False
            return None, [], [], 1
        if action == "send":
            return (None, ["agent"], [], 0) if self.can_text else (ConsentRequired, [], [], 0)
        if action == "in:START" and status in ("none", "opted_out"):
            self.status, self.on_hold, self.method = "opted_in", False, "keyword"
            return None, [OPTED_IN], ["opted_in"], 1
        if action == "in:YES" and status == "pending" and not self.on_hold:
            assert self.request_expires is not None
            if now >= self.request_expires:
                return None, [], [], 0
            if self.method == "agent":
                self.status, self.pin_expires, self.attempts = "awaiting_code", now + MODEL_PIN_TTL, 0
                return None, [AUTH_CODE], ["auth_code_sent"], 1
            self.status = "opted_in"
            return None, [OPTED_IN], ["opted_in"], 1
        if action == "in:HELP":
            return None, [HELP], ["help_requested"], 0
        if action == "in:Please stop texting me" and status != "opted_out":
            self.on_hold = True
            return None, [], [], 1
        return None, [], [], 0


@pytest.fixture
def model_app(make_app: t.Callable[..., Flask]) -> t.Iterator[Flask]:
    app = make_app(
        ITMS_QUIET_HOURS=None,
        ITMS_AUTH_CODE_TTL=MODEL_PIN_TTL,
        ITMS_OPT_IN_REQUEST_TTL=MODEL_REQUEST_TTL,
        ITMS_AUTH_CODE_MAX_ATTEMPTS=MODEL_MAX_ATTEMPTS,
    )
    app.extensions["itms"].itms.auto_opt_in_policy(lambda account: True)
    with app.app_context():
        yield app


SIGNALS = ("opt_in_requested", "auth_code_sent", "opted_in", "opted_out", "help_requested")


#: Random actions, and short runs that reach the deep states quickly.
MODEL_ACTIONS = st.lists(
    st.one_of(
        st.sampled_from(ACTIONS).map(lambda action: [action]),
        st.sampled_from(
            [
                ["request_opt_in", "in:YES", "right_pin"],
                ["request_opt_in", "in:YES", "wrong_pin", "wrong_pin", "right_pin"],
                ["quick_opt_in", "in:YES"],
                ["link_number", "in:YES"],
                ["in:START", "send", "in:Please stop texting me", "send", "clear_hold", "send"],
            ]
        ),
    ),
    min_size=1,
    max_size=12,
).map(lambda runs: [action for run in runs for action in run])

#: PostgreSQL round trips cost more; the logic under test is the same on both.
MODEL_EXAMPLES = {"sqlite": 100, "postgresql": 20}


def test_random_conversations_follow_the_state_table(model_app: Flask, clock: t.Any, database_url: str) -> None:
    @settings(
        max_examples=MODEL_EXAMPLES[database_url.split(":")[0].split("+")[0]],
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(actions=MODEL_ACTIONS)
    def conversation(actions: list[str]) -> None:
        _conversation(model_app, clock, actions)

    conversation()


def _conversation(model_app: Flask, clock: t.Any, actions: list[str]) -> None:
    state = model_app.extensions["itms"]
    itms, db, provider = state.itms, state.db, state.provider
    phone = f"+1312200{next(_model_phones):04d}"
    model = Model()
    recorders = {name: Recorder() for name in SIGNALS}
    for name, recorder in recorders.items():
        getattr(signals, name).connect(recorder, model_app)
    try:
        history: list[tuple[t.Any, ...]] = []
        for action in actions:
            if action.startswith("wait:"):
                clock.advance(minutes=int(action[5:]))
                continue
            texts_before = len(provider.sent)
            for recorder in recorders.values():
                recorder.calls.clear()
            error, texts, fired, new_events = model.apply(action, clock.now)
            raised: type[Exception] | None = None
            try:
                _act(itms, provider, phone, action)
            except ITMSError as caught:
                raised = type(caught)
            db.session.commit()  # committed even after a refusal: a refusal must change nothing

            assert raised is error, (action, actions)
            handed = [text for text in provider.sent[texts_before:] if text.phone == phone]
            purposes = [db.session.get(itms.models.Message, text.message_id).purpose for text in handed]
            assert purposes == texts, (action, actions)
            assert Counter(name for name, recorder in recorders.items() for _ in recorder.calls) == Counter(fired)
            assert itms.status(phone) == model.status, (action, actions)
            assert itms.can_text(phone) is model.can_text
            assert (phone in itms.textable([phone])) is model.can_text
            events = [(e.id, e.from_status, e.to_status, e.method, e.source, e.created_at) for e in itms.events(phone)]
            assert events[: len(history)] == history
            assert len(events) == len(history) + new_events, (action, actions)
            history = events
    finally:
        for name, recorder in recorders.items():
            getattr(signals, name).disconnect(recorder, model_app)


def _act(itms: ITMS, provider: t.Any, phone: str, action: str) -> None:
    if action.startswith("in:"):
        text_in(itms, phone, action[3:])
    elif action == "request_opt_in":
        itms.request_opt_in(phone, actor=ACTOR)
    elif action == "quick_opt_in":
        itms.quick_opt_in(phone, actor=ACTOR)
    elif action == "link_number":
        itms.link_number(phone, "ACCT-1")
    elif action == "auto_opt_in":
        itms.auto_opt_in(phone, account="ACCT-1")
    elif action == "opt_out":
        itms.opt_out(phone, actor=ACTOR)
    elif action in ("right_pin", "wrong_pin"):
        try:
            pin = pin_sent_to(provider, phone)
        except AssertionError:
            pin = "123456"
        itms.enter_auth_code(phone, pin if action == "right_pin" else f"{(int(pin) + 1) % 1_000_000:06d}")
    elif action == "clear_hold":
        itms.clear_hold(phone, actor=ACTOR)
    elif action == "send":
        itms.send(phone, "Payment reminder", actor=ACTOR)
    else:  # pragma: no cover - a typo in ACTIONS
        raise AssertionError(action)
