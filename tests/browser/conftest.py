"""Browser fixtures: the host app on a live loopback server, and Debian's Chromium driven by Playwright.

The browser tests run on SQLite only: what they check is the HTML, the forms and the script;
the PostgreSQL behaviour of the same service calls is covered by the rest of the suite.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import typing as t
import uuid
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest
from flask import Flask
from messagebird_signer import MessageBirdSigner
from werkzeug.serving import make_server

from .host import install_host

CHROMIUM = "/usr/bin/chromium"
#: The number the host knows (ACCT-1001) and one it does not.
PHONE = "+12015550123"
UNKNOWN_PHONE = "+12015550188"
OUR_NUMBER = "+18005550100"
SIGNING_KEY = "s" * 64
SIGNER = MessageBirdSigner(SIGNING_KEY)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.browser)


def _ensure_chromium() -> str | None:
    """Debian's Chromium, installed when missing (Playwright's own download cannot work here)."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, env=env, capture_output=True)
    return CHROMIUM if os.path.exists(CHROMIUM) else None


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite only (see the module docstring)."""
    return f"sqlite:///{tmp_path / 'itms.db'}"


@pytest.fixture(scope="session")
def browser() -> t.Iterator[t.Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    executable = _ensure_chromium()
    if executable is None:
        pytest.skip("Chromium is not installed: run `make chromium` (apt-get install chromium).")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


class LiveHost:
    """The host app on a loopback port, and what the consumer's phone sees."""

    def __init__(self, app: Flask, url: str) -> None:
        self.app = app
        self.url = url
        self.state = app.extensions["itms"]

    def page_url(self, phone: str = PHONE, account: str = "ACCT-1001") -> str:
        return f"{self.url}/accounts/{account}/phones/{phone}"

    def consumer_texts(self, text: str, phone: str = PHONE, message_id: str | None = None) -> None:
        """The consumer's text arrives as MessageBird sends it: a signed POST to the inbound webhook."""
        url = f"{self.url}/itms/messagebird/inbound"
        body = urlencode(
            {
                "originator": phone.lstrip("+"),
                "recipient": OUR_NUMBER.lstrip("+"),
                "payload": text,
                "id": message_id or f"mb-{uuid.uuid4().hex}",
            }
        ).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **SIGNER.headers(url, body)}
        with urlopen(Request(url, data=body, headers=headers, method="POST"), timeout=5) as answer:
            assert answer.status == 200, answer.read()

    def texts_to(self, phone: str = PHONE) -> list[str]:
        return [text.body for text in self.state.provider.sent if text.phone == phone]

    def pin_sent_to(self, phone: str = PHONE) -> str:
        for body in reversed(self.texts_to(phone)):
            match = re.search(r"\b(\d{6})\b", body)
            if match:
                return match.group(1)
        raise AssertionError(f"no PIN was sent to {phone}: {self.texts_to(phone)}")

    def status(self, phone: str = PHONE) -> str:
        with self.app.app_context():
            return str(self.state.itms.status(phone).value)


@pytest.fixture
def live(make_app: t.Callable[..., Flask]) -> t.Iterator[LiveHost]:
    app = make_app(ITMS_MESSAGEBIRD_SIGNING_KEY=SIGNING_KEY)
    install_host(app, app.extensions["itms"].itms)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="itms-live-server", daemon=True
    )
    thread.start()
    try:
        yield LiveHost(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@pytest.fixture
def page(browser: t.Any, live: LiveHost) -> t.Iterator[t.Any]:
    context = browser.new_context(
        viewport={"width": 1100, "height": 900},
        timezone_id="America/New_York",
        locale="en-US",
        base_url=live.url,
    )
    context.set_default_timeout(5000)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page: t.Any, user: str) -> None:
    page.goto(f"/login/{user}")


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: $ITMS_SCREENSHOT_DIR (e.g. docs/screenshots) or the test's tmp dir."""
    folder = Path(os.environ.get("ITMS_SCREENSHOT_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
