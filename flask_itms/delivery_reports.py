"""Delivery status reports: move an outbound message forward, never back.

Carriers send reports late, twice and out of order. Each status has a rank, and a report
is applied with one conditional ``UPDATE … WHERE status IN (lower ranks)``, so two
concurrent reports cannot both read "sent" and the later-ranked one always wins.
"""

from __future__ import annotations

import dataclasses
import logging
import typing as t
from datetime import datetime

import sqlalchemy as sa

from . import consent, signals
from .state import app_object

if t.TYPE_CHECKING:
    from .state import State

logger = logging.getLogger("flask_itms.delivery_reports")

#: The statuses a MessageBird status report may carry.
REPORTED_STATUSES = ("scheduled", "sent", "buffered", "delivered", "expired", "delivery_failed")

#: How far along a message is. Our own outbox statuses share the column: a report may move
#: a queued, sending or failed message (the carrier knows better), never a final one.
#: A status missing here is never moved by a report.
STATUS_RANK: dict[str, int] = {
    "queued": 0,
    "sending": 0,
    "failed": 0,
    "scheduled": 1,
    "sent": 2,
    "buffered": 3,
    "delivered": 4,
    "expired": 4,
    "delivery_failed": 4,
    "cancelled": 4,
    "sent_by_provider": 4,
}

_REASON_MAX = 64
_ERROR_CODE_MAX = 32


@dataclasses.dataclass(frozen=True)
class StatusReport:
    """One delivery report, as the carrier sent it (the recipient in E.164 when it is a number)."""

    provider_message_id: str
    recipient: str
    status: str
    status_at: datetime
    reference: str | None = None
    reason: str | None = None
    error_code: str | None = None


def record_status_report(state: State, report: StatusReport) -> tuple[t.Any, bool] | None:
    """Apply ``report``; returns ``(message, changed)``, or ``None`` when the message is not ours.

    The message is found by ``reference`` (our message id) when its recipient and provider
    id agree, else by ``(provider id, recipient)``. Adds to the session; never commits.
    """
    message_id = _find(state, report)
    if message_id is None:
        return None
    Message = state.models.Message
    rank = STATUS_RANK[report.status]
    behind = [status for status, other in STATUS_RANK.items() if other < rank]
    moved = state.session.execute(
        sa.update(Message)
        .where(Message.id == message_id, Message.status.in_(behind))
        .values(
            status=report.status,
            status_reason=_clip(report.reason, _REASON_MAX),
            status_error_code=_clip(report.error_code, _ERROR_CODE_MAX),
            status_at=report.status_at,
        )
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    message = state.session.get_one(Message, message_id, populate_existing=True)
    if moved is None:
        logger.info(
            "Status report %r for message %s ignored: it is already %r.", report.status, message_id, message.status
        )
        return message, False
    signals.delivery_status_changed.send(app_object(), message=message, status=report.status)
    if report.status == "delivery_failed" and _says_blocked(state, report):
        consent.provider_blocked(state, message.phone, f"Delivery report: {report.reason or report.error_code}")
    return message, True


def _says_blocked(state: State, report: StatusReport) -> bool:
    """Whether the provider reads this failure as the recipient refusing our texts."""
    is_block = getattr(state.provider, "is_block", None)
    return bool(is_block and is_block(report.error_code, report.reason))


def _find(state: State, report: StatusReport) -> int | None:
    Message = state.models.Message
    ours = sa.select(Message.id).where(Message.direction == "outbound", Message.phone == report.recipient)
    reference = report.reference
    if reference is not None and reference.isascii() and reference.isdigit() and len(reference) <= 18:
        # A reference alone could be another system's on a shared account: the recipient
        # must match, and the provider id too once the outbox has recorded it.
        # Bound as a BIGINT: a reference past the id column's range (PostgreSQL's INTEGER)
        # is simply no message of ours, not an out-of-range error.
        by_reference = ours.where(
            Message.id == sa.bindparam("reference", int(reference), type_=sa.BigInteger),
            sa.or_(Message.provider_message_id.is_(None), Message.provider_message_id == report.provider_message_id),
        )
        found = state.session.scalar(by_reference)
        if found is not None:
            return t.cast(int, found)
    found = state.session.scalar(ours.where(Message.provider_message_id == report.provider_message_id))
    return t.cast("int | None", found)


def _clip(value: str | None, length: int) -> str | None:
    return value[:length] if value else None
