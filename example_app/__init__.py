"""A small collections CRM that embeds flask-itms, the way a host application would.

``create_app()`` builds it. ``make demo`` (or ``python -m example_app``) migrates a SQLite
database in the instance folder, seeds demo data and serves it with the consumer phone
simulator switched on.
"""

from __future__ import annotations

import os
import typing as t

import click
from flask import Flask

from . import auth, crm, integration, simulator
from .extensions import db, itms, login_manager, migrate
from .models import pretty_phone

#: Settings every deployment has; override with create_app(config) or FLASK_* variables.
DEFAULTS: dict[str, t.Any] = {
    "ITMS_CUSTOMER": {"companyName": "Acme Recovery", "phone": "+18005550100"},
    #: Clients of these business types qualify for auto opt-in (no YES needed).
    "CRM_AUTO_OPT_IN_BUSINESS_TYPES": ("utility",),
    #: Demo mode: development settings below and the consumer phone simulator.
    "CRM_DEMO": False,
}

#: Filled in for debug and demo mode only, where not set: never use them in production.
DEVELOPMENT: dict[str, t.Any] = {
    "SECRET_KEY": "example-app-development-only",
    "ITMS_MESSAGEBIRD_SIGNING_KEY": "example-app-development-signing-key",
    "ITMS_QUIET_HOURS": None,  # so the tour works at any hour; production keeps 8am-9pm
}


def create_app(config: t.Mapping[str, t.Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env()  # e.g. FLASK_SECRET_KEY, FLASK_SQLALCHEMY_DATABASE_URI
    app.config.from_mapping(config or {})
    if app.debug or app.config["CRM_DEMO"]:
        for key, value in DEVELOPMENT.items():
            if app.config.get(key) is None:
                app.config[key] = value
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "crm.db")

    db.init_app(app)
    itms.init_app(app)  # after db.init_app
    migrate.init_app(app, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    login_manager.init_app(app)
    integration.connect_signals(app)

    app.register_blueprint(auth.bp)
    app.register_blueprint(crm.bp)
    simulator.init_app(app)

    @app.context_processor
    def crm_globals() -> dict[str, t.Any]:
        return {
            "itms_prefix": app.config["ITMS_URL_PREFIX"].rstrip("/"),
            "simulator_enabled": simulator.simulator_enabled(app),
        }

    app.add_template_filter(pretty_phone, "phone")

    @app.cli.command("seed")
    def seed_command() -> None:
        """Add the demo users, clients, accounts and phones (idempotent)."""
        from .seed import seed

        click.echo(f"Added {seed()}")

    return app
