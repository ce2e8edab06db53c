"""The replay table: a signed webhook request is acted on once, however often it arrives.

A key (a JWT ``jti``, or a digest of Bird's signature) is claimed with
``INSERT … ON CONFLICT DO NOTHING`` in the same transaction as the request's effect, so
the database, not a prior look-up, decides which of two concurrent copies wins; a copy
whose transaction rolls back leaves its key free for the carrier's retry. Keys are kept
until the signature they came from could no longer be valid, then pruned.
"""

from __future__ import annotations

import typing as t
from datetime import datetime

import sqlalchemy as sa

from .database import insert_or_ignore, lock_rows

if t.TYPE_CHECKING:
    from .state import State

#: Expired keys removed per request: enough to keep up, small enough to stay quick.
PRUNE_BATCH = 500


def claim(state: State, key: str, expires_at: datetime) -> bool:
    """Mark ``key`` used; ``False`` when it already was (the request is a replay)."""
    Replay = state.models.WebhookReplay
    return insert_or_ignore(state.session, Replay, {"jti": key, "expires_at": expires_at}, ["jti"]) is not None


def prune(state: State, now: datetime) -> None:
    """Forget keys that expired before ``now``, skipping rows other transactions hold."""
    Replay = state.models.WebhookReplay
    expired = sa.select(Replay.jti).where(Replay.expires_at < now).order_by(Replay.jti).limit(PRUNE_BATCH)
    expired = lock_rows(expired, state.dialect(), skip_locked=True)
    statement = sa.delete(Replay).where(Replay.jti.in_(expired.scalar_subquery()))
    state.session.execute(statement, execution_options={"synchronize_session": False})
