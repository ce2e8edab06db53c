"""The five invariants of DESIGN.md, one named test (or group) each.

Each test checks the invariant from outside: what the provider was handed, what another
database connection sees, and what the audit trail says, never flask-itms' own bookkeeping.
The concurrent halves of invariant 2 are in test_concurrency_pg.py.
"""

from __future__ import annotations

import itertools
import json
import typing as t
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from conftest import pin_sent_to, text_in
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from messagebird_signer import MessageBirdSigner

from flask_itms import (
    ITMS,
    ConsentStatus,
    InvalidAuthCode,
    ITMSError,
    signals,
)
from flask_itms.messages import AUTH_CODE, HELP, OPT_IN, OPTED_IN, OPTED_OUT
from flask_itms.providers import OutboundText, SendError

PHONE = "+12125550123"
OTHER = "+12125550124"
ACTOR = "agent:alice"

#: DESIGN's state table, as "which consent may each kind of text go out under".
ALLOWED_STATUSES: dict[str, set[str]] = {
    OPT_IN: {"pending"},
    AUTH_CODE: {"awaiting_code"},
    OPTED_IN: {"opted_in"},
    OPTED_OUT: {"opted_out"},
    HELP: {"none", "pending", "awaiting_code", "opted_in", "opted_out"},
}


class Witness:
    """A provider that notes, for every text handed to it, what the committed database says.

    It reads through its own connection, so it sees only what was committed before the
    hand-off, which is exactly what the invariants are about.
    """

    name = "witness"

    def __init__(self, app: Flask, then: t.Any) -> None:
        state = app.extensions["itms"]
        with app.app_context():
            self.engine = state.db.engine
        self.models = state.models
        self.then = then
        self.seen: list[dict[str, t.Any]] = []

    def send(self, text: OutboundText) -> str:
        Consent, Message = self.models.Consent, self.models.Message
        with self.engine.connect() as connection:
            consent = connection.execute(
                sa.select(Consent.status, Consent.on_hold).where(Consent.phone == text.phone)
            ).first()
            purpose = connection.scalar(sa.select(Message.purpose).where(Message.id == text.message_id))
            opted_out_events = connection.scalar(
                sa.select(sa.func.count())
                .select_from(self.models.ConsentEvent)
                .where(self.models.ConsentEvent.phone == text.phone, self.models.ConsentEvent.to_status == "opted_out")
            )
        self.seen.append(
            {
                "phone": text.phone,
                "purpose": purpose,
                "status": consent.status if consent else "none",
                "on_hold": bool(consent.on_hold) if consent else False,
                "opted_out_events": opted_out_events,
            }
        )
        return t.cast(str, self.then.send(text))


