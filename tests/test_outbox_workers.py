"""Real ``flask itms worker`` processes on PostgreSQL, sending through the SDK to the stub.

Nothing sent twice: 4 workers and 1,000 texts, each handed over exactly once. Nothing
lost: a worker killed mid-batch leaves its claims to the next one after the lease, and a
worker frozen past its lease does not send what another worker took over.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import typing as t
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import NOON_EASTERN, POSTGRES_URL
from flask import Flask
from messagebird_stub import StubMessageBird

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TESTS = Path(__file__).parent
LEASE = 3.0  # seconds; longer than the workers' 1 s + 1 s MessageBird timeouts


@pytest.fixture
def database_url() -> str:
    """These tests need row locks and several processes: PostgreSQL only."""
    if POSTGRES_URL is None:
        pytest.skip("needs ITMS_TEST_DATABASE_URL (PostgreSQL)")
    return POSTGRES_URL


@pytest.fixture
def app(make_app: t.Callable[..., Flask]) -> t.Iterator[Flask]:
    app = make_app(ITMS_SEND_MODE="worker")
    with app.app_context():
        yield app


def queue(app: Flask, count: int) -> list[int]:
    """Queue ``count`` texts to as many opted-in numbers, in bulk."""
    state = app.extensions["itms"]
    Consent, Message = state.models.Consent, state.models.Message
    phones = [f"+1201555{n:04d}" for n in range(count)]
    session = state.db.session
    now = NOON_EASTERN  # before the workers' real clock: due at once
    session.execute(
        sa.insert(Consent),
        [
            {"phone": p, "status": "opted_in", "method": "auto", "on_hold": False, "auth_code_attempts": 0}
            | {"created_at": now, "updated_at": now}
            for p in phones
        ],
    )
    session.execute(
        sa.insert(Message),
        [
            {"direction": "outbound", "phone": p, "body": f"Text {n}. Reply STOP to opt out.", "purpose": "host"}
            | {"status": "queued", "attempts": 0, "send_after": now, "created_at": now}
            for n, p in enumerate(phones)
        ],
    )
    session.commit()
    return list(session.scalars(sa.select(Message.id).order_by(Message.id)))


def statuses(app: Flask) -> dict[str, int]:
    state = app.extensions["itms"]
    Message = state.models.Message
    with state.db.engine.connect() as connection:
        rows = connection.execute(sa.select(Message.status, sa.func.count()).group_by(Message.status))
        return {str(status): int(count) for status, count in rows}


Spawn = t.Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def worker() -> t.Iterator[Spawn]:
    """Start ``flask itms worker`` processes; any still running when the test ends is killed,
    so a failed test never leaves a worker polling the next test's database."""
    started: list[subprocess.Popen[str]] = []

    def spawn(stub: StubMessageBird, *args: str) -> subprocess.Popen[str]:
        assert POSTGRES_URL is not None
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)]),
            "ITMS_WORKER_TEST_DATABASE_URL": POSTGRES_URL,
            "ITMS_WORKER_TEST_ENDPOINT": stub.url,
            "ITMS_WORKER_TEST_LEASE": str(LEASE),
        }
        command = [sys.executable, "-m", "flask", "--app", "worker_app:create_app", "itms", "worker", *args]
        process = subprocess.Popen(
            command, cwd=TESTS, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        started.append(process)
        return process

    yield spawn
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
        process.communicate(timeout=10)


def finish(process: subprocess.Popen[str], timeout: float = 60) -> str:
    _out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return err


def wait_for(condition: t.Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def processed(log: str) -> int:
    return int(log.rsplit("processed ", 1)[1].split()[0])


def test_four_workers_hand_each_text_over_exactly_once(app: Flask, worker: Spawn) -> None:
    ids = queue(app, 1000)
    with StubMessageBird() as stub:
        workers = [worker(stub, "--once", "--batch", "25") for _ in range(4)]
        logs = [finish(process) for process in workers]
        handed = stub.references()

    assert statuses(app) == {"sent": 1000}
    assert set(handed) == {str(message_id) for message_id in ids}
    assert set(handed.values()) == {1}
    assert sum(processed(log) for log in logs) == 1000
    assert sum(processed(log) > 0 for log in logs) >= 2  # they really shared the work
    Message = app.extensions["itms"].models.Message
    provider_ids = app.extensions["itms"].db.session.scalars(sa.select(Message.provider_message_id)).all()
    assert len(set(provider_ids)) == 1000


def test_a_worker_killed_mid_batch_loses_nothing(app: Flask, worker: Spawn) -> None:
    ids = queue(app, 200)
    with StubMessageBird(delay=0.02) as stub:
        doomed = worker(stub, "--batch", "100", "--interval", "0.2")
        wait_for(lambda: stub.count() >= 20)
        doomed.send_signal(signal.SIGKILL)
        doomed.communicate(timeout=10)
        stranded = statuses(app).get("sending", 0)
        assert stranded > 0  # it died holding claimed, unsent texts

        killed_at = time.monotonic()
        rescuer = worker(stub, "--batch", "100", "--interval", "0.2")
        wait_for(lambda: statuses(app) == {"sent": 200})
        assert time.monotonic() - killed_at > LEASE - 0.5  # the stranded texts waited for their lease
        rescuer.send_signal(signal.SIGTERM)  # stops cleanly
        assert "processed" in finish(rescuer, timeout=10)
        handed = stub.references()

    assert set(handed) == {str(message_id) for message_id in ids}
    # Only the text in flight at the kill can go twice: its answer was never recorded.
    assert sum(count - 1 for count in handed.values()) <= 1


def test_a_worker_frozen_past_its_lease_does_not_send_again(app: Flask, worker: Spawn) -> None:
    ids = queue(app, 60)
    with StubMessageBird(delay=0.05) as stub:
        frozen = worker(stub, "--once", "--batch", "60")
        wait_for(lambda: stub.count() >= 10)
        frozen.send_signal(signal.SIGSTOP)
        time.sleep(LEASE + 0.5)
        finish(worker(stub, "--once", "--batch", "60"))  # takes over the expired claims
        assert statuses(app) == {"sent": 60}
        frozen.send_signal(signal.SIGCONT)
        finish(frozen)
        handed = stub.references()

    assert set(handed) == {str(message_id) for message_id in ids}
    # Without the fencing token the thawed worker would send its ~50 claimed texts again.
    assert sum(count - 1 for count in handed.values()) <= 1


def test_the_test_clock_is_before_now() -> None:
    """The queued rows use the fixture clock; the worker processes use the real one."""
    assert datetime.now(NOON_EASTERN.tzinfo) > NOON_EASTERN
