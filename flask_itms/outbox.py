"""The transactional outbox: texts are rows first, and reach the provider after commit.

``queue`` adds a row in the caller's transaction. ``deliver`` runs after that commit
(inline mode) or in ``flask itms worker``: it claims due rows, checks consent again,
hands each to the provider in its own short transaction, and records the outcome. A
provider failure never touches the change that queued the text.
"""

from __future__ import annotations

import logging
import random
import typing as t
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import messages, signals
from .database import lock_rows
from .models import ConsentStatus, mask_auth_code
from .phones import time_zones
from .providers import OutboundText, SendError
from .quiet_hours import next_allowed
from .state import app_object

if t.TYPE_CHECKING:
    from .state import State

logger = logging.getLogger("flask_itms.outbox")

#: Session.info key holding the ids queued in the current transaction.
PENDING_KEY = "itms_outbox"

#: The consent statuses in which each system text may go out (DESIGN "Gates").
_SYSTEM_GATES: dict[str, frozenset[str] | None] = {
    messages.OPT_IN: frozenset({ConsentStatus.PENDING.value}),
    messages.AUTH_CODE: frozenset({ConsentStatus.AWAITING_CODE.value}),
    messages.OPTED_IN: frozenset({ConsentStatus.OPTED_IN.value}),
    messages.OPTED_OUT: frozenset({ConsentStatus.OPTED_OUT.value}),
    messages.HELP: None,  # CTIA: HELP is always answered
}

#: System texts that a review hold stops at hand-off: they would carry the flow forward.
_HELD_BACK = frozenset({messages.OPT_IN, messages.AUTH_CODE, messages.OPTED_IN})

#: Purposes that wait for the consumer's daytime: everything an agent or host starts.
AGENT_INITIATED = frozenset({"agent", "host", messages.OPT_IN})


def gate_allows(purpose: str, consent: t.Any) -> bool:
    """May a text with this purpose go to a number whose consent is ``consent`` (or None)?"""
    status = consent.status if consent is not None else ConsentStatus.NONE.value
    held = consent is not None and consent.on_hold
    if purpose in _SYSTEM_GATES:
        allowed = _SYSTEM_GATES[purpose]
        if allowed is None:
            return True
        # A held reply may be a revocation: only its answers (HELP, the opt-out
        # confirmation) may still go out until an agent decides.
        return status in allowed and not (held and purpose in _HELD_BACK)
    return status == ConsentStatus.OPTED_IN.value and not held


def queue(
    state: State,
    phone: str,
    body: str,
    *,
    purpose: str,
    template: str | None = None,
    actor: str | None = None,
    account: str | None = None,
    status: str = "queued",
    daytime_only: bool | None = None,
) -> t.Any:
    """Add an outbound text to the caller's transaction; it is sent only after commit.

    ``daytime_only`` says whether it waits for the consumer's quiet-hours window; by
    default agent and host texts and the opt-in request wait, and replies do not.
    """
    now = state.now()
    send_after = now
    quiet = state.settings.quiet_hours
    if daytime_only is None:
        daytime_only = purpose in AGENT_INITIATED
    if quiet is not None and daytime_only:
        send_after = next_allowed(now, time_zones(phone), quiet, state.settings.fallback_time_zone)
    message = state.models.Message(
        direction="outbound",
        phone=phone,
        body=body,
        template=template,
        purpose=purpose,
        status=status,
        actor=actor,
        account=account,
        attempts=0,
        send_after=send_after,
        created_at=now,
        sent_at=now if status != "queued" else None,
    )
    session = state.session
    session.add(message)
    session.flush()
    if status == "queued":
        session.info.setdefault(PENDING_KEY, []).append(message.id)
    return message


def deliver(
    state: State,
    ids: list[int] | None = None,
    *,
    limit: int = 100,
    stop: t.Callable[[], bool] | None = None,
) -> int:
    """Hand due texts to the provider; returns how many were claimed.

    With ``ids`` only those rows are considered (inline mode, right after the commit
    that queued them); without, any due row is (the worker). Claims use
    ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers never share a row.
    When ``stop()`` turns true the texts not yet handed off are given back at once,
    rather than waiting for their lease to run out.
    """
    bind = state.session.get_bind(state.models.Message)
    with Session(bind=bind, expire_on_commit=False) as session:
        claimed = _claim(state, session, ids, limit)
        for index, message in enumerate(claimed):
            if stop is not None and stop():
                _release(state, session, claimed[index:])
                break
            _hand_off(state, session, message)
    return len(claimed)


def _claim(state: State, session: Session, ids: list[int] | None, limit: int) -> list[t.Any]:
    Message = state.models.Message
    now = state.now()
    due = sa.or_(
        sa.and_(Message.status == "queued", Message.send_after <= now),
        sa.and_(Message.status == "sending", Message.claimed_until < now),
    )
    query = sa.select(Message.id).where(Message.direction == "outbound", due).order_by(Message.id).limit(limit)
    if ids is not None:
        query = query.where(Message.id.in_(ids))
    with session.begin():
        candidates = list(session.scalars(lock_rows(query, bind_dialect(session), skip_locked=True)))
        if not candidates:
            return []
        # The conditional UPDATE is the claim: where rows cannot be locked (SQLite), a
        # second worker that read the same ids finds them no longer due.
        claim = (
            sa.update(Message)
            .where(Message.id.in_(candidates), due)
            .values(status="sending", attempts=Message.attempts + 1, claimed_until=now + state.settings.send_lease)
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        )
        claimed_ids = list(session.scalars(claim))
        claimed = list(
            session.scalars(
                sa.select(Message).where(Message.id.in_(claimed_ids)).order_by(Message.id),
                execution_options={"populate_existing": True},
            )
        )
    return claimed


