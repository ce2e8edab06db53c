"""Helpers for the example CRM's tests: build the app on a test database, serve it live."""

from __future__ import annotations

import re
import threading
import typing as t

from conftest import reset_database
from flask import Flask
from werkzeug.serving import make_server

from example_app import create_app
from example_app.extensions import db
from example_app.seed import seed

SIGNING_KEY = "test-signing-key-at-least-32-bytes-long"


def build_crm(database_url: str, *, seeded: bool = True, **config: t.Any) -> Flask:
    """The example CRM in demo mode on an emptied database, with its tables and demo data."""
    reset_database(database_url)
    settings = {
        "TESTING": True,
        "CRM_DEMO": True,
        "SECRET_KEY": "crm-test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "ITMS_MESSAGEBIRD_SIGNING_KEY": SIGNING_KEY,
        **config,
    }
    app = create_app(settings)
    with app.app_context():
        db.create_all()
        if seeded:
            seed()
    return app


def dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class LiveServer:
    """Serves an app on a free loopback port in a thread, as ``flask run`` would (threaded)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="crm-live-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The first CSRF token in a page's forms."""
    match = _CSRF.search(html)
    assert match is not None, "the page has no form with a CSRF token"
    return match.group(1)
