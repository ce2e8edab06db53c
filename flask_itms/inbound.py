"""Inbound texts: store each once, classify it, and apply what it means to the consent."""

from __future__ import annotations

import typing as t
from datetime import datetime

import sqlalchemy as sa

from . import consent as consent_service
from . import signals
from .database import insert_entity_or_ignore
from .keywords import Intent
from .phones import try_e164
from .state import app_object

if t.TYPE_CHECKING:
    from .state import State


def handle_inbound(
    state: State,
    originator: str,
    recipient: str | None,
    text: str,
    *,
    provider_message_id: str | None = None,
    received_at: datetime | None = None,
    originator_e164: str | None = None,
) -> tuple[t.Any, bool]:
    """Record an inbound text and act on it; returns ``(message, created)``.

    A text whose provider id was already stored is a carrier retry: the first copy is
    returned with ``created`` false and nothing else happens. A sender that is not a
    phone number (an alphanumeric id) is stored with no consent change.
    ``originator_e164`` is the originator already checked as a valid E.164 number (the
    webhook's schema does that), so it is not parsed twice.
    """
    app = app_object()
    phone = originator_e164 or try_e164(originator, state.settings.default_region)
    intent = state.classifier.classify(text) if phone is not None else None
    Message = state.models.Message
    now = state.now()
    values = {
        "direction": "inbound",
        "phone": phone or originator[:64],
        "our_number": recipient,
        "body": text,
        "status": "received",
        "intent": intent.intent.value if intent else None,
        "keyword": intent.keyword if intent else None,
        "provider_message_id": provider_message_id,
        "attempts": 0,
        "created_at": received_at or now,
    }
    # Most texts are ordinary replies that change no consent: they read the consent's
    # account without locking the row, and carry it in the INSERT itself.
    ordinary = phone is not None and intent is not None and intent.intent is Intent.OTHER
    known = False
    if ordinary and phone is not None:
        known, account = consent_service.account_of(state, phone)
        values["account"] = account or _lookup_account(state, phone)
    message = insert_entity_or_ignore(state.session, Message, values, ["direction", "provider_message_id"])
    if message is None:
        duplicate = sa.select(Message).where(
            Message.direction == "inbound", Message.provider_message_id == provider_message_id
        )
        return state.session.scalars(duplicate).one(), False
    if phone is None or intent is None:
        signals.message_received.send(app, message=message)
        return message, True

    if ordinary:
        if not known:
            consent_service.lock(state, phone)  # the number's first text: its consent row starts here
        signals.message_received.send(app, message=message)
        if message.account is None:
            signals.unlinked_message_received.send(app, phone=phone, message=message)
        return message, True

    consent = consent_service.lock(state, phone)
    account = consent.account or _lookup_account(state, phone)
    message.account = account
    signals.message_received.send(app, message=message)
    if account is None:
        signals.unlinked_message_received.send(app, phone=phone, message=message)

    if intent.intent is Intent.OPT_OUT:
        if consent.status != consent_service.OPTED_OUT:
            consent_service.opt_out_locked(
                state,
                consent,
                action="opt_out",
                method="keyword",
                source="consumer",
                message=message,
                keyword=intent.keyword,
            )
    elif intent.intent is Intent.OPT_IN:
        consent_service.opt_in_by_keyword(state, consent, message, intent.keyword)
    elif intent.intent is Intent.YES:
        consent_service.answer_yes(state, consent, message)
    elif intent.intent is Intent.HELP:
        consent_service.answer_help(state, consent, message)
    elif intent.intent is Intent.REVIEW:
        consent_service.hold(state, consent, message, intent.keyword)
    state.session.flush()
    return message, True


def _lookup_account(state: State, phone: str) -> str | None:
    lookup = state.itms._account_lookup
    if lookup is None:
        return None
    account = lookup(phone)
    return None if account is None else str(account)
