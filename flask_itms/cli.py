"""``flask itms …``: commands for operators and compliance work."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from .state import current_state

itms_cli = AppGroup("itms", help="Consent-managed texting (flask-itms).")


@itms_cli.command("status")
@click.argument("phone")
def status_command(phone: str) -> None:
    """Show the consent status of PHONE."""
    state = current_state()
    click.echo(state.itms.status(phone).value)
