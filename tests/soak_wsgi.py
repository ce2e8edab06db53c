"""The app the soak and fault tests serve with gunicorn, and how they start it.

flask-itms as a host would run it with MessageBird: signed webhooks, the real SDK
sending to the loopback stub (``messagebird_stub``), the JSON API for agents (a
``Bearer agent:NAME`` or ``Bearer supervisor:NAME`` token is the user and their role),
and no quiet hours, so that every text goes out as soon as its change commits.
Configured from ``ITMS_SOAK_*`` environment variables; the tables must exist already.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import requests
from flask import Flask, Response, request
from flask_sqlalchemy import SQLAlchemy

from flask_itms import ITMS

TESTS = Path(__file__).parent
ROOT = TESTS.parent
ORIGINATOR = "+18005550199"
CUSTOMER = {"companyName": "Acme Recovery", "phone": "+18005550100"}


def soak_config(database_url: str, signing_key: str, endpoint: str, **extra: t.Any) -> dict[str, t.Any]:
    """The configuration both the served app and the test's own app use."""
    return {
        "SECRET_KEY": "soak-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "ITMS_CUSTOMER": CUSTOMER,
        "ITMS_MESSAGEBIRD_SIGNING_KEY": signing_key,
        "ITMS_PROVIDER": "messagebird",
        "ITMS_MESSAGEBIRD_ACCESS_KEY": "live_stubkey",
        "ITMS_ORIGINATOR": ORIGINATOR,
        "ITMS_MESSAGEBIRD_ENDPOINT": endpoint,
        "ITMS_MESSAGEBIRD_TIMEOUT": (1.0, 1.0),
        "ITMS_SEND_LEASE": 3.0,
        "ITMS_SEND_RETRY_DELAY": 0.2,
        "ITMS_QUIET_HOURS": None,
        **extra,
    }


def _user() -> str | None:
    header = request.headers.get("Authorization", "")
    return header.removeprefix("Bearer ").strip() or None if header.startswith("Bearer ") else None


def create_app() -> Flask:
    app = Flask("itms_soak")
    app.config.update(
        soak_config(
            os.environ["ITMS_SOAK_DATABASE_URL"],
            os.environ["ITMS_SOAK_SIGNING_KEY"],
            os.environ["ITMS_SOAK_MESSAGEBIRD_ENDPOINT"],
        )
    )
    db = SQLAlchemy()
    itms = ITMS(db=db)
    db.init_app(app)
    itms.init_app(app)

    @itms.actor_loader
    def current_user() -> str | None:
        return _user()

    @itms.role_checker
    def has_role(user: str | None, role: str) -> bool:
        if user is None:
            return False
        if user.startswith("supervisor:"):
            return role in ("agent", "supervisor")
        return user.startswith("agent:") and role == "agent"

    @itms.account_search
    def find_accounts(query: str) -> list[tuple[str, str]]:
        return [(query, f"Account {query}")] if query.startswith("ACCT-") else []

    @app.after_request
    def name_the_worker(response: Response) -> Response:
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    return app


app = create_app() if "ITMS_SOAK_DATABASE_URL" in os.environ else None


@contextlib.contextmanager
def serve(
    database_url: str, signing_key: str, endpoint: str, log_path: Path, *, workers: int = 4
) -> t.Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """gunicorn serving this module on a loopback port held from the start; always stopped."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    env = {
        **os.environ,
        "ITMS_SOAK_DATABASE_URL": database_url,
        "ITMS_SOAK_SIGNING_KEY": signing_key,
        "ITMS_SOAK_MESSAGEBIRD_ENDPOINT": endpoint,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)]),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        f"--workers={workers}",
        f"--bind=fd://{listener.fileno()}",
        "--preload",
        "--timeout=60",
        "--graceful-timeout=5",
        "--backlog=1024",
        "--log-level=warning",
        "soak_wsgi:app",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, pass_fds=[listener.fileno()], stdout=log, stderr=subprocess.STDOUT
        )
    listener.close()
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log_path.read_text()}")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(base + "/itms/messagebird/inbound", timeout=5).status_code == 401:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer within 30 s:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield base, process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_pids(process: subprocess.Popen[bytes]) -> list[int]:
    """The gunicorn master's worker processes."""
    children: list[int] = []
    for task in Path(f"/proc/{process.pid}/task").iterdir():
        children += [int(pid) for pid in (task / "children").read_text().split()]
    return sorted(children)
