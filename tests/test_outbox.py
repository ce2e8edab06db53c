"""The outbox under failure: outages, consent that changes before hand-off, and lost leases."""

from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa
from conftest import Clock, Recorder
from flask import Flask
from messagebird_stub import StubMessageBird
from sqlalchemy.orm import Session

from flask_itms import ITMS, outbox, signals

PHONE = "+12015550123"
OUR_NUMBER = "+18005550199"


@pytest.fixture
def stub() -> t.Iterator[StubMessageBird]:
    with StubMessageBird() as server:
        yield server


@pytest.fixture
def bird(make_app: t.Callable[..., Flask], stub: StubMessageBird) -> t.Iterator[Flask]:
    """An app sending through MessageBird (the loopback stub), allowed three tries per text."""
    app = make_app(
        ITMS_PROVIDER="messagebird",
        ITMS_MESSAGEBIRD_ACCESS_KEY="live_stubkey",
        ITMS_ORIGINATOR=OUR_NUMBER,
        ITMS_MESSAGEBIRD_ENDPOINT=stub.url,
        ITMS_MESSAGEBIRD_TIMEOUT=(0.5, 0.5),
        ITMS_SEND_MAX_ATTEMPTS=3,
    )
    with app.app_context():
        yield app


def opt_in(itms: ITMS, db: t.Any) -> None:
    itms.quick_opt_in(PHONE, account="ACCT-1")
    db.session.commit()
    itms.handle_inbound(PHONE, OUR_NUMBER, "YES", provider_message_id="in-yes")
    db.session.commit()


def committed_status(app: Flask) -> str:
    """The status as another connection sees it: what is committed, not the session's view."""
    db = app.extensions["itms"].db
    with db.engine.connect() as connection:
        return str(
            connection.execute(sa.text("SELECT status FROM itms_consent WHERE phone = :p"), {"p": PHONE}).scalar()
        )


