"""The webhooks under a real gunicorn, four workers on loopback, on SQLite and PostgreSQL.

Carriers retry and burst. Here 32 concurrent copies of one STOP and 60 different numbers
sending STOP at once go through real HTTP, real worker processes and a real database:
every request must get a 200, and the database must hold exactly one effect per text.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from messagebird_signer import MessageBirdSigner

TESTS = Path(__file__).parent
ROOT = TESTS.parent
KEY = "g" * 64
SIGNER = MessageBirdSigner(KEY)
WORKERS = 4
INBOUND = "/itms/messagebird/inbound"
STATUS = "/itms/messagebird/status"

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def gunicorn(database_url: str, log_path: Path) -> t.Iterator[str]:
    """Serve ``tests/webhook_wsgi.py`` with gunicorn on a free loopback port; always stopped."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))  # the port is ours before gunicorn starts: no race for it
    listener.listen(128)
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    env = {
        **os.environ,
        "ITMS_WSGI_DATABASE_URL": database_url,
        "ITMS_WSGI_SIGNING_KEY": KEY,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)]),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        f"--workers={WORKERS}",
        f"--bind=fd://{listener.fileno()}",
        "--preload",
        "--timeout=60",
        "--graceful-timeout=5",
        "--log-level=warning",
        "webhook_wsgi:app",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, pass_fds=[listener.fileno()], stdout=log, stderr=subprocess.STDOUT
        )
    listener.close()
    try:
        _wait_until_serving(base, process, log_path)
        yield base
    finally:
        process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown: nothing is in flight
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(base: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if requests.get(base + INBOUND, timeout=5).status_code == 401:  # unsigned: the app answers
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    pytest.fail(f"gunicorn did not answer within 30 s:\n{log_path.read_text()}")


def fire_at_once(requests_to_send: list[t.Callable[[], requests.Response]]) -> list[requests.Response]:
    """Send every request from its own thread, released together."""
    start = threading.Barrier(len(requests_to_send))

    def send(request: t.Callable[[], requests.Response]) -> requests.Response:
        start.wait()
        return request()

    with ThreadPoolExecutor(max_workers=len(requests_to_send)) as pool:
        return list(pool.map(send, requests_to_send))


def workers(responses: list[requests.Response]) -> set[str]:
    """The gunicorn worker processes that answered."""
    return {response.headers["X-Worker-Pid"] for response in responses}


def signed_get(base: str, path: str, query: str) -> t.Callable[[], requests.Response]:
    """A GET signed at send time with a fresh token, as MessageBird signs each delivery."""
    url = f"{base}{path}?{query}"
    return lambda: requests.get(url, headers=SIGNER.headers(url), timeout=60)


def stop_from(msisdn: str, message_id: str) -> str:
    fields = {"originator": msisdn, "recipient": "13125550100", "payload": "STOP", "id": message_id}
    return urlencode({**fields, "createdDatetime": "2026-06-02T16:00:00+00:00"})


@pytest.fixture
def served(make_app: t.Callable[..., Flask], database_url: str, tmp_path: Path) -> t.Iterator[tuple[Flask, str]]:
    """The tables made by a test-process app, and gunicorn serving the same database."""
    app = make_app(ITMS_MESSAGEBIRD_SIGNING_KEY=KEY)
    with gunicorn(database_url, tmp_path / "gunicorn.log") as base:
        yield app, base


def count(app: Flask, model_name: str, *where: t.Any) -> int:
    state = app.extensions["itms"]
    model = getattr(state.models, model_name)
    with app.app_context():
        query = sa.select(sa.func.count()).select_from(model)
        return int(state.session.scalar(query.where(*where) if where else query))


def test_32_concurrent_copies_of_one_stop_have_one_effect(served: tuple[Flask, str]) -> None:
    app, base = served
    responses = fire_at_once([signed_get(base, INBOUND, stop_from("12015550123", "mb-dup"))] * 32)
    assert [response.status_code for response in responses] == [200] * 32
    assert len(workers(responses)) > 1
    results = sorted(response.json()["result"] for response in responses)
    assert results == ["duplicate"] * 31 + ["stored"]
    Message, Event = app.extensions["itms"].models.Message, app.extensions["itms"].models.ConsentEvent
    assert count(app, "Message", Message.direction == "inbound") == 1
    assert count(app, "ConsentEvent", Event.to_status == "opted_out") == 1
    confirmations = (Message.direction == "outbound", Message.template == "ACE_SYSTEM_MSG_OPTED_OUT")
    assert count(app, "Message", *confirmations) == 1
    assert count(app, "Message", *confirmations, Message.status == "sent") == 1  # handed over after commit


def test_60_numbers_stopping_at_once_are_60_opt_outs(served: tuple[Flask, str]) -> None:
    app, base = served
    numbers = [f"1201555{line:04d}" for line in range(100, 160)]
    responses = fire_at_once([signed_get(base, INBOUND, stop_from(number, f"mb-{number}")) for number in numbers])
    assert [response.status_code for response in responses] == [200] * 60
    assert len(workers(responses)) > 1
    Message, Consent = app.extensions["itms"].models.Message, app.extensions["itms"].models.Consent
    assert count(app, "Consent", Consent.status == "opted_out") == 60
    assert count(app, "ConsentEvent") == 60
    sent = (Message.direction == "outbound", Message.template == "ACE_SYSTEM_MSG_OPTED_OUT", Message.status == "sent")
    assert count(app, "Message", *sent) == 60
    with app.app_context():
        confirmed = set(app.extensions["itms"].session.scalars(sa.select(Message.phone).where(*sent)))
    assert confirmed == {f"+{number}" for number in numbers}


def test_percent_escaped_status_report_through_gunicorn(served: tuple[Flask, str]) -> None:
    app, base = served
    state = app.extensions["itms"]
    with app.app_context():
        state.itms.opt_out("+12015550123")
        state.session.commit()
        [message] = [m for m in state.itms.messages("+12015550123") if m.direction == "outbound"]
    query = (
        f"id={message.provider_message_id}&reference={message.id}&recipient=%2B12015550123&status=delivered"
        "&statusDatetime=2026-06-02T16%3A00%3A05%2B00%3A00&statusReason=successfully%20delivered"
    )
    response = signed_get(base, STATUS, query)()
    assert (response.status_code, response.json()) == (200, {"result": "stored"})
    with app.app_context():
        stored = state.session.get(state.models.Message, message.id)
        assert (stored.status, stored.status_reason) == ("delivered", "successfully delivered")
    # The same report signed over the decoded URL is refused: the URL is hashed as sent.
    decoded = query.replace("%3A", ":").replace("%2B", "+").replace("%20", " ")
    forged = requests.get(f"{base}{STATUS}?{query}", headers=SIGNER.headers(f"{base}{STATUS}?{decoded}"), timeout=60)
    assert forged.status_code == 401


def test_oversized_chunked_body_is_413(served: tuple[Flask, str]) -> None:
    app, base = served
    chunks = (b"payload=" + b"S" * 4096 for _ in range(20))  # ~80 KiB with no Content-Length
    response = requests.post(
        base + INBOUND, data=chunks, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=60
    )
    assert response.status_code == 413
    assert count(app, "Message") == 0
