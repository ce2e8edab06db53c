"""The supervisor queue: texts from numbers that no account claims."""

from __future__ import annotations

import dataclasses
import typing as t
from datetime import datetime

import sqlalchemy as sa

if t.TYPE_CHECKING:
    from .state import State


@dataclasses.dataclass(frozen=True)
class UnlinkedNumber:
    """One unknown number in the queue, with its texts oldest first."""

    phone: str
    messages: list[t.Any]

    @property
    def first_seen(self) -> datetime:
        return t.cast(datetime, self.messages[0].created_at)

    @property
    def last_seen(self) -> datetime:
        return t.cast(datetime, self.messages[-1].created_at)


def unlinked_messages(state: State) -> list[t.Any]:
    """Inbound texts from phone numbers with no account on their consent or in the host."""
    Message, Consent = state.models.Message, state.models.Consent
    linked = sa.select(Consent.phone).where(Consent.account.is_not(None))
    query = (
        sa.select(Message)
        .where(
            Message.direction == "inbound",
            Message.account.is_(None),
            Message.phone.like("+%"),
            Message.phone.not_in(linked),
        )
        .order_by(Message.created_at, Message.id)
    )
    found = list(state.session.scalars(query))
    lookup = state.itms._account_lookup
    if lookup is None:
        return found
    # The host may have added the number to an account since the text arrived.
    claimed = {phone for phone in {m.phone for m in found} if lookup(phone) is not None}
    return [message for message in found if message.phone not in claimed]


def unlinked_numbers(state: State) -> list[UnlinkedNumber]:
    """The queue grouped by number, the most recently active first."""
    grouped: dict[str, list[t.Any]] = {}
    for message in unlinked_messages(state):
        grouped.setdefault(message.phone, []).append(message)
    numbers = [UnlinkedNumber(phone, texts) for phone, texts in grouped.items()]
    return sorted(numbers, key=lambda number: number.last_seen, reverse=True)
