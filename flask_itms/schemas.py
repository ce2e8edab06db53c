"""Marshmallow schemas for what carriers send to the webhooks.

Field names are MessageBird's (``createdDatetime``, ``statusReason``…), so a 400 names
the field as the carrier sent it. Fields we do not use are ignored, not refused:
MessageBird adds ``mccmnc``, ``ported``, ``price[amount]`` and more to its reports, and
refusing them would make it retry a report, or an opt-out, forever.
"""

from __future__ import annotations

import dataclasses
import typing as t
from datetime import UTC, datetime

import phonenumbers
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate, validates_schema

from .delivery_reports import REPORTED_STATUSES, StatusReport

#: Longest phone number, sender id or provider id the tables keep.
_ID_MAX = 64


class Text(fields.String):
    """A string that also takes a JSON integer, as carriers send ids and codes either way."""

    def _deserialize(self, value: t.Any, attr: str | None, data: t.Mapping[str, t.Any] | None, **kwargs: t.Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


class MSISDN(Text):
    """A phone number as MessageBird writes it: country code first, no ``+`` (``31612345678``).

    When the digits with a ``+`` make a valid number, that is the number. Anything else (an
    alphanumeric sender, a short code) is kept as given for the core to judge.
    """

    def _deserialize(self, value: t.Any, attr: str | None, data: t.Mapping[str, t.Any] | None, **kwargs: t.Any) -> str:
        number = super()._deserialize(value, attr, data, **kwargs).strip()
        if number.isascii() and number.isdigit():
            try:
                parsed = phonenumbers.parse(f"+{number}")
            except phonenumbers.NumberParseException:
                return number
            if phonenumbers.is_valid_number(parsed):
                return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        return number


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


class InboundTextSchema(Schema):
    """An inbound SMS: ``originator``, ``recipient``, the text in ``payload`` or ``body``."""

    class Meta:
        unknown = EXCLUDE

    originator = MSISDN(required=True, validate=_id)
    recipient = MSISDN(required=True, validate=_id)
    payload = Text(load_default=None)
    body = Text(load_default=None)
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
        return InboundText(
            originator=data["originator"],
            recipient=data["recipient"],
            text=text,
            provider_message_id=data["id"],
            received_at=data["created_at"].astimezone(UTC) if data["created_at"] else None,
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
    reason = Text(data_key="statusReason", load_default=None)
    error_code = Text(data_key="statusErrorCode", load_default=None)

    @pre_load
    def _drop_blanks(self, data: dict[str, t.Any], **kwargs: t.Any) -> dict[str, t.Any]:
        return _blank_as_missing(data, ("reference", "statusReason", "statusErrorCode"))

    @post_load
    def _make(self, data: dict[str, t.Any], **kwargs: t.Any) -> StatusReport:
        return StatusReport(
            provider_message_id=data["id"],
            recipient=data["recipient"],
            status=data["status"],
            status_at=data["status_at"].astimezone(UTC),
            reference=data["reference"],
            reason=data["reason"],
            error_code=data["error_code"],
        )
