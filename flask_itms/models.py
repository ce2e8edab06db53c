"""The itms tables, declared on the host's ``db`` so they live in the host's database.

``define_models(db)`` is called once per ``SQLAlchemy`` instance; the classes it returns
are what the service layer works with. Constraints guard the invariants: one consent row
per phone, one message per provider id and direction, one use of each webhook token.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import typing as t
import weakref
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

if t.TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy


class ConsentStatus(enum.StrEnum):
    """Where a phone number stands. ``none`` means no opt-in flow has started."""

    NONE = "none"
    PENDING = "pending"
    AWAITING_CODE = "awaiting_code"
    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database, SQLite included."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("flask-itms stores aware datetimes only; use datetime.now(timezone.utc).")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        # PostgreSQL answers in the connection's TimeZone setting, which the host controls.
        return value.astimezone(UTC)


#: The system template whose body carries a PIN; kept here to avoid importing messages.
AUTH_CODE_TEMPLATE = "ACE_SYSTEM_MSG_AUTH_CODE"
_PIN = re.compile(r"\b\d{4,8}\b")


def mask_auth_code(body: str) -> str:
    """Hide the PIN in an auth-code text: the agent must hear it from the consumer."""
    return _PIN.sub("••••••", body)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclasses.dataclass(frozen=True)
class Models:
    """The model classes declared on one ``SQLAlchemy`` instance."""

    Consent: t.Any
    ConsentEvent: t.Any
    Message: t.Any
    Template: t.Any
    WebhookReplay: t.Any


_declared: weakref.WeakKeyDictionary[t.Any, Models] = weakref.WeakKeyDictionary()


def define_models(db: SQLAlchemy) -> Models:
    """Declare the itms tables on ``db.metadata``, once per ``db``."""
    if db in _declared:
        return _declared[db]
    models = _declare(db)
    _declared[db] = models
    return models


def _declare(db: SQLAlchemy) -> Models:
    class Consent(db.Model):  # type: ignore[name-defined,misc]
        """One row per phone number: where its consent stands now."""

        __tablename__ = "itms_consent"

        id: Mapped[int] = mapped_column(primary_key=True)
        phone: Mapped[str] = mapped_column(sa.String(16))
        status: Mapped[str] = mapped_column(sa.String(16), default=ConsentStatus.NONE.value)
        method: Mapped[str | None] = mapped_column(sa.String(16))
        account: Mapped[str | None] = mapped_column(sa.String(128))
        on_hold: Mapped[bool] = mapped_column(default=False)
        hold_message_id: Mapped[int | None] = mapped_column()
        request_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
        auth_code_hash: Mapped[str | None] = mapped_column(sa.String(64))
        auth_code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
        auth_code_attempts: Mapped[int] = mapped_column(default=0)
        updated_by: Mapped[str | None] = mapped_column(sa.String(128))
        created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
        updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

        __table_args__ = (
            sa.CheckConstraint(
                "status IN ('none', 'pending', 'awaiting_code', 'opted_in', 'opted_out')",
                name="itms_consent_status",
            ),
            sa.UniqueConstraint("phone", name="itms_consent_phone"),
            sa.Index("itms_consent_textable", "status", "on_hold"),
            sa.Index("itms_consent_account", "account"),
        )

        @property
        def consent_status(self) -> ConsentStatus:
            return ConsentStatus(self.status)

        @property
        def can_text(self) -> bool:
            return self.status == ConsentStatus.OPTED_IN.value and not self.on_hold

        def __repr__(self) -> str:
            hold = " on hold" if self.on_hold else ""
            return f"<Consent {self.phone} {self.status}{hold}>"

    class ConsentEvent(db.Model):  # type: ignore[name-defined,misc]
        """An append-only record of one consent change: the evidence for disputes."""

        __tablename__ = "itms_consent_event"

        id: Mapped[int] = mapped_column(primary_key=True)
        phone: Mapped[str] = mapped_column(sa.String(16))
        from_status: Mapped[str] = mapped_column(sa.String(16))
        to_status: Mapped[str] = mapped_column(sa.String(16))
        action: Mapped[str] = mapped_column(sa.String(32))
        method: Mapped[str | None] = mapped_column(sa.String(16))
        source: Mapped[str] = mapped_column(sa.String(16))
        actor: Mapped[str | None] = mapped_column(sa.String(128))
        account: Mapped[str | None] = mapped_column(sa.String(128))
        message_id: Mapped[int | None] = mapped_column(
            sa.ForeignKey("itms_message.id", name="itms_consent_event_message")
        )
        keyword: Mapped[str | None] = mapped_column(sa.String(64))
        reason: Mapped[str | None] = mapped_column(sa.Text)
        created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

        __table_args__ = (
            sa.Index("itms_consent_event_phone", "phone", "created_at"),
            sa.Index("itms_consent_event_created", "created_at"),
        )

        def __repr__(self) -> str:
            return f"<ConsentEvent {self.phone} {self.from_status}->{self.to_status} {self.action}>"

    class Message(db.Model):  # type: ignore[name-defined,misc]
        """A text in either direction. Outbound rows are the outbox."""

        __tablename__ = "itms_message"

        id: Mapped[int] = mapped_column(primary_key=True)
        direction: Mapped[str] = mapped_column(sa.String(8))
        #: E.164 for real numbers; an inbound text from an alphanumeric sender keeps it raw.
        phone: Mapped[str] = mapped_column(sa.String(64))
        our_number: Mapped[str | None] = mapped_column(sa.String(64))
        body: Mapped[str] = mapped_column(sa.Text)
        template: Mapped[str | None] = mapped_column(sa.String(64))
        #: Why it is sent, which decides the consent gate at hand-off: a system template
        #: identifier, "agent" or "host". Inbound: None.
        purpose: Mapped[str | None] = mapped_column(sa.String(32))
        status: Mapped[str] = mapped_column(sa.String(20))
        intent: Mapped[str | None] = mapped_column(sa.String(16))
        keyword: Mapped[str | None] = mapped_column(sa.String(64))
        account: Mapped[str | None] = mapped_column(sa.String(128))
        actor: Mapped[str | None] = mapped_column(sa.String(128))
        provider_message_id: Mapped[str | None] = mapped_column(sa.String(64))
        attempts: Mapped[int] = mapped_column(default=0)
        send_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
        claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
        error_code: Mapped[str | None] = mapped_column(sa.String(32))
        error: Mapped[str | None] = mapped_column(sa.Text)
        status_reason: Mapped[str | None] = mapped_column(sa.String(64))
        status_error_code: Mapped[str | None] = mapped_column(sa.String(32))
        status_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
        created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
        sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

        __table_args__ = (
            sa.UniqueConstraint("direction", "provider_message_id", name="itms_message_provider_id"),
            sa.Index("itms_message_due", "direction", "status", "send_after"),
            sa.Index("itms_message_phone", "phone", "created_at"),
        )

        @property
        def display_body(self) -> str:
            """The body as people may see it: an auth code is never shown, even to agents."""
            return mask_auth_code(self.body) if self.template == AUTH_CODE_TEMPLATE else self.body

        def __repr__(self) -> str:
            return f"<Message {self.id} {self.direction} {self.phone} {self.status}>"

    class Template(db.Model):  # type: ignore[name-defined,misc]
        """A message template: the ACE system messages and the agents' own."""

        __tablename__ = "itms_template"

        id: Mapped[int] = mapped_column(primary_key=True)
        identifier: Mapped[str] = mapped_column(sa.String(64))
        label: Mapped[str] = mapped_column(sa.String(128))
        use_case: Mapped[str] = mapped_column(sa.Text, default="")
        body: Mapped[str] = mapped_column(sa.Text)
        system: Mapped[bool] = mapped_column(default=False)
        allow_as_payment_source: Mapped[bool] = mapped_column(default=True)
        mms_url: Mapped[str | None] = mapped_column(sa.String(512))
        created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
        updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

        __table_args__ = (sa.UniqueConstraint("identifier", name="itms_template_identifier"),)

        def __repr__(self) -> str:
            return f"<Template {self.identifier}>"

    class WebhookReplay(db.Model):  # type: ignore[name-defined,misc]
        """Webhook token ids already used, kept until the token could no longer be valid."""

        __tablename__ = "itms_webhook_replay"

        jti: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
        expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

        __table_args__ = (sa.Index("itms_webhook_replay_expires", "expires_at"),)

    return Models(Consent, ConsentEvent, Message, Template, WebhookReplay)
