"""The app the gunicorn tests serve: flask-itms configured from environment variables.

``ITMS_WSGI_DATABASE_URL`` and ``ITMS_WSGI_SIGNING_KEY`` are required. The tables must
exist already: the test creates them before starting the server.
"""

from __future__ import annotations

import os

from flask import Flask, Response
from flask_sqlalchemy import SQLAlchemy

from flask_itms import ITMS


def create_app() -> Flask:
    app = Flask("itms_gunicorn")
    app.config.update(
        SECRET_KEY="gunicorn-test-secret",
        SQLALCHEMY_DATABASE_URI=os.environ["ITMS_WSGI_DATABASE_URL"],
        ITMS_CUSTOMER={"companyName": "Acme Recovery", "phone": "+18005550100"},
        ITMS_MESSAGEBIRD_SIGNING_KEY=os.environ["ITMS_WSGI_SIGNING_KEY"],
    )
    db = SQLAlchemy()
    itms = ITMS(db=db)
    db.init_app(app)
    itms.init_app(app)

    @app.after_request
    def name_the_worker(response: Response) -> Response:
        """Which worker process answered, so a test can see the load was shared."""
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    return app


app = create_app()
