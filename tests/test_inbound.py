"""Inbound texts: the classifier (a pure function) and ``itms.handle_inbound`` (the service)."""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from conftest import OUR_NUMBER, Recorder, text_in
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from flask_itms import ITMS, ConsentStatus, signals
from flask_itms.keywords import (
    DEFAULT_OPT_OUT_KEYWORDS,
    OPT_OUT_EMOTICONS,
    REVOCATION_PHRASES,
    Intent,
    classify,
    normalize,
)
from flask_itms.messages import HELP, OPTED_OUT

PHONE = "+12125550123"
OTHER = "+12125550124"
NO_DATABASE = settings(database=None, deadline=None)

#: The source document's keywords, written out here rather than read from the module.
SEED_KEYWORDS = [
    "stop",
    "unsubscribe",
    "cancel",
    "opt-out",
    "opt out",
    "end",
    "optout",
    "quit",
    "delete",
    "go away",
    "leave",
    "cease",
    "block",
    "halt",
    "stopall",
    "f*** off",
    "f*** you",
    "revoke",
]
EXTRA_OPT_OUTS = ["stop all", "fuck off", "fuck you", "parar", "detener", "cancelar", "alto", "no más", "no mas"]
SEED_EMOTICONS = ["🛑", "🚫", "❌", "⛔", "🔕", "📴", "🖕"]


# -- the classifier ----------------------------------------------------------------------
# tests/test_keywords.py covers the classifier in depth; this adds one property over any text.

_OPT_OUTS = [*SEED_KEYWORDS, *EXTRA_OPT_OUTS]
_TRIGGERS = [normalize(word) for word in (*_OPT_OUTS, *OPT_OUT_EMOTICONS, *REVOCATION_PHRASES)]


def _mentions_a_trigger(text: str) -> bool:
    squeezed = normalize(text)
    return any(trigger in squeezed for trigger in _TRIGGERS) or any(e in text for e in OPT_OUT_EMOTICONS)


@NO_DATABASE
@given(st.text(max_size=60))
def test_text_without_any_keyword_emoticon_or_phrase_is_never_an_opt_out_or_a_hold(text: str) -> None:
    assume(not _mentions_a_trigger(text))
    assert classify(text).intent not in (Intent.OPT_OUT, Intent.REVIEW)


# -- handle_inbound ------------------------------------------------------------------------


def test_an_inbound_text_is_stored_and_announced(
    app: Flask, itms: ITMS, db: SQLAlchemy, clock: t.Any, record_signal: t.Callable[[t.Any], Recorder]
) -> None:
    received = record_signal(signals.message_received)
    message = itms.handle_inbound("(212) 555-0123", OUR_NUMBER, "  Hello there  ", provider_message_id="mb-1")
    assert received.calls == [{"sender": app, "message": message}]
    db.session.commit()
    (stored,) = itms.messages(PHONE)
    assert stored is message
    assert (stored.direction, stored.phone, stored.our_number, stored.body, stored.provider_message_id) == (
        "inbound",
        PHONE,
        OUR_NUMBER,
        "  Hello there  ",
        "mb-1",
    )
    assert stored.intent == "other"
    assert stored.created_at == clock.now
    assert stored.created_at.utcoffset() == timedelta(0)
    assert itms.status(PHONE) is ConsentStatus.NONE


def test_received_at_is_kept_as_the_message_time(itms: ITMS, db: SQLAlchemy) -> None:
    when = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
    message = itms.handle_inbound(PHONE, OUR_NUMBER, "Hi", provider_message_id="mb-2", received_at=when)
    db.session.commit()
    assert message.created_at == when


def test_the_same_provider_id_twice_has_one_effect(
    itms: ITMS, db: SQLAlchemy, sent: t.Any, record_signal: t.Callable[[t.Any], Recorder]
) -> None:
    itms.quick_opt_in(PHONE)
    db.session.commit()
    text_in(itms, PHONE, "YES")
    db.session.commit()
    received = record_signal(signals.message_received)
    opted_out = record_signal(signals.opted_out)
    first = itms.handle_inbound(PHONE, OUR_NUMBER, "STOP", provider_message_id="mb-stop")
    db.session.commit()
    again = itms.handle_inbound(PHONE, OUR_NUMBER, "STOP", provider_message_id="mb-stop")
    db.session.commit()
    assert again.id == first.id
    assert len(received.calls) == 1
    assert len(opted_out.calls) == 1
    assert len([m for m in itms.messages(PHONE) if m.provider_message_id == "mb-stop"]) == 1
    assert sent.texts_to(PHONE).count(itms.render(OPTED_OUT, PHONE)) == 1


def test_the_same_provider_id_from_another_direction_is_not_a_duplicate(itms: ITMS, db: SQLAlchemy) -> None:
    """Outbound and inbound ids come from different sequences; only (direction, id) is unique."""
    itms.quick_opt_in(PHONE)
    db.session.commit()
    outbound_id = itms.messages(PHONE)[0].provider_message_id
    message = itms.handle_inbound(PHONE, OUR_NUMBER, "Hello", provider_message_id=outbound_id)
    db.session.commit()
    assert message.direction == "inbound"
    assert len(itms.messages(PHONE)) == 2


def test_texts_without_a_provider_id_are_each_kept(itms: ITMS, db: SQLAlchemy) -> None:
    itms.handle_inbound(PHONE, OUR_NUMBER, "one")
    itms.handle_inbound(PHONE, OUR_NUMBER, "two")
    db.session.commit()
    assert [message.body for message in itms.messages(PHONE)] == ["one", "two"]


