"""The default provider: records and logs each text, and makes no network call."""

from __future__ import annotations

import logging
import threading

from . import OutboundText

logger = logging.getLogger("flask_itms.console")


class ConsoleProvider:
    """Keeps every text it is given in ``sent``, for development, demos and tests."""

    name = "console"

    def __init__(self) -> None:
        self.sent: list[OutboundText] = []
        self._lock = threading.Lock()

    def send(self, text: OutboundText) -> str:
        with self._lock:
            self.sent.append(text)
        logger.info("SMS to %s: %s", text.phone, text.body)
        return f"console-{text.message_id}"

    def texts_to(self, phone: str) -> list[str]:
        """The bodies sent to ``phone``, oldest first."""
        return [text.body for text in self.sent if text.phone == phone]
