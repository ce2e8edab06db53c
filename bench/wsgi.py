"""The two apps the webhook benchmark serves under gunicorn, configured from the environment.

``BENCH_APP=itms`` is flask-itms with its webhooks, as a host would run it.
``BENCH_APP=bare`` is the floor: a plain Flask view at the same URL that reads the same
form and inserts one row with the same Flask-SQLAlchemy session, and checks nothing.
``BENCH_DATABASE_URL`` names the database; ``BENCH_SIGNING_KEY`` the MessageBird key.
The tables must exist already: the harness creates them before starting gunicorn.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask, Response, jsonify, request
from flask_sqlalchemy import SQLAlchemy

from flask_itms import ITMS

CUSTOMER = {"companyName": "Acme Recovery", "phone": "+18005550100"}
INBOUND = "/itms/messagebird/inbound"
bare_metadata = sa.MetaData()

#: The floor's one table: what it keeps of each inbound text.
bare_inbound = sa.Table(
    "bench_bare_inbound",
    bare_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("originator", sa.String(64)),
    sa.Column("recipient", sa.String(64)),
    sa.Column("body", sa.Text),
    sa.Column("provider_message_id", sa.String(64)),
    sa.Column("created", sa.String(40)),
)


def create_itms_app(database_url: str, signing_key: str) -> tuple[Flask, SQLAlchemy, ITMS]:
    app = Flask("itms_bench")
    app.config.update(
        SECRET_KEY="bench-secret",
        SQLALCHEMY_DATABASE_URI=database_url,
        ITMS_CUSTOMER=CUSTOMER,
        ITMS_MESSAGEBIRD_SIGNING_KEY=signing_key,
    )
    db = SQLAlchemy()
    itms = ITMS(db=db)
    db.init_app(app)
    itms.init_app(app)
    return app, db, itms


def create_bare_app(database_url: str) -> Flask:
    app = Flask("bare_bench")
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url)
    db = SQLAlchemy(metadata=bare_metadata)
    db.init_app(app)

    @app.post(INBOUND)
    def inbound() -> Response:
        form = request.form
        db.session.execute(
            bare_inbound.insert().values(
                originator=form["originator"],
                recipient=form["recipient"],
                body=form["payload"],
                provider_message_id=form.get("id"),
                created=form.get("createdDatetime"),
            )
        )
        db.session.commit()
        return jsonify(result="stored")

    return app


def create_app() -> Flask:
    url = os.environ["BENCH_DATABASE_URL"]
    if os.environ["BENCH_APP"] == "bare":
        return create_bare_app(url)
    app, _db, _itms = create_itms_app(url, os.environ["BENCH_SIGNING_KEY"])
    return app


app = create_app() if "BENCH_APP" in os.environ else None
