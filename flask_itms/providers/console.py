"""The default provider: records and logs each text, and makes no network call."""

from __future__ import annotations

import logging
import threading

from ..models import mask_auth_code
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
        # Logs are read by more people than the consumer: a PIN is never written to them.
        logger.info("SMS to %s: %s", text.phone, mask_auth_code(text.body))
        return f"console-{text.message_id}"

    def texts_to(self, phone: str) -> list[str]:
        """The bodies sent to ``phone``, oldest first."""
        return [text.body for text in self.sent if text.phone == phone]
