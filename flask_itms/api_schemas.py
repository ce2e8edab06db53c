"""Marshmallow schemas of the JSON API: what host front-ends send and what they get back.

Request schemas refuse unknown fields. Message bodies are always ``display_body``, so an
auth code never leaves the server.
"""

from __future__ import annotations

import typing as t

from marshmallow import RAISE, Schema, fields, validate


class MessageSchema(Schema):
    id = fields.Integer()
    direction = fields.String()
    body = fields.Function(lambda message: message.display_body)
    template = fields.String(allow_none=True)
    status = fields.String()
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


class EventSchema(Schema):
    from_status = fields.String()
    to_status = fields.String()
    action = fields.String()
    method = fields.String(allow_none=True)
    source = fields.String()
    actor = fields.String(allow_none=True)
    keyword = fields.String(allow_none=True)
    created_at = fields.DateTime()


class PhoneSchema(Schema):
    """One number as the panel shows it (a ``panel.PhoneView``)."""

    phone = fields.String()
    status = fields.String()
    method = fields.String(allow_none=True)
    account = fields.String(allow_none=True)
    updated_by = fields.String(allow_none=True)
    updated_at = fields.DateTime(allow_none=True)
    on_hold = fields.Boolean()
    can_text = fields.Boolean()
    hold_message = fields.Nested(MessageSchema, allow_none=True)
    messages = fields.List(fields.Nested(MessageSchema))
    events = fields.List(fields.Nested(EventSchema))
    actions = fields.Function(lambda view: sorted(view.actions))


class _Request(Schema):
    class Meta:
        unknown = RAISE


class OptInRequestSchema(_Request):
    """Send Opt In Request and Quick Opt In."""

    account = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=128))


class AuthCodeSchema(_Request):
    """Txt Msg Auth Code."""

    code = fields.String(
        required=True,
        validate=validate.Regexp(r"^\s*\d[\d ]{2,14}\s*$", error="Give the PIN the consumer received, digits only."),
    )


class OptOutSchema(_Request):
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class EmptySchema(_Request):
    """Clear hold: nothing to send."""


class LinkSchema(_Request):
    """Link an unknown number to an account (supervisor)."""

    account = fields.String(required=True, validate=validate.Length(min=1, max=128))


def load(schema: Schema, data: t.Any) -> dict[str, t.Any]:
    return t.cast(dict[str, t.Any], schema.load(data))