def disallowed(seen: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The hand-offs the state table does not allow."""
    wrong = []
    for text in seen:
        if text["purpose"] in ALLOWED_STATUSES:
            ok = text["status"] in ALLOWED_STATUSES[text["purpose"]]
            # A review hold stops every text that carries the opt-in flow forward.
            ok = ok and not (text["on_hold"] and text["purpose"] in {OPT_IN, AUTH_CODE, OPTED_IN})
        else:  # an agent or host text
            ok = text["status"] == "opted_in" and not text["on_hold"]
        if not ok:
            wrong.append(text)
    return wrong


def snapshot(db: SQLAlchemy, itms: ITMS) -> dict[str, list[tuple[t.Any, ...]]]:
    """Every row of every itms table, as another connection sees it."""
    models = itms.models
    tables = [models.Consent, models.ConsentEvent, models.Message, models.Template, models.WebhookReplay]
    with db.engine.connect() as connection:
        return {
            model.__tablename__: [
                tuple(row)
                for row in connection.execute(sa.select(model.__table__).order_by(*model.__table__.primary_key.columns))
            ]
            for model in tables
        }


# -- random conversations, for invariants 1 and 4 ------------------------------------------

CONVERSATION_ACTIONS = [
    "request_opt_in",
    "quick_opt_in",
    "link_number",
    "auto_opt_in",
    "opt_out",
    "right_pin",
    "wrong_pin",
    "clear_hold",
    "send",
    "send",
    "in:STOP",
    "in:START",
    "in:YES",
    "in:YES",
    "in:HELP",
    "in:Please stop texting me",
    "deliver",
    "deliver",
    "wait:11",
    f"wait:{7 * 24 * 60}",
]
_numbers = itertools.count()


def act(itms: ITMS, provider: t.Any, clock: t.Any, phone: str, action: str) -> None:
    """Do one action as a host, agent or consumer would; refusals are part of the game."""
    try:
        if action.startswith("in:"):
            text_in(itms, phone, action[3:])
        elif action.startswith("wait:"):
            clock.advance(minutes=int(action[5:]))
        elif action == "deliver":
            itms.deliver_outbox()
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
        else:  # pragma: no cover - a typo in the action list
            raise AssertionError(action)
    except ITMSError:
        pass


def _conversation_app(make_app: t.Callable[..., Flask], send_mode: str) -> t.Iterator[Flask]:
    app = make_app(ITMS_SEND_MODE=send_mode, ITMS_QUIET_HOURS=None, ITMS_AUTH_CODE_MAX_ATTEMPTS=2)
    state = app.extensions["itms"]
    state.itms.auto_opt_in_policy(lambda account: True)
    state.provider = Witness(app, state.provider)
    with app.app_context():
        yield app


@pytest.fixture(params=["inline", "worker"])
def conversation_app(request: pytest.FixtureRequest, make_app: t.Callable[..., Flask]) -> t.Iterator[Flask]:
    """Inline sends right after each commit; worker mode lets consent change before hand-off."""
    yield from _conversation_app(make_app, request.param)


@pytest.fixture
def worker_app(make_app: t.Callable[..., Flask]) -> t.Iterator[Flask]:
    """Texts wait for ``deliver``, so consent can change between queueing and hand-off."""
    yield from _conversation_app(make_app, "worker")


@pytest.fixture
def inline_app(make_app: t.Callable[..., Flask]) -> t.Iterator[Flask]:
    yield from _conversation_app(make_app, "inline")


#: PostgreSQL round trips cost more; the logic under test is the same on both.
CONVERSATION_EXAMPLES = {"sqlite": 60, "postgresql": 20}


def conversations(database_url: str) -> settings:
    return settings(
        max_examples=CONVERSATION_EXAMPLES[database_url.split(":")[0].split("+")[0]],
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


#: Short runs that reach the deep states quickly; random single actions go in between.
CONVERSATION_RUNS = [
    ["request_opt_in", "in:YES", "right_pin"],
    ["request_opt_in", "in:YES", "wrong_pin", "wrong_pin", "right_pin"],
    ["quick_opt_in", "in:YES"],
    ["link_number", "in:YES"],
    ["in:START", "send"],
    ["send", "in:Please stop texting me", "send", "deliver", "clear_hold", "send"],
]
two_phone_actions = st.lists(
    st.tuples(
        st.booleans(),
        st.one_of(
            st.sampled_from(CONVERSATION_ACTIONS).map(lambda action: [action]), st.sampled_from(CONVERSATION_RUNS)
        ),
    ),
    min_size=1,
    max_size=15,
).map(lambda runs: [(second, action) for second, actions in runs for action in actions])


# -- invariant 1 -----------------------------------------------------------------------------


def test_invariant_1_nothing_is_sent_to_a_number_that_is_not_opted_in_except_what_the_table_allows(
    worker_app: Flask, clock: t.Any, database_url: str
) -> None:
    conversations(database_url)(given(steps=two_phone_actions)(_invariant_1))(worker_app, clock)


def _invariant_1(worker_app: Flask, clock: t.Any, steps: list[tuple[bool, str]]) -> None:
    state = worker_app.extensions["itms"]
    itms, db, witness = state.itms, state.db, state.provider
    pair = [f"+1312300{next(_numbers):04d}", f"+1312300{next(_numbers):04d}"]
    start = len(witness.seen)
    for second, action in steps:
        act(itms, witness.then, clock, pair[second], action)
        db.session.commit()
    itms.deliver_outbox()  # whatever is still queued gets its chance too
    seen = witness.seen[start:]
    assert disallowed(seen) == [], steps


def test_invariant_1_a_text_queued_while_opted_in_is_not_sent_after_an_opt_out(
    conversation_app: Flask, clock: t.Any
) -> None:
    """The sequence the property above must catch if the hand-off gate broke."""
    state = conversation_app.extensions["itms"]
    itms, db, witness = state.itms, state.db, state.provider
    for action in ("in:START", "send", "in:STOP", "deliver", "send", "in:Please stop texting me", "deliver"):
        act(itms, witness.then, clock, PHONE, action)
        db.session.commit()
    expected = [OPTED_IN, "agent", OPTED_OUT] if state.settings.send_mode == "inline" else [OPTED_OUT]
    assert [text["purpose"] for text in witness.seen] == expected
    assert disallowed(witness.seen) == []


# -- invariant 2 -----------------------------------------------------------------------------


def test_invariant_2_an_opt_out_is_committed_before_any_provider_call(app: Flask, itms: ITMS, db: SQLAlchemy) -> None:
    state = app.extensions["itms"]
    witness = state.provider = Witness(app, state.provider)
    for phone in (PHONE, OTHER):
        itms.quick_opt_in(phone)
        db.session.commit()
        text_in(itms, phone, "YES")
        db.session.commit()
    text_in(itms, PHONE, "STOP")
    db.session.commit()
    itms.opt_out(OTHER, actor=ACTOR)
    db.session.commit()
    confirmations = [text for text in witness.seen if text["purpose"] == OPTED_OUT]
    assert [(text["phone"], text["status"], text["opted_out_events"]) for text in confirmations] == [
        (PHONE, "opted_out", 1),
        (OTHER, "opted_out", 1),
    ]


class Outage:
    name = "outage"

    def send(self, text: OutboundText) -> str:
        raise SendError("carrier down")


def test_invariant_2_an_opt_out_survives_a_provider_outage(app: Flask, itms: ITMS, db: SQLAlchemy) -> None:
    itms.quick_opt_in(PHONE)
    db.session.commit()
    text_in(itms, PHONE, "YES")
    db.session.commit()
    app.extensions["itms"].provider = Outage()
    text_in(itms, PHONE, "STOP")
    db.session.commit()
    db.session.remove()  # a new request: only what was committed remains
    assert itms.status(PHONE) is ConsentStatus.OPTED_OUT
    assert [message.status for message in itms.messages(PHONE) if message.purpose == OPTED_OUT] == ["queued"]


def test_invariant_2_a_retried_webhook_has_one_effect_and_one_confirmation(
    app: Flask, itms: ITMS, db: SQLAlchemy, sent: t.Any, record_signal: t.Callable[[t.Any], t.Any]
) -> None:
    itms.quick_opt_in(PHONE)
    db.session.commit()
    text_in(itms, PHONE, "YES")
    db.session.commit()
    opted_out = record_signal(signals.opted_out)
    before = snapshot(db, itms)
    for _ in range(3):  # the carrier retries the same delivery
        text_in(itms, PHONE, "STOP", provider_message_id="mb-retried")
        db.session.commit()
    for number in range(3):  # and the consumer insists
        text_in(itms, PHONE, "STOP", provider_message_id=f"mb-again-{number}")
        db.session.commit()
    after = snapshot(db, itms)
    new_events = after["itms_consent_event"][len(before["itms_consent_event"]) :]
    assert len(new_events) == 1
    assert sent.texts_to(PHONE).count(itms.render(OPTED_OUT, PHONE)) == 1
    assert len(opted_out.calls) == 1
    inbound_ids = [m.provider_message_id for m in itms.messages(PHONE) if m.direction == "inbound"]
    assert inbound_ids.count("mb-retried") == 1


# -- invariant 3 -----------------------------------------------------------------------------

TRANSITIONS: list[tuple[str, str, t.Callable[[ITMS, t.Any], t.Any]]] = [
    ("request_opt_in", "none", lambda itms, sent: itms.request_opt_in(PHONE)),
    ("quick_opt_in", "none", lambda itms, sent: itms.quick_opt_in(PHONE)),
    ("link_number", "none", lambda itms, sent: itms.link_number(PHONE, "ACCT-1")),
    ("auto_opt_in", "none", lambda itms, sent: itms.auto_opt_in(PHONE, account="ACCT-1")),
    ("YES (PIN)", "pending", lambda itms, sent: text_in(itms, PHONE, "YES")),
    ("enter_auth_code", "awaiting_code", lambda itms, sent: itms.enter_auth_code(PHONE, pin_sent_to(sent, PHONE))),
    ("STOP", "awaiting_code", lambda itms, sent: text_in(itms, PHONE, "STOP")),
    ("opt_out", "none", lambda itms, sent: itms.opt_out(PHONE)),
    ("START", "opted_out", lambda itms, sent: text_in(itms, PHONE, "START")),
]


def _prepare(itms: ITMS, db: SQLAlchemy, start: str) -> None:
    if start in ("pending", "awaiting_code"):
        itms.request_opt_in(PHONE)
        db.session.commit()
    if start == "awaiting_code":
        text_in(itms, PHONE, "YES")
        db.session.commit()
    if start == "opted_out":
        itms.opt_out(PHONE)
        db.session.commit()


@pytest.mark.parametrize(("name", "start", "change"), TRANSITIONS, ids=[name for name, _, _ in TRANSITIONS])
def test_invariant_3_a_change_and_its_texts_commit_together_or_not_at_all(
    itms: ITMS, db: SQLAlchemy, sent: t.Any, name: str, start: str, change: t.Callable[[ITMS, t.Any], t.Any]
) -> None:
    itms.auto_opt_in_policy(lambda account: True)
    _prepare(itms, db, start)
    itms.templates()
    db.session.commit()
    before, texts_before = snapshot(db, itms), len(sent.sent)

    change(itms, sent)  # not at all: rolled back
    db.session.rollback()
    assert snapshot(db, itms) == before
    assert len(sent.sent) == texts_before

    change(itms, sent)  # not at all: the commit itself fails
    Template = itms.models.Template
    db.session.add(Template(identifier=OPT_IN, label="dup", body="dup", system=True))  # a unique clash
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert snapshot(db, itms) == before
    assert len(sent.sent) == texts_before

    change(itms, sent)  # together
    db.session.commit()
    after = snapshot(db, itms)
    new_statuses = {row[1]: row[2] for row in after["itms_consent"]}
    new_messages = after["itms_message"][len(before["itms_message"]) :]
    assert new_statuses[PHONE] != {row[1]: row[2] for row in before["itms_consent"]}.get(PHONE, "none")
    assert [row for row in new_messages if row[1] == "outbound"]  # its text is there, committed
    assert len(sent.sent) == texts_before + len([row for row in new_messages if row[1] == "outbound"])


def test_invariant_3_a_failing_signal_receiver_takes_the_texts_down_with_the_change(
    app: Flask, itms: ITMS, db: SQLAlchemy, sent: t.Any
) -> None:
    """Receivers run inside the transaction; when one fails, the host rolls everything back."""

    def crm_update(sender: t.Any, **extra: t.Any) -> None:
        raise RuntimeError("the CRM's own table is locked")

    signals.opt_in_requested.connect(crm_update, app)
    try:
        with pytest.raises(RuntimeError):
            itms.request_opt_in(PHONE)
        db.session.rollback()
    finally:
        signals.opt_in_requested.disconnect(crm_update, app)
    db.session.commit()
    assert itms.status(PHONE) is ConsentStatus.NONE
    assert itms.messages(PHONE) == []
    assert sent.sent == []


# -- invariant 4 -----------------------------------------------------------------------------


def test_invariant_4_every_transition_leaves_an_event_and_events_are_never_edited(
    inline_app: Flask, clock: t.Any, database_url: str
) -> None:
    conversations(database_url)(given(steps=two_phone_actions)(_invariant_4))(inline_app, clock)


def _invariant_4(inline_app: Flask, clock: t.Any, steps: list[tuple[bool, str]]) -> None:
    state = inline_app.extensions["itms"]
    itms, db, witness = state.itms, state.db, state.provider
    pair = [f"+1312300{next(_numbers):04d}", f"+1312300{next(_numbers):04d}"]
    Event = itms.models.ConsentEvent
    history: list[tuple[t.Any, ...]] = []
    for second, action in steps:
        phone = pair[second]
        status_before = itms.status(phone)
        act(itms, witness.then, clock, phone, action)
        db.session.commit()
        with db.engine.connect() as connection:
            rows = [
                tuple(row)
                for row in connection.execute(
                    sa.select(Event.__table__).where(Event.phone.in_(pair)).order_by(Event.id)
                )
            ]
        assert rows[: len(history)] == history, "an event was edited or deleted"
        history = rows
        if itms.status(phone) != status_before:
            last = itms.events(phone)[-1]
            assert (last.from_status, last.to_status) == (status_before, itms.status(phone)), action
    for phone in pair:
        events = itms.events(phone)
        chain = ["none"] + [event.to_status for event in events]
        assert [event.from_status for event in events] == chain[:-1], "a transition left no event"
        assert chain[-1] == itms.status(phone)
        assert all(event.created_at.utcoffset() is not None for event in events)


def test_invariant_4_each_kind_of_transition_leaves_exactly_one_event(
    itms: ITMS, db: SQLAlchemy, sent: t.Any, clock: t.Any
) -> None:
    itms.auto_opt_in_policy(lambda account: True)
    Event = itms.models.ConsentEvent
    steps: list[tuple[str, t.Callable[[], t.Any], str, str]] = [
        ("request_opt_in", lambda: itms.request_opt_in(PHONE, actor=ACTOR), "none", "pending"),
        ("quick_opt_in again", lambda: itms.quick_opt_in(PHONE, actor=ACTOR), "pending", "pending"),
        ("request_opt_in again", lambda: itms.request_opt_in(PHONE, actor=ACTOR), "pending", "pending"),
        ("YES", lambda: text_in(itms, PHONE, "YES"), "pending", "awaiting_code"),
        ("request_opt_in anew", lambda: itms.request_opt_in(PHONE, actor=ACTOR), "awaiting_code", "pending"),
        ("YES again", lambda: text_in(itms, PHONE, "YES"), "pending", "awaiting_code"),
        ("enter_auth_code", lambda: itms.enter_auth_code(PHONE, pin_sent_to(sent, PHONE)), "awaiting_code", "opted_in"),
        ("hold", lambda: text_in(itms, PHONE, "remove me"), "opted_in", "opted_in"),
        ("clear_hold", lambda: itms.clear_hold(PHONE, actor=ACTOR), "opted_in", "opted_in"),
        ("STOP", lambda: text_in(itms, PHONE, "STOP"), "opted_in", "opted_out"),
        ("START", lambda: text_in(itms, PHONE, "START"), "opted_out", "opted_in"),
        ("opt_out", lambda: itms.opt_out(PHONE, actor=ACTOR), "opted_in", "opted_out"),
        ("link_number", lambda: itms.link_number(OTHER, "ACCT-1"), "none", "pending"),
        ("YES to the link", lambda: text_in(itms, OTHER, "YES"), "pending", "opted_in"),
        ("opt_out other", lambda: itms.opt_out(OTHER), "opted_in", "opted_out"),
        ("auto_opt_in", lambda: itms.auto_opt_in("+12125550125", account="ACCT-1"), "none", "opted_in"),
    ]
    history: list[tuple[t.Any, ...]] = []
    for name, step, from_status, to_status in steps:
        clock.advance(minutes=1)
        step()
        db.session.commit()
        with db.engine.connect() as connection:
            rows = [tuple(row) for row in connection.execute(sa.select(Event.__table__).order_by(Event.id))]
        assert rows[: len(history)] == history, f"{name}: an earlier event was edited"
        assert len(rows) == len(history) + 1, f"{name}: one transition, one event"
        event = db.session.get(Event, rows[-1][0])
        assert (event.from_status, event.to_status, event.created_at) == (from_status, to_status, clock.now), name
        history = rows


# -- invariant 5 -----------------------------------------------------------------------------

KEY = "k" * 64
INBOUND = "/itms/messagebird/inbound"


def test_invariant_5_bad_input_gets_a_clear_error_and_changes_nothing(
    make_app: t.Callable[..., Flask], clock: t.Any
) -> None:
    app = make_app(ITMS_MESSAGEBIRD_SIGNING_KEY=KEY, ITMS_AUTH_CODE_MAX_ATTEMPTS=3)
    state = app.extensions["itms"]
    itms, db, sent = state.itms, state.db, state.provider
    itms.auto_opt_in_policy(lambda account: True)
    opted_in, pending, awaiting, opted_out = (f"+1212555{n:04d}" for n in range(1, 5))
    with app.app_context():
        itms.quick_opt_in(opted_in)
        itms.quick_opt_in(pending)
        itms.request_opt_in(awaiting)
        itms.opt_out(opted_out)
        db.session.commit()
        text_in(itms, opted_in, "YES")
        text_in(itms, awaiting, "YES")
        db.session.commit()
        itms.create_template("REMINDER", label="Reminder", body="Hi")
        db.session.commit()
        before, texts_before = snapshot(db, itms), len(sent.sent)

        bad_calls: list[tuple[str, t.Callable[[], t.Any]]] = [
            ("malformed number", lambda: itms.request_opt_in("555-CALL-NOW")),
            ("malformed number", lambda: itms.opt_out("+1 (212)")),
            ("malformed number", lambda: itms.send("0", "hi")),
            ("wrong state", lambda: itms.request_opt_in(opted_in)),
            ("wrong state", lambda: itms.quick_opt_in(opted_out)),
            ("wrong state", lambda: itms.link_number(pending, "ACCT-2")),
            ("wrong state", lambda: itms.auto_opt_in(opted_out, account="ACCT-2")),
            ("wrong state", lambda: itms.enter_auth_code(pending, "123456")),
            ("wrong state", lambda: itms.enter_auth_code("+12125559999", "123456")),
            ("wrong state", lambda: itms.clear_hold(opted_in)),
            ("wrong state", lambda: itms.clear_hold("+12125559998")),
            ("wrong state", lambda: itms.opt_out(opted_out)),
            ("wrong state", lambda: itms.send(pending, "hi")),
            ("system template", lambda: itms.send(opted_in, template=HELP)),
            ("system template", lambda: itms.delete_template(OPT_IN)),
            ("unknown template", lambda: itms.send(opted_in, template="NO_SUCH")),
            ("unknown placeholder", lambda: itms.update_template("REMINDER", body="Hi ${nobody}")),
            ("unknown field", lambda: itms.update_template("REMINDER", colour="red")),
            ("unknown field", lambda: itms.request_opt_in(pending, campaign="spring")),
        ]
        for reason, call in bad_calls:
            with pytest.raises((ITMSError, ValueError, TypeError)) as caught:
                call()
            assert str(caught.value), reason  # a clear error says what was wrong
            db.session.commit()  # even committed, it changed nothing
            assert snapshot(db, itms) == before, reason
        assert len(sent.sent) == texts_before

        # A wrong PIN changes nothing but the count of tries.
        with pytest.raises(InvalidAuthCode, match="tries left"):
            itms.enter_auth_code(awaiting, "not the pin")
        db.session.commit()
        after = snapshot(db, itms)
        attempts = itms.models.Consent.__table__.columns.keys().index("auth_code_attempts")
        changed = [
            (old, new) for old, new in zip(before["itms_consent"], after["itms_consent"], strict=True) if old != new
        ]
        assert len(changed) == 1
        old, new = changed[0]
        assert [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b] == [attempts]
        assert {key: rows for key, rows in after.items() if key != "itms_consent"} == {
            key: rows for key, rows in before.items() if key != "itms_consent"
        }
        before = after

    # Bad webhook requests: an unsigned or badly signed request, a missing field, an oversized body.
    client = app.test_client()
    signer = MessageBirdSigner(KEY)
    stop = urlencode({"originator": opted_in[1:], "recipient": "18005550100", "payload": "STOP", "id": "mb-9"})
    url = f"http://localhost{INBOUND}?{stop}"
    answers = [
        client.get(INBOUND, query_string=stop),
        client.get(INBOUND, query_string=stop, headers=MessageBirdSigner("wrong" * 13).headers(url)),
        client.get(INBOUND, query_string=stop, headers=signer.headers(url.replace("mb-9", "mb-8"))),
    ]
    assert [answer.status_code for answer in answers] == [401, 401, 401]
    missing = urlencode({"originator": opted_in[1:], "payload": "STOP", "id": "mb-10"})
    answer = client.get(INBOUND, query_string=missing, headers=signer.headers(f"http://localhost{INBOUND}?{missing}"))
    assert answer.status_code == 400
    assert "recipient" in json.dumps(answer.get_json())
    huge = json.dumps({"originator": opted_in[1:], "recipient": "1", "payload": "STOP" + "!" * 100_000}).encode()
    answer = client.post(
        INBOUND,
        data=huge,
        content_type="application/json",
        headers=signer.headers(f"http://localhost{INBOUND}", huge),
    )
    assert answer.status_code == 413
    with app.app_context():
        assert snapshot(db, itms) == before
        assert itms.status(opted_in) is ConsentStatus.OPTED_IN
    assert len(sent.sent) == texts_before