def run_worker(app: Flask) -> None:
    db = app.extensions["itms"].db
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["itms", "worker", "--once"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()


def confirmation(itms: ITMS) -> t.Any:
    (message,) = [m for m in itms.messages(PHONE) if m.template == "ACE_SYSTEM_MSG_OPTED_OUT"]
    return message


# -- a provider outage ------------------------------------------------------------------------


def test_an_outage_neither_blocks_nor_undoes_an_opt_out(bird: Flask, stub: StubMessageBird, clock: Clock) -> None:
    state = bird.extensions["itms"]
    itms, db = state.itms, state.db
    opt_in(itms, db)
    stub.default = "error500"

    itms.handle_inbound(PHONE, OUR_NUMBER, "STOP", provider_message_id="in-stop")
    db.session.commit()  # the inline send fails after this commit

    assert committed_status(bird) == "opted_out"
    assert not itms.can_text(PHONE)
    message = confirmation(itms)
    assert (message.status, message.attempts) == ("queued", 1)
    assert "HTTP 500" in message.error

    # The outage ends; the worker sends the one confirmation.
    stub.default = "ok"
    clock.advance(minutes=10)
    run_worker(bird)
    db.session.refresh(message)
    assert message.status == "sent"
    assert stub.references()[str(message.id)] == 2  # the failed try and the good one
    assert committed_status(bird) == "opted_out"


def test_a_confirmation_is_retried_until_dead(bird: Flask, stub: StubMessageBird, clock: Clock) -> None:
    state = bird.extensions["itms"]
    itms, db = state.itms, state.db
    opt_in(itms, db)
    failed = Recorder()
    stub.default = "error500"
    with signals.message_failed.connected_to(failed, bird):
        itms.opt_out(PHONE, actor="agent:alice")
        db.session.commit()
        for _ in range(5):
            clock.advance(hours=1)
            run_worker(bird)
    message = confirmation(itms)
    assert (message.status, message.attempts) == ("failed", 3)
    assert stub.references()[str(message.id)] == 3  # ITMS_SEND_MAX_ATTEMPTS, then no more
    assert [call["message"].id for call in failed.calls] == [message.id]
    assert committed_status(bird) == "opted_out"  # the opt-out stands whatever the texts do


def test_an_outage_does_not_block_an_opt_in_request(bird: Flask, stub: StubMessageBird) -> None:
    state = bird.extensions["itms"]
    stub.default = "timeout"
    state.itms.request_opt_in(PHONE, actor="agent:alice")
    state.db.session.commit()
    assert committed_status(bird) == "pending"
    assert state.itms.messages(PHONE)[0].status == "queued"


# -- consent is checked again at hand-off -----------------------------------------------------


def test_a_queued_text_to_a_number_that_opted_out_is_never_sent(make_app: t.Callable[..., Flask], clock: Clock) -> None:
    app = make_app(ITMS_SEND_MODE="worker")
    with app.app_context():
        state = app.extensions["itms"]
        itms, db = state.itms, state.db
        opt_in(itms, db)
        run_worker(app)
        text = itms.send(PHONE, "Your statement is ready.", actor="agent:alice")
        db.session.commit()
        itms.handle_inbound(PHONE, OUR_NUMBER, "STOP", provider_message_id="in-stop")
        db.session.commit()

        run_worker(app)
        db.session.refresh(text)
        assert text.status == "cancelled"
        assert "opted_out" in text.error
        assert "Your statement is ready." not in " ".join(state.provider.texts_to(PHONE))
        assert confirmation(itms).status == "sent"


# -- claims, leases and fencing -----------------------------------------------------------------


def queue_texts(app: Flask, count: int) -> list[int]:
    """Opt in (sending those system texts), then queue ``count`` texts for the worker."""
    state = app.extensions["itms"]
    itms, db = state.itms, state.db
    opt_in(itms, db)
    run_worker(app)
    state.provider.sent.clear()
    ids = [itms.send(PHONE, f"Text {n}. Reply STOP to opt out.").id for n in range(count)]
    db.session.commit()
    return ids


def test_a_worker_whose_lease_ran_out_does_not_send_again(make_app: t.Callable[..., Flask], clock: Clock) -> None:
    app = make_app(ITMS_SEND_MODE="worker", ITMS_SEND_LEASE=60)
    with app.app_context():
        state = app.extensions["itms"]
        ids = queue_texts(app, 2)
        bind = state.db.engine
        with Session(bind=bind, expire_on_commit=False) as slow:
            # A worker claims both texts, then stalls (a GC pause, a frozen VM) past its lease...
            claimed = outbox._claim(state, slow, None, 10)
            assert [message.id for message in claimed] == ids
            clock.advance(seconds=61)
            # ...so another worker takes them over and sends them.
            assert state.itms.deliver_outbox() == 2
            before = list(state.provider.sent)
            # The stalled worker wakes up: its claims are stale and it sends nothing.
            for message in claimed:
                outbox._hand_off(state, slow, message)
        assert state.provider.sent == before
        assert [state.provider.sent.count(text) for text in before] == [1] * len(before)


def test_a_stopping_worker_gives_its_batch_back(make_app: t.Callable[..., Flask]) -> None:
    app = make_app(ITMS_SEND_MODE="worker")
    with app.app_context():
        state = app.extensions["itms"]
        ids = queue_texts(app, 5)
        assert outbox.deliver(state, limit=10, stop=lambda: len(state.provider.sent) >= 2) == 5
        assert [text.message_id for text in state.provider.sent] == ids[:2]
        Message = state.models.Message
        state.db.session.expire_all()
        left = state.db.session.scalars(sa.select(Message).where(Message.id.in_(ids[2:]))).all()
        assert [(m.status, m.attempts, m.claimed_until) for m in left] == [("queued", 0, None)] * 3
        # The next worker sends them at once: nothing waits for a lease.
        run_worker(app)
        assert [text.message_id for text in state.provider.sent] == ids
