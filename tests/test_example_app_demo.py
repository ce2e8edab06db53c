"""`make demo` (python -m example_app): migrate, seed, print the sign-ins, serve; twice."""

from __future__ import annotations

import os
import queue
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from example_app import create_app
from example_app.demo import banner, prepare
from example_app.extensions import db
from example_app.models import Account, User
from example_app.walkthrough import main as walkthrough

ROOT = Path(__file__).resolve().parent.parent


def test_prepare_migrates_and_seeds_once(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'demo.db'}"
    first = prepare(create_app({"CRM_DEMO": True, "SQLALCHEMY_DATABASE_URI": database}))
    second_app = create_app({"CRM_DEMO": True, "SQLALCHEMY_DATABASE_URI": database})
    second = prepare(second_app)
    assert first == {"users": 3, "clients": 3, "accounts": 5, "phones": 4}
    assert second == {"users": 0, "clients": 0, "accounts": 0, "phones": 0}
    with second_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Account)) == 5
        assert "alembic_version" in sa.inspect(db.engine).get_table_names()
        db.engine.dispose()


def test_the_banner_names_every_sign_in() -> None:
    text = banner("http://127.0.0.1:5000", {"users": 3})
    for username in ("alice", "sam", "erin"):
        assert re.search(rf"{username}\s+/ demo", text)
    assert "http://127.0.0.1:5000/dev/phones/" in text
    assert "reusing the existing demo data" in banner("http://127.0.0.1:5000", {"users": 0})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_demo(database: str) -> tuple[str, str]:
    """Start ``python -m example_app`` until it serves, fetch the sign-in page, stop it."""
    port = free_port()
    env = {**os.environ, "FLASK_SQLALCHEMY_DATABASE_URI": database}
    process = subprocess.Popen(
        [sys.executable, "-m", "example_app", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True)  # type: ignore[union-attr]
    reader.start()
    output = []
    try:
        while "Running on" not in (line := lines.get(timeout=60)):
            output.append(line)
        page = requests.get(f"http://127.0.0.1:{port}/sign-in", timeout=10)
        assert page.status_code == 200
        return "".join(output), page.text
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()


@pytest.mark.slow
def test_the_demo_serves_and_a_second_run_reuses_the_data(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'demo.db'}"
    first_output, page = run_demo(database)
    assert "seeded demo data" in first_output
    assert "alice  / demo" in first_output
    assert "Sign in" in page and "sam" in page
    second_output, _ = run_demo(database)
    assert "reusing the existing demo data" in second_output
    engine = sa.create_engine(database)
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(User.__table__)) == 3
    engine.dispose()


def test_the_console_walkthrough_runs(capsys: pytest.CaptureFixture[str]) -> None:
    walkthrough()
    out = capsys.readouterr().out
    assert "status: awaiting_code" in out
    assert "status: opted_in; can_text: True" in out
    assert "status: opted_out; can_text: False" in out
    assert out.count("You are opted out") == 1
