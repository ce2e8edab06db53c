"""Registers flask-itms' routes, Jinja helpers and CLI on an app."""

from __future__ import annotations

import typing as t

from flask import Blueprint, Flask

if t.TYPE_CHECKING:
    from .extension import ITMS
    from .state import State


def register(app: Flask, itms: ITMS, state: State) -> None:
    """Mount the package's blueprint under ``ITMS_URL_PREFIX`` and add the ``flask itms`` commands."""
    from .cli import itms_cli
    from .webhooks import register_webhooks

    blueprint = Blueprint(
        "itms",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    app.register_blueprint(blueprint, url_prefix=state.settings.url_prefix)
    register_webhooks(app, state.settings.url_prefix)
    app.cli.add_command(itms_cli)
