"""Errors raised by flask-itms.

They share one base, :class:`ITMSError`. The ones a request can cause are also
Werkzeug HTTP exceptions, so a host can answer them with ``errorhandler`` and an
unhandled one becomes a clean 4xx instead of a 500.
"""

from __future__ import annotations

from werkzeug.exceptions import BadRequest, Conflict, Forbidden, HTTPException


class ITMSError(Exception):
    """Base class of every flask-itms error."""


class _RequestError(ITMSError, HTTPException):
    """An error a request can cause; ``str()`` is the message, not the HTTP status line."""

    def __init__(self, message: str) -> None:
        HTTPException.__init__(self, description=message)
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.description)


class InvalidPhoneNumber(_RequestError, BadRequest, ValueError):
    """A phone number that cannot be read as a valid number."""


class ConsentRequired(_RequestError, Conflict):
    """A text to a number that has not opted in, or whose consent is on hold."""


class OptedOut(_RequestError, Conflict):
    """An outbound request to a number that has opted out. Only the consumer can undo it."""


class InvalidTransition(_RequestError, Conflict):
    """An action that the consent state machine does not allow in the current status."""


class InvalidAuthCode(_RequestError, BadRequest):
    """A wrong, expired or exhausted auth code (PIN)."""


class SystemTemplateError(_RequestError, Forbidden):
    """Deleting, cloning or picking a system template, or touching its MMS as a non-editor."""


class TemplateError(_RequestError, BadRequest):
    """A template with an unknown or malformed placeholder."""
