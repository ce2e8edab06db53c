"""Registers flask-itms' routes, Jinja helpers and CLI on an app."""

from __future__ import annotations

import typing as t

from flask import Blueprint, Flask
from flask_wtf.csrf import generate_csrf

if t.TYPE_CHECKING:
    from .extension import ITMS
    from .state import State


def register(app: Flask, itms: ITMS, state: State) -> None:
    """Mount the package's blueprint under ``ITMS_URL_PREFIX`` and add the ``flask itms`` commands."""
    from . import api, views
    from .cli import itms_cli
    from .panel import assets, format_time, phone_panel
    from .webhooks import register_webhooks

    blueprint = Blueprint(
        "itms",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    views.register(blueprint)
    api.register(blueprint)
    app.register_blueprint(blueprint, url_prefix=state.settings.url_prefix)
    register_webhooks(app, state.settings.url_prefix)
    # The agent panel for host pages: {{ itms_phone_panel(phone, account) }}, or the macro in
    # "itms/macros.html". itms_assets() puts the stylesheet and script in <head> if wanted.
    app.add_template_global(phone_panel, "itms_phone_panel")
    app.add_template_global(assets, "itms_assets")
    app.add_template_global(generate_csrf, "itms_csrf_token")
    app.add_template_filter(format_time, "itms_time")
    app.cli.add_command(itms_cli)
