"""The host app that ``flask itms worker`` subprocesses load in tests/test_outbox_workers.py.

Its settings come from the environment the test sets: the database, the stub
MessageBird endpoint and the lease.
"""

from __future__ import annotations

import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_itms import ITMS


def create_app() -> Flask:
    app = Flask("itms_worker_test")
    app.config.update(
        SECRET_KEY="test-secret",
        SQLALCHEMY_DATABASE_URI=os.environ["ITMS_WORKER_TEST_DATABASE_URL"],
        ITMS_CUSTOMER={"companyName": "Acme Recovery", "phone": "+18005550100"},
        ITMS_PROVIDER="messagebird",
        ITMS_MESSAGEBIRD_ACCESS_KEY="live_stubkey",
        ITMS_ORIGINATOR="+18005550199",
        ITMS_MESSAGEBIRD_ENDPOINT=os.environ["ITMS_WORKER_TEST_ENDPOINT"],
        ITMS_MESSAGEBIRD_TIMEOUT=(1.0, 1.0),
        ITMS_SEND_MODE="worker",
        ITMS_SEND_LEASE=float(os.environ.get("ITMS_WORKER_TEST_LEASE", "300")),
        ITMS_QUIET_HOURS=None,
    )
    db = SQLAlchemy()
    itms = ITMS(db=db)
    db.init_app(app)
    itms.init_app(app)
    return app