def bind_dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _still_ours(state: State, session: Session, message: t.Any) -> bool:
    """Renew the lease on a claimed text, unless another worker has taken it over.

    ``attempts`` is the fencing token: every claim raises it, so a worker whose lease
    ran out (a long batch, a paused process) finds it changed and must not send.
    """
    Message = state.models.Message
    renew = (
        sa.update(Message)
        .where(Message.id == message.id, Message.status == "sending", Message.attempts == message.attempts)
        .values(claimed_until=state.now() + state.settings.send_lease)
        .execution_options(synchronize_session=False)
    )
    return bool(t.cast(sa.CursorResult[t.Any], session.execute(renew)).rowcount == 1)


def _release(state: State, session: Session, messages_left: list[t.Any]) -> None:
    """Give claimed texts back to the queue untouched, for the next worker."""
    Message = state.models.Message
    with session.begin():
        for message in messages_left:
            session.execute(
                sa.update(Message)
                .where(Message.id == message.id, Message.status == "sending", Message.attempts == message.attempts)
                .values(status="queued", attempts=Message.attempts - 1, claimed_until=None)
                .execution_options(synchronize_session=False)
            )


def _hand_off(state: State, session: Session, message: t.Any) -> None:
    Consent = state.models.Consent
    with session.begin():
        if not _still_ours(state, session, message):
            logger.warning("Message %s was taken over by another worker; not sending it again.", message.id)
            return
        consent = session.scalars(sa.select(Consent).where(Consent.phone == message.phone)).one_or_none()
        if not gate_allows(message.purpose, consent):
            session.add(message)
            message.status = "cancelled"
            message.claimed_until = None
            _forget_auth_code(message)
            message.error = f"Not sent: consent changed to {consent.status if consent else 'none'} before hand-off."
            return
        mms_url = _mms_url(state, session, message.template)
    text = OutboundText(message_id=message.id, phone=message.phone, body=message.body, mms_url=mms_url)
    try:
        provider_id = state.provider.send(text)
    except SendError as error:
        _record_failure(state, session, message, error)
    except Exception as error:  # a provider bug or network error: retry, never lose the text
        logger.exception("Provider %s raised while sending message %s", state.provider.name, message.id)
        _record_failure(state, session, message, SendError(f"{type(error).__name__}: {error}"))
    else:
        _record_success(state, session, message, provider_id)
        signals.message_sent.send(app_object(), message=message)


def _record_success(state: State, session: Session, message: t.Any, provider_id: str) -> None:
    """Mark a text sent, unless a delivery report already moved it further on.

    Fast carriers can report "delivered" before this commit; a conditional status keeps
    the report's answer instead of writing "sent" over it.
    """
    Message = state.models.Message
    body = mask_auth_code(message.body) if message.template == messages.AUTH_CODE else message.body
    with session.begin():
        session.execute(
            sa.update(Message)
            .where(Message.id == message.id)
            .values(
                status=sa.case((Message.status == "sending", "sent"), else_=Message.status),
                provider_message_id=sa.func.coalesce(Message.provider_message_id, provider_id),
                sent_at=state.now(),
                claimed_until=None,
                error=None,
                error_code=None,
                body=body,
            )
            .execution_options(synchronize_session=False)
        )
        session.refresh(message)


def _mms_url(state: State, session: Session, identifier: str | None) -> str | None:
    if identifier is None:
        return None
    Template = state.models.Template
    return session.scalar(sa.select(Template.mms_url).where(Template.identifier == identifier))


def _record_failure(state: State, session: Session, message: t.Any, error: SendError) -> None:
    from . import consent as consent_service

    now = state.now()
    final = error.permanent or message.attempts >= state.settings.send_max_attempts
    with session.begin():
        session.add(message)
        message.error = error.description
        message.error_code = error.code
        message.claimed_until = None
        if final:
            message.status = "failed"
            _forget_auth_code(message)
        else:
            message.status = "queued"
            message.send_after = now + _backoff(state.settings.send_retry_delay, message.attempts)
        if error.blocked:
            consent_service.provider_blocked(state, message.phone, message.error, session=session)
    if final:
        logger.warning("Message %s to %s failed: %s", message.id, message.phone, error.description)
        signals.message_failed.send(app_object(), message=message, error=error)


def _backoff(base: timedelta, attempt: int) -> timedelta:
    """Exponential backoff with jitter, so retries after an outage do not arrive at once."""
    delay: timedelta = base * (2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
    return delay


def _forget_auth_code(message: t.Any) -> None:
    """Once a PIN text is done with, keep only the masked body: the database holds no PIN."""
    if message.template == messages.AUTH_CODE:
        message.body = mask_auth_code(message.body)
