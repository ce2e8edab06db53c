"""Consent evidence out of the database: the audit trail as CSV or JSON.

A TCPA dispute or a Reg F records request asks who changed a consent, when, how, from
which source, and with which words. Each exported row is one ``ConsentEvent`` with the
text of the inbound message that caused it, oldest first. Rows are streamed, so an
export of years of events does not need the memory to hold them.
"""

from __future__ import annotations

import csv
import json
import re
import typing as t
from datetime import datetime

import sqlalchemy as sa

from .models import AUTH_CODE_TEMPLATE, mask_auth_code

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from .state import State

#: The exported columns, in order.
FIELDS = (
    "id",
    "created_at",
    "phone",
    "from_status",
    "to_status",
    "action",
    "method",
    "source",
    "actor",
    "account",
    "keyword",
    "reason",
    "message_id",
    "message_text",
)

_BATCH = 1000

#: A cell a spreadsheet would run as a formula; phone numbers ("+1…") are left alone.
_FORMULA = re.compile(r"^[=@\t\r]|^[+-](?![\d\s().-]*$)")


def consent_events(
    state: State,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    phones: Iterable[str] = (),
) -> Iterator[dict[str, t.Any]]:
    """Yield the audit events from ``since`` (inclusive) to ``until`` (exclusive), oldest first."""
    Event, Message = state.models.ConsentEvent, state.models.Message
    query = (
        sa.select(Event, Message.body, Message.template)
        .outerjoin(Message, Message.id == Event.message_id)
        .order_by(Event.created_at, Event.id)
    )
    if since is not None:
        query = query.where(Event.created_at >= since)
    if until is not None:
        query = query.where(Event.created_at < until)
    wanted = sorted(set(phones))
    if wanted:
        query = query.where(Event.phone.in_(wanted))
    for event, body, template in state.session.execute(query.execution_options(yield_per=_BATCH)):
        text = None if body is None else (mask_auth_code(body) if template == AUTH_CODE_TEMPLATE else body)
        yield {
            "id": event.id,
            "created_at": event.created_at.isoformat(),
            "phone": event.phone,
            "from_status": event.from_status,
            "to_status": event.to_status,
            "action": event.action,
            "method": event.method,
            "source": event.source,
            "actor": event.actor,
            "account": event.account,
            "keyword": event.keyword,
            "reason": event.reason,
            "message_id": event.message_id,
            "message_text": text,
        }


def _cell(value: t.Any) -> t.Any:
    """Keep a consumer's text from running as a spreadsheet formula (CSV injection)."""
    if isinstance(value, str) and _FORMULA.match(value):
        return "'" + value
    return "" if value is None else value


def write_csv(rows: Iterable[dict[str, t.Any]], stream: t.TextIO) -> int:
    """Write ``rows`` as RFC 4180 CSV with a header; returns the row count."""
    writer = csv.writer(stream)
    writer.writerow(FIELDS)
    count = 0
    for row in rows:
        writer.writerow([_cell(row[field]) for field in FIELDS])
        count += 1
    return count


def write_json(rows: Iterable[dict[str, t.Any]], stream: t.TextIO) -> int:
    """Write ``rows`` as one JSON array, an object per line; returns the row count."""
    count = 0
    stream.write("[")
    for row in rows:
        stream.write(",\n" if count else "\n")
        stream.write(json.dumps(row, ensure_ascii=False))
        count += 1
    stream.write("\n]\n" if count else "]\n")
    return count
