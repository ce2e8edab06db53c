"""Providers hand an outbound text to a carrier. Each raises :class:`SendError` on failure."""

from __future__ import annotations

import dataclasses
import typing as t

if t.TYPE_CHECKING:
    from flask import Flask


@dataclasses.dataclass(frozen=True)
class OutboundText:
    """What a provider needs to send one text."""

    message_id: int
    phone: str
    body: str
    mms_url: str | None = None


class SendError(Exception):
    """A provider could not take a text.

    ``permanent`` errors are not retried. ``blocked`` means the carrier says the recipient
    opted out or is blocked, so the number is opted out (source ``provider``).
    """

    def __init__(
        self,
        description: str,
        *,
        code: str | None = None,
        permanent: bool = False,
        blocked: bool = False,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.code = code
        self.permanent = permanent or blocked
        self.blocked = blocked


class Provider(t.Protocol):
    """Sends texts. ``send`` returns the provider's message id or raises ``SendError``."""

    name: str

    def send(self, text: OutboundText) -> str: ...


def load_provider(name: str, app: Flask) -> Provider:
    """Build the provider ``ITMS_PROVIDER`` names, checking its settings now."""
    if name == "console":
        from .console import ConsoleProvider

        return ConsoleProvider()
    if name == "messagebird":
        from .messagebird import MessageBirdProvider

        return MessageBirdProvider.from_config(app.config)
    raise RuntimeError(f'ITMS_PROVIDER must be "console" or "messagebird", not {name!r}.')