def test_every_seed_keyword_and_emoticon_opts_out_through_the_service(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    words = [*SEED_KEYWORDS, *EXTRA_OPT_OUTS, *SEED_EMOTICONS, "🖕🏿", "⛔️", "ＳＴＯＰ", "s\u200btop", "STOP STOP"]
    for number, word in enumerate(words):
        phone = f"+1212555{2000 + number}"
        itms.quick_opt_in(phone)
        db.session.commit()
        text_in(itms, phone, "YES")
        db.session.commit()
        message = text_in(itms, phone, f" {word.upper()}! ")
        db.session.commit()
        assert itms.status(phone) is ConsentStatus.OPTED_OUT, word
        assert (message.intent, itms.events(phone)[-1].keyword) == ("opt_out", message.keyword), word
        assert sent.texts_to(phone)[-1] == itms.render(OPTED_OUT, phone)


def test_configured_keywords_reach_the_service(make_app: t.Callable[..., Flask]) -> None:
    app = make_app(ITMS_OPT_OUT_KEYWORDS=(*DEFAULT_OPT_OUT_KEYWORDS, "basta"), ITMS_HELP_KEYWORDS=("help", "ayuda"))
    state = app.extensions["itms"]
    with app.app_context():
        text_in(state.itms, PHONE, "Basta!")
        text_in(state.itms, OTHER, "AYUDA")
        state.db.session.commit()
        assert state.itms.status(PHONE) is ConsentStatus.OPTED_OUT
        assert state.provider.texts_to(OTHER) == [state.itms.render(HELP, OTHER)]


def test_an_unknown_number_lands_in_the_unlinked_queue(
    app: Flask, itms: ITMS, db: SQLAlchemy, record_signal: t.Callable[[t.Any], Recorder]
) -> None:
    looked_up: list[str] = []

    @itms.account_lookup
    def lookup(phone: str) -> str | None:
        looked_up.append(phone)
        return "ACCT-KNOWN" if phone == OTHER else None

    unlinked = record_signal(signals.unlinked_message_received)
    first = text_in(itms, PHONE, "Who is this?")
    known = text_in(itms, OTHER, "Hi, it's Jordan")
    second = text_in(itms, PHONE, "Hello?")
    db.session.commit()

    assert unlinked.calls == [
        {"sender": app, "phone": PHONE, "message": first},
        {"sender": app, "phone": PHONE, "message": second},
    ]
    assert PHONE in looked_up
    assert itms.unlinked() == [first, second]
    assert known.account == "ACCT-KNOWN"
    assert first.account is None


def test_without_an_account_lookup_only_the_consent_account_links_a_number(
    itms: ITMS, db: SQLAlchemy, record_signal: t.Callable[[t.Any], Recorder]
) -> None:
    itms.request_opt_in(OTHER, account="ACCT-3")
    db.session.commit()
    unlinked = record_signal(signals.unlinked_message_received)
    stranger = text_in(itms, PHONE, "hello")
    client = text_in(itms, OTHER, "hello")
    db.session.commit()
    assert [call["phone"] for call in unlinked.calls] == [PHONE]
    assert itms.unlinked() == [stranger]
    assert client.account == "ACCT-3"


def test_linking_a_number_takes_its_texts_off_the_queue(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    text_in(itms, PHONE, "Who is this?")
    text_in(itms, OTHER, "Hello")
    db.session.commit()
    assert {message.phone for message in itms.unlinked()} == {PHONE, OTHER}
    itms.link_number(PHONE, "ACCT-8", actor="supervisor:sam")
    db.session.commit()
    assert {message.phone for message in itms.unlinked()} == {OTHER}
    assert itms.status(PHONE) is ConsentStatus.PENDING
    text_in(itms, PHONE, "YES")
    db.session.commit()
    assert itms.status(PHONE) is ConsentStatus.OPTED_IN


def test_a_host_that_files_the_number_later_takes_it_off_the_queue(itms: ITMS, db: SQLAlchemy) -> None:
    accounts: dict[str, str] = {}
    itms.account_lookup(accounts.get)
    text_in(itms, PHONE, "Who is this?")
    db.session.commit()
    assert len(itms.unlinked()) == 1
    accounts[PHONE] = "ACCT-4"
    assert itms.unlinked() == []


def test_an_unknown_number_can_still_opt_out(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    message = text_in(itms, PHONE, "STOP")
    db.session.commit()
    assert itms.status(PHONE) is ConsentStatus.OPTED_OUT
    assert itms.unlinked() == [message]
    assert sent.texts_to(PHONE) == [itms.render(OPTED_OUT, PHONE)]


@pytest.mark.parametrize("originator", ["AcmeBank", "InfoSMS", "12345"])
def test_an_alphanumeric_originator_is_stored_without_consent_change(
    app: Flask,
    itms: ITMS,
    db: SQLAlchemy,
    sent: t.Any,
    record_signal: t.Callable[[t.Any], Recorder],
    originator: str,
) -> None:
    received = record_signal(signals.message_received)
    unlinked = record_signal(signals.unlinked_message_received)
    recorders = [record_signal(s) for s in (signals.opted_out, signals.opted_in, signals.help_requested)]
    for text in ("STOP", "START", "HELP", "YES", "Please stop texting me"):
        received.calls.clear()
        message = text_in(itms, originator, text)
        db.session.commit()
        assert received.calls == [{"sender": app, "message": message}]
        assert (message.phone, message.body, message.direction) == (originator, text, "inbound")
    assert unlinked.calls == []
    assert [recorder.calls for recorder in recorders] == [[], [], []]
    assert sent.sent == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(itms.models.Consent)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(itms.models.ConsentEvent)) == 0
    assert itms.unlinked() == []
