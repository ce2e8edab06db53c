"""Fault injection through real gunicorn workers, the real MessageBird SDK and its loopback stub.

The provider fails while a consumer opts out: the opt-out is committed before any
provider call, the carrier's retry of the STOP changes nothing, and the one confirmation
goes out once the provider is back, by ``itms.deliver_outbox()`` or by ``flask itms
worker``. A gunicorn worker is killed with SIGKILL in the middle of handing the
confirmation over: nothing is lost, the text goes out after its lease expires.

(``flask itms worker`` processes killed mid-batch are covered by
``test_outbox_workers.py::test_a_worker_killed_mid_batch_loses_nothing``.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import typing as t
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from messagebird_signer import MessageBirdSigner
from messagebird_stub import StubMessageBird
from soak_wsgi import ROOT, TESTS, serve, soak_config, worker_pids

pytestmark = pytest.mark.slow

KEY = "s" * 64
SIGNER = MessageBirdSigner(KEY)
INBOUND = "/itms/messagebird/inbound"
PHONE = "+12015550123"
OPTED_OUT = "ACE_SYSTEM_MSG_OPTED_OUT"


@pytest.fixture
def stub() -> t.Iterator[StubMessageBird]:
    with StubMessageBird(hang=1.6) as stub:  # a "timeout" answers after the 1 s read timeout
        yield stub


@pytest.fixture
def served(
    make_app: t.Callable[..., Flask], database_url: str, tmp_path: Path, stub: StubMessageBird
) -> t.Iterator[tuple[Flask, str, subprocess.Popen[bytes]]]:
    """The tables, a test-process app on the real clock, and gunicorn serving the same database."""
    app = make_app(**soak_config(database_url, KEY, stub.url), ITMS_CLOCK=None)
    with serve(database_url, KEY, stub.url, tmp_path / "gunicorn.log", workers=2) as (base, process):
        yield app, base, process


def inbound(base: str, text: str, message_id: str, *, timeout: float = 30) -> requests.Response:
    """One signed delivery of an inbound text, as MessageBird makes each attempt."""
    body = urlencode({"originator": PHONE.lstrip("+"), "recipient": "13125550100", "payload": text, "id": message_id})
    url = base + INBOUND
    headers = {**SIGNER.headers(url, body.encode()), "Content-Type": "application/x-www-form-urlencoded"}
    return requests.post(url, data=body, headers=headers, timeout=timeout)


def opted_in(app: Flask, base: str) -> None:
    state = app.extensions["itms"]
    with app.app_context():
        state.itms.quick_opt_in(PHONE)
        state.db.session.commit()
    assert inbound(base, "YES", "mb-yes").json() == {"result": "stored"}
    with app.app_context():
        assert state.itms.status(PHONE) == "opted_in"


def confirmations(app: Flask) -> list[t.Any]:
    state = app.extensions["itms"]
    Message = state.models.Message
    with app.app_context(), state.db.engine.connect() as connection:
        query = sa.select(Message).where(Message.phone == PHONE, Message.purpose == OPTED_OUT).order_by(Message.id)
        return list(connection.execute(query))


def consent_state(app: Flask) -> tuple[str, int]:
    state = app.extensions["itms"]
    with app.app_context():
        state.db.session.remove()
        return str(state.itms.status(PHONE)), len(state.itms.events(PHONE))


def wait_for(condition: t.Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def run_worker(database_url: str, endpoint: str) -> str:
    """``flask itms worker --once`` against the same database and stub."""
    env = {
        **os.environ,
        "ITMS_SOAK_DATABASE_URL": database_url,
        "ITMS_SOAK_SIGNING_KEY": KEY,
        "ITMS_SOAK_MESSAGEBIRD_ENDPOINT": endpoint,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)]),
    }
    command = [sys.executable, "-m", "flask", "--app", "soak_wsgi:create_app", "itms", "worker", "--once"]
    done = subprocess.run(command, cwd=TESTS, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stderr


@pytest.mark.parametrize(
    ("outage", "recovery"),
    [("error500", "deliver_outbox"), ("timeout", "worker")],
    ids=["500-then-deliver_outbox", "timeout-then-worker"],
)
def test_provider_down_during_an_opt_out(
    served: tuple[Flask, str, t.Any], stub: StubMessageBird, database_url: str, outage: str, recovery: str
) -> None:
    app, base, _process = served
    opted_in(app, base)
    status_before, events_before = consent_state(app)
    stub.default = outage

    answer = inbound(base, "STOP", "mb-stop")
    assert (answer.status_code, answer.json()) == (200, {"result": "stored"})
    assert consent_state(app) == ("opted_out", events_before + 1)  # committed before the provider call
    [queued] = confirmations(app)
    assert (queued.status, queued.attempts) == ("queued", 1)
    assert queued.error  # why it is still queued
    assert stub.references()[str(queued.id)] == 1

    retry = inbound(base, "STOP", "mb-stop")  # the carrier retries; the provider is still down
    assert (retry.status_code, retry.json()) == (200, {"result": "duplicate"})
    assert len(confirmations(app)) == 1
    assert stub.references()[str(queued.id)] == 1

    stub.default = "ok"  # the provider is back
    wait_for(lambda: confirmations(app)[0].send_after.timestamp() < time.time())
    if recovery == "worker":
        assert "processed 1 queued text" in run_worker(database_url, stub.url)
    else:
        state = app.extensions["itms"]
        with app.app_context():
            assert state.itms.deliver_outbox() == 1
    [sent] = confirmations(app)
    assert (sent.id, sent.status, sent.attempts) == (queued.id, "sent", 2)
    assert stub.references()[str(sent.id)] == 2  # the failed try and the one that went through
    with app.app_context():
        assert app.extensions["itms"].itms.deliver_outbox() == 0  # nothing left, nothing sent twice
    assert consent_state(app) == ("opted_out", events_before + 1)
    assert status_before == "opted_in"


def test_a_gunicorn_worker_killed_mid_send_loses_nothing(
    served: tuple[Flask, str, subprocess.Popen[bytes]], stub: StubMessageBird
) -> None:
    app, base, process = served
    opted_in(app, base)
    _status, events_before = consent_state(app)
    stub.delay = 0.8  # the carrier is slow: the worker is still waiting when it dies
    handed_over = stub.count()
    answers: list[t.Any] = []

    def consumer_stops() -> None:
        try:
            answers.append(inbound(base, "STOP", "mb-stop", timeout=10))
        except requests.RequestException as error:
            answers.append(error)

    sender = threading.Thread(target=consumer_stops)
    sender.start()
    wait_for(lambda: stub.count() > handed_over)  # the confirmation is on its way to the carrier
    for pid in worker_pids(process):
        os.kill(pid, signal.SIGKILL)
    sender.join(timeout=30)
    assert isinstance(answers[0], requests.RequestException)  # the carrier got no answer
    stub.delay = 0.0

    # The opt-out was committed before the hand-off began.
    assert consent_state(app) == ("opted_out", events_before + 1)
    [claimed] = confirmations(app)
    assert claimed.status == "sending"  # claimed by the dead worker, until its lease ends

    wait_for(lambda: len(worker_pids(process)) == 2)  # gunicorn replaced the workers
    retry = inbound(base, "STOP", "mb-stop")  # the carrier retries the webhook
    assert (retry.status_code, retry.json()) == (200, {"result": "duplicate"})

    state = app.extensions["itms"]
    with app.app_context():
        assert state.itms.deliver_outbox() == 0  # the lease still holds
    wait_for(lambda: confirmations(app)[0].claimed_until.timestamp() < time.time())
    with app.app_context():
        assert state.itms.deliver_outbox() == 1
    [sent] = confirmations(app)
    assert (sent.id, sent.status) == (claimed.id, "sent")
    # Handed over again after the lease: at least once, never lost.
    assert stub.references()[str(sent.id)] == 2
    assert consent_state(app) == ("opted_out", events_before + 1)
