"""Real concurrency on PostgreSQL: two sessions, two threads, one number.

Each thread has its own app context, so its own session and connection; a barrier makes
them start together, and the first to take the consent row's lock holds it a moment so
the other really waits on it. (``textable`` and concurrent system-template creation run
on both databases, in test_consent.py and test_templates_store.py.)
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
import typing as t

import pytest
from conftest import POSTGRES_URL, pin_sent_to, text_in
from flask import Flask

from flask_itms import ConsentStatus, InvalidTransition
from flask_itms.messages import OPTED_OUT

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="set ITMS_TEST_DATABASE_URL to a PostgreSQL database"),
]

_numbers = itertools.count()


@pytest.fixture
def database_url() -> str:
    """These tests need row locks between connections: PostgreSQL only."""
    assert POSTGRES_URL is not None
    return POSTGRES_URL


def fresh_phone() -> str:
    return f"+1415555{next(_numbers):04d}"


def race(app: Flask, *jobs: t.Callable[[], t.Any], hold: float = 0.03) -> list[BaseException | None]:
    """Run each job in its own thread and session, all at once; each commits after ``hold``.

    Returns what each job raised (``None`` when it committed).
    """
    db = app.extensions["itms"].db
    barrier = threading.Barrier(len(jobs))
    outcomes: list[BaseException | None] = [None] * len(jobs)

    def run(index: int, job: t.Callable[[], t.Any]) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                job()
                time.sleep(hold)  # keep the row locked while the other session waits for it
                db.session.commit()
            except BaseException as error:
                db.session.rollback()
                outcomes[index] = error

    threads = [threading.Thread(target=run, args=(index, job)) for index, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a session is stuck: a deadlock?"
    return outcomes


def opted_in(app: Flask, phone: str) -> None:
    state = app.extensions["itms"]
    with app.app_context():
        state.itms.quick_opt_in(phone)
        state.db.session.commit()
        text_in(state.itms, phone, "YES")
        state.db.session.commit()
        assert state.itms.status(phone) is ConsentStatus.OPTED_IN


OPT_OUTS: dict[str, tuple[t.Callable[[t.Any, str], t.Any], t.Callable[[t.Any, str], t.Any]]] = {
    "agent and agent": (lambda itms, phone: itms.opt_out(phone), lambda itms, phone: itms.opt_out(phone)),
    "two STOPs": (lambda itms, phone: text_in(itms, phone, "STOP"), lambda itms, phone: text_in(itms, phone, "stop")),
    "one STOP delivered twice": (
        lambda itms, phone: text_in(itms, phone, "STOP", provider_message_id=f"dup-{phone}"),
        lambda itms, phone: text_in(itms, phone, "STOP", provider_message_id=f"dup-{phone}"),
    ),
    "agent and STOP": (lambda itms, phone: itms.opt_out(phone), lambda itms, phone: text_in(itms, phone, "STOP")),
}


@pytest.mark.parametrize("kind", list(OPT_OUTS))
@pytest.mark.parametrize("start", ["opted_in", "none"])
def test_two_sessions_opting_out_one_number_make_one_event_and_one_confirmation(
    make_app: t.Callable[..., Flask], kind: str, start: str
) -> None:
    app = make_app()
    state = app.extensions["itms"]
    itms, db, sent = state.itms, state.db, state.provider
    first, second = OPT_OUTS[kind]
    for _ in range(3):
        phone = fresh_phone()
        if start == "opted_in":
            opted_in(app, phone)
        outcomes = race(app, functools.partial(first, itms, phone), functools.partial(second, itms, phone))
        # Only an agent's second opt-out may be refused ("already opted out"); nothing else fails.
        assert all(outcome is None or isinstance(outcome, InvalidTransition) for outcome in outcomes), outcomes
        with app.app_context():
            assert itms.status(phone) is ConsentStatus.OPTED_OUT
            events = [event for event in itms.events(phone) if event.to_status == "opted_out"]
            assert len(events) == 1, kind
            assert sent.texts_to(phone).count(itms.render(OPTED_OUT, phone)) == 1, kind
            confirmations = [m for m in itms.messages(phone) if m.purpose == OPTED_OUT]
            assert len(confirmations) == 1
            inbound = [m for m in itms.messages(phone) if m.direction == "inbound" and m.body.lower() == "stop"]
            expected_inbound = {"agent and agent": 0, "two STOPs": 2, "one STOP delivered twice": 1}.get(kind, 1)
            assert len(inbound) == expected_inbound
            db.session.remove()


def read_then_text(itms: t.Any, phone: str, body: str) -> None:
    shown = itms.consent(phone)  # the host keeps the record it showed, so the session has it
    assert shown.status == "pending"
    time.sleep(0.01)  # both sessions have read it before either takes the lock
    text_in(itms, phone, body)
    assert itms.consent(phone) is shown


@pytest.mark.parametrize("method", ["agent", "quick", "supervisor"])
def test_yes_and_stop_racing_never_end_opted_in(make_app: t.Callable[..., Flask], method: str) -> None:
    """Both lock the consent row and read it again once they hold the lock.

    YES first: pending -> opted_in (or awaiting_code), then STOP -> opted_out.
    STOP first: opted_out, then YES finds no live request and changes nothing.
    Only a YES acting on a stale "pending" read could end opted in.
    """
    app = make_app()
    state = app.extensions["itms"]
    itms, db, sent = state.itms, state.db, state.provider
    start = {
        "agent": lambda phone: itms.request_opt_in(phone),
        "quick": lambda phone: itms.quick_opt_in(phone),
        "supervisor": lambda phone: itms.link_number(phone, "ACCT-1"),
    }[method]
    orders: set[str] = set()
    for round_number in range(10):
        phone = fresh_phone()
        with app.app_context():
            start(phone)
            db.session.commit()
        # Like a host that shows the status before acting, each session has read "pending".
        jobs = [
            functools.partial(read_then_text, itms, phone, "YES"),
            functools.partial(read_then_text, itms, phone, "STOP"),
        ]
        if round_number % 2:
            jobs.reverse()
        assert race(app, *jobs) == [None, None]
        with app.app_context():
            assert itms.status(phone) is ConsentStatus.OPTED_OUT, f"round {round_number}"
            assert not itms.can_text(phone)
            events = itms.events(phone)
            chain = [(event.from_status, event.to_status) for event in events]
            assert chain[-1][1] == "opted_out"
            assert all(previous[1] == following[0] for previous, following in itertools.pairwise(chain))
            assert sent.texts_to(phone).count(itms.render(OPTED_OUT, phone)) == 1
            orders.add("yes first" if len(events) == 3 else "stop first")
            db.session.remove()
    assert orders  # at least one order happened; usually both do


def test_a_pin_entered_while_the_consumer_texts_stop_never_ends_opted_in(make_app: t.Callable[..., Flask]) -> None:
    app = make_app()
    state = app.extensions["itms"]
    itms, db, sent = state.itms, state.db, state.provider
    for round_number in range(6):
        phone = fresh_phone()
        with app.app_context():
            itms.request_opt_in(phone)
            db.session.commit()
            text_in(itms, phone, "YES")
            db.session.commit()
            pin = pin_sent_to(sent, phone)
        jobs = [functools.partial(itms.enter_auth_code, phone, pin), functools.partial(text_in, itms, phone, "STOP")]
        if round_number % 2:
            jobs.reverse()
        outcomes = race(app, *jobs)
        assert all(outcome is None or isinstance(outcome, InvalidTransition) for outcome in outcomes), outcomes
        with app.app_context():
            assert itms.status(phone) is ConsentStatus.OPTED_OUT
            assert sent.texts_to(phone).count(itms.render(OPTED_OUT, phone)) == 1
            db.session.remove()
