"""Marshmallow schemas for what carriers send to the webhooks.

Field names are MessageBird's (``createdDatetime``, ``statusReason``…), so a 400 names
the field as the carrier sent it. Fields we do not use are ignored, not refused:
MessageBird adds ``mccmnc``, ``ported``, ``price[amount]`` and more to its reports, and
refusing them would make it retry a report, or an opt-out, forever.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import typing as t
from datetime import UTC, datetime

import phonenumbers
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate, validates_schema

from .delivery_reports import REPORTED_STATUSES, StatusReport

#: Longest phone number, sender id or provider id the tables keep.
_ID_MAX = 64


#: What no database column should receive: NUL (PostgreSQL refuses it) and lone
#: surrogates (no UTF-8 encoding exists for them; a JSON body can carry "\\ud800").
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


class Text(fields.String):
    """A string that also takes a JSON integer, as carriers send ids and codes either way.

    A NUL or a lone surrogate makes it invalid (400): ids, numbers and codes with those
    are not what the carrier meant.
    """

    def _deserialize(self, value: t.Any, attr: str | None, data: t.Mapping[str, t.Any] | None, **kwargs: t.Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        text = super()._deserialize(value, attr, data, **kwargs)
        if _NOT_TEXT.search(text):
            raise ValidationError("Not valid text: it holds a NUL character or a lone surrogate.")
        return text


class MessageText(fields.String):
    """A consumer's words: kept whatever they hold, NUL and lone surrogates replaced by U+FFFD.

    Refusing the text would make the carrier drop it, and it may be an opt-out. With the
    replacement character in it, "STOP\\x00" is no longer a bare keyword, so the consent goes
    on hold for an agent to read instead of being guessed at.
    """

    def _deserialize(self, value: t.Any, attr: str | None, data: t.Mapping[str, t.Any] | None, **kwargs: t.Any) -> str:
        return _NOT_TEXT.sub("\ufffd", super()._deserialize(value, attr, data, **kwargs))


class _CheckedNumber(str):
    """An E.164 number that :class:`MSISDN` found valid; never leaves this module."""


class MSISDN(Text):
    """A phone number as MessageBird writes it: country code first, no ``+`` (``31612345678``).

    When the digits with a ``+`` make a valid number, that is the number. Anything else (an
    alphanumeric sender, a short code) is kept as given for the core to judge.
    """

    def _deserialize(self, value: t.Any, attr: str | None, data: t.Mapping[str, t.Any] | None, **kwargs: t.Any) -> str:
        number = super()._deserialize(value, attr, data, **kwargs).strip()
        if number.isascii() and number.isdigit():
            return _international(number)
        return number


# A handful of recent numbers: the recipient is one of the host's own few numbers on
# every request, and phonenumbers takes ~50 us to read one. Consumers' numbers vary.
@functools.lru_cache(maxsize=64)
def _international(digits: str) -> str:
    """``digits`` read with a ``+`` in front: the E.164 number when valid, else as given."""
    try:
        parsed = phonenumbers.parse(f"+{digits}")
    except phonenumbers.NumberParseException:
        return digits
    if phonenumbers.is_valid_number(parsed):
        return _CheckedNumber(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    return digits


def _checked(number: str) -> tuple[str, str | None]:
    """A number as a plain ``str``, and again when :class:`MSISDN` already found it valid."""
    plain = str(number)
    return plain, plain if isinstance(number, _CheckedNumber) else None


def _blank_as_missing(data: dict[str, t.Any], optional: t.Iterable[str]) -> dict[str, t.Any]:
    """Carriers send optional fields empty (``reference=``); that means absent, not invalid."""
    return {key: value for key, value in data.items() if not (key in optional and value in ("", None))}


_id = validate.Length(min=1, max=_ID_MAX)


@dataclasses.dataclass(frozen=True)
class InboundText:
    """One inbound SMS, as the carrier sent it."""

    originator: str
    recipient: str
    text: str
    provider_message_id: str | None = None
    received_at: datetime | None = None
    #: The originator in E.164 when it was already checked as a valid number, else None.
    originator_e164: str | None = None


class InboundTextSchema(Schema):
    """An inbound SMS: ``originator``, ``recipient``, the text in ``payload`` or ``body``."""

    class Meta:
        unknown = EXCLUDE

    originator = MSISDN(required=True, validate=_id)
    recipient = MSISDN(required=True, validate=_id)
    payload = MessageText(load_default=None)
    body = MessageText(load_default=None)
    id = Text(load_default=None, validate=_id)
    created_at = fields.AwareDateTime(data_key="createdDatetime", default_timezone=UTC, load_default=None)

    @pre_load
    def _drop_blanks(self, data: dict[str, t.Any], **kwargs: t.Any) -> dict[str, t.Any]:
        return _blank_as_missing(data, ("id", "createdDatetime"))

    @validates_schema
    def _has_text(self, data: dict[str, t.Any], **kwargs: t.Any) -> None:
        if data.get("payload") is None and data.get("body") is None:
            raise ValidationError("Missing data for required field: the text goes in payload or body.", "payload")

    @post_load
    def _make(self, data: dict[str, t.Any], **kwargs: t.Any) -> InboundText:
        text = data["payload"] if data.get("payload") is not None else data["body"]
        originator, originator_e164 = _checked(data["originator"])
        return InboundText(
            originator=originator,
            recipient=str(data["recipient"]),
            text=text,
            provider_message_id=data["id"],
            received_at=data["created_at"].astimezone(UTC) if data["created_at"] else None,
            originator_e164=originator_e164,
        )


class StatusReportSchema(Schema):
    """A delivery status report about one of our outbound texts."""

    class Meta:
        unknown = EXCLUDE

    id = Text(required=True, validate=_id)
    reference = Text(load_default=None, validate=validate.Length(max=_ID_MAX))
    recipient = MSISDN(required=True, validate=_id)
    status = Text(required=True, validate=validate.OneOf(REPORTED_STATUSES))
    status_at = fields.AwareDateTime(data_key="statusDatetime", required=True, default_timezone=UTC)
    reason = MessageText(data_key="statusReason", load_default=None)
    error_code = MessageText(data_key="statusErrorCode", load_default=None)

    @pre_load
    def _drop_blanks(self, data: dict[str, t.Any], **kwargs: t.Any) -> dict[str, t.Any]:
        return _blank_as_missing(data, ("reference", "statusReason", "statusErrorCode"))

    @post_load
    def _make(self, data: dict[str, t.Any], **kwargs: t.Any) -> StatusReport:
        return StatusReport(
            provider_message_id=data["id"],
            recipient=str(data["recipient"]),
            status=data["status"],
            status_at=data["status_at"].astimezone(UTC),
            reference=data["reference"],
            reason=data["reason"],
            error_code=data["error_code"],
        )
