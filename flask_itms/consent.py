"""The consent state machine of DESIGN.md: every transition, its audit event and signal.

Functions here take E.164 numbers, add to the session and flush; they never commit.
Each state change first locks the number's consent row, so two requests about one
number are applied one after the other.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import typing as t

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from . import messages, outbox, signals, template_store
from .database import insert_or_ignore, lock_rows
from .errors import InvalidAuthCode, InvalidTransition, ITMSError, OptedOut
from .models import ConsentStatus
from .phones import try_e164
from .state import app_object

if t.TYPE_CHECKING:
    from .state import State

NONE = ConsentStatus.NONE.value
PENDING = ConsentStatus.PENDING.value
AWAITING_CODE = ConsentStatus.AWAITING_CODE.value
OPTED_IN = ConsentStatus.OPTED_IN.value
OPTED_OUT = ConsentStatus.OPTED_OUT.value

#: The statuses an opt-in flow may (re)start from.
_STARTABLE = frozenset({NONE, PENDING, AWAITING_CODE})
_AUTH_CODE_DIGITS = 6


# -- reading -----------------------------------------------------------------------------


def find(state: State, phone: str) -> t.Any:
    """The consent row of ``phone``, or ``None`` when there is none yet."""
    Consent = state.models.Consent
    return state.session.scalars(sa.select(Consent).where(Consent.phone == phone)).one_or_none()


def account_of(state: State, phone: str) -> tuple[bool, str | None]:
    """Whether ``phone`` has a consent row, and the account on it: one plain read, no lock."""
    Consent = state.models.Consent
    connection = state.session.connection(bind_arguments={"mapper": Consent})
    row = connection.execute(_account_query(Consent), {"phone": phone}).first()
    return (False, None) if row is None else (True, row.account)


@functools.cache
def _account_query(Consent: t.Any) -> sa.Select[t.Any]:
    return sa.select(Consent.account).where(Consent.phone == sa.bindparam("phone"))


def status(state: State, phone: str) -> ConsentStatus:
    consent = find(state, phone)
    return ConsentStatus(consent.status) if consent is not None else ConsentStatus.NONE


def can_text(state: State, phone: str) -> bool:
    consent = find(state, phone)
    return consent is not None and bool(consent.can_text)


#: A North American number already written as E.164 is stored: "+1" and ten digits, the
#: first 2-9. phonenumbers reads such a string back as itself (no national prefix to
#: strip) or as an invalid number, and no consent row holds an invalid number: the
#: campaign gate may look it up as it is, without parsing it.
_NANP_E164 = re.compile(r"\+1[2-9][0-9]{9}")


def textable_among(state: State, phones: t.Iterable[object]) -> set[str]:
    """The E.164 numbers among ``phones``, in any format, that may be texted.

    Invalid numbers are never textable and are left out. Numbers already in E.164 (as a
    CRM keeps them) skip phonenumbers, which would cost far more than the query: a
    100,000-number campaign list is parsed in milliseconds instead of seconds.
    """
    region = state.settings.default_region
    fast = _NANP_E164.fullmatch
    numbers = set()
    for phone in phones:
        if isinstance(phone, str) and fast(phone):
            numbers.add(phone)
        elif (e164 := try_e164(phone, region)) is not None:
            numbers.add(e164)
    return textable(state, list(numbers))


def textable(state: State, phones: list[str]) -> set[str]:
    """The numbers among ``phones`` (E.164) that may be texted, in one query whatever their count."""
    if not phones:
        return set()
    Consent = state.models.Consent
    connection = state.session.connection(bind_arguments={"mapper": Consent})
    dialect = connection.dialect.name
    query = sa.select(Consent.phone).where(Consent.status == OPTED_IN, sa.not_(Consent.on_hold))
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        wanted = sa.bindparam("phones", phones, type_=ARRAY(sa.String))
        query = query.where(Consent.phone == sa.any_(wanted))
    elif dialect == "sqlite":
        import json

        listed = sa.select(sa.column("value", sa.String)).select_from(sa.func.json_each(json.dumps(phones)))
        query = query.where(Consent.phone.in_(listed))
    else:
        query = query.where(Consent.phone.in_(phones))
    # Core, not the ORM: these are strings, and a campaign list may return 100,000 of them.
    return set(connection.execute(query).scalars().all())


# -- the building blocks of every transition ---------------------------------------------


def lock(state: State, phone: str, *, session: Session | None = None) -> t.Any:
    """Lock and return the consent row of ``phone``, creating it (status none) if missing.

    The insert-or-ignore comes first: on SQLite it takes the write lock at once, and on
    PostgreSQL the row then exists for ``SELECT … FOR UPDATE`` to lock.
    """
    session = session or state.session
    Consent = state.models.Consent
    now = state.now()
    insert_or_ignore(
        session,
        Consent,
        {
            "phone": phone,
            "status": NONE,
            "on_hold": False,
            "auth_code_attempts": 0,
            "created_at": now,
            "updated_at": now,
        },
        ["phone"],
    )
    query = sa.select(Consent).where(Consent.phone == phone)
    dialect = session.get_bind(Consent).dialect.name
    return session.scalars(lock_rows(query, dialect), execution_options={"populate_existing": True}).one()


def _lock_existing(state: State, phone: str) -> t.Any:
    """Lock the consent row of ``phone`` if it has one; ``None`` (and no new row) otherwise.

    For actions that a number with no record can only refuse: refusing must change nothing.
    """
    if find(state, phone) is None:
        return None
    return lock(state, phone)


def record(
    state: State,
    consent: t.Any,
    to: str,
    *,
    action: str,
    source: str,
    method: str | None = None,
    actor: str | None = None,
    message: t.Any = None,
    keyword: str | None = None,
    reason: str | None = None,
    session: Session | None = None,
) -> t.Any:
    """Move ``consent`` to ``to`` and append the audit event that says who, how and why."""
    session = session or state.session
    now = state.now()
    event = state.models.ConsentEvent(
        phone=consent.phone,
        from_status=consent.status,
        to_status=to,
        action=action,
        method=method,
        source=source,
        actor=actor,
        account=consent.account,
        message_id=message.id if message is not None else None,
        keyword=keyword,
        reason=reason,
        created_at=now,
    )
    consent.status = to
    if method is not None:
        # A re-request from pending switches the flow (agent <-> quick): YES must follow it.
        consent.method = method
    consent.updated_at = now
    consent.updated_by = actor
    session.add(event)
    session.flush()
    return event


def _clear_flow(consent: t.Any) -> None:
    consent.request_expires_at = None
    consent.auth_code_hash = None
    consent.auth_code_expires_at = None
    consent.auth_code_attempts = 0


def _queue_system(
    state: State,
    consent: t.Any,
    identifier: str,
    *,
    actor: str | None = None,
    daytime_only: bool | None = None,
    **extra: t.Any,
) -> t.Any:
    body = template_store.render(state, identifier, consent.phone, **extra)
    return outbox.queue(
        state,
        consent.phone,
        body,
        purpose=identifier,
        template=identifier,
        actor=actor,
        account=consent.account,
        daytime_only=daytime_only,
    )


def _refuse_outbound_start(consent: t.Any, action: str) -> None:
    if consent.status == OPTED_OUT:
        raise OptedOut(
            f"{consent.phone} has opted out, so no {action} can be sent. Only the consumer can"
            " re-open the conversation, by texting START."
        )
    if consent.status == OPTED_IN:
        raise InvalidTransition(f"{consent.phone} is already opted in; there is nothing to {action}.")
    _refuse_while_held(consent, action)


def _refuse_while_held(consent: t.Any, action: str) -> None:
    """The held reply may be a revocation: only opt_out or clear_hold may end the hold."""
    if consent.on_hold:
        raise InvalidTransition(
            f"{consent.phone} is on hold until an agent reviews its last reply: opt it out, or clear"
            f" the hold if it was not a revocation, before any {action}."
        )


# -- agent, supervisor and host actions ----------------------------------------------------


def start_opt_in(
    state: State,
    phone: str,
    *,
    method: str,
    source: str,
    account: str | None,
    actor: str | None,
    allowed_from: frozenset[str] = _STARTABLE,
) -> t.Any:
    """Send the opt-in request (agent, quick or supervisor method) and await YES."""
    consent = lock(state, phone)
    _refuse_outbound_start(consent, "opt-in request")
    if consent.status not in allowed_from:
        raise InvalidTransition(
            f"{phone} is {consent.status}; a {method} opt-in can start only from {', '.join(sorted(allowed_from))}."
        )
    if account is not None:
        consent.account = account
    _clear_flow(consent)
    consent.request_expires_at = state.now() + state.settings.opt_in_request_ttl
    record(state, consent, PENDING, action=f"{method}_opt_in_request", method=method, source=source, actor=actor)
    _queue_system(state, consent, messages.OPT_IN, actor=actor)
    signals.opt_in_requested.send(app_object(), phone=phone, consent=consent, method=method, actor=actor)
    return consent


def link_number(state: State, phone: str, account: str, *, actor: str | None) -> t.Any:
    return start_opt_in(
        state,
        phone,
        method="supervisor",
        source="supervisor",
        account=account,
        actor=actor,
        allowed_from=frozenset({NONE}),
    )


def _hash_code(phone: str, code: str) -> str:
    key = current_app.secret_key
    secret = key.encode() if isinstance(key, str) else bytes(key or b"")
    return hmac.new(secret, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def enter_auth_code(state: State, phone: str, code: str, *, actor: str | None) -> t.Any:
    """Finish an agent opt-in with the consumer's PIN.

    A wrong PIN counts an attempt (flushed, so commit it even though the call raised) and
    raises ``InvalidAuthCode``. An expired or exhausted PIN is dead: send a new request.
    """
    consent = _lock_existing(state, phone)
    if consent is None or consent.status != AWAITING_CODE:
        status = consent.status if consent is not None else NONE
        raise InvalidTransition(f"{phone} is {status}, not waiting for a Txt Msg Auth Code.")
    _refuse_while_held(consent, "finish the opt-in")
    now = state.now()
    dead = (
        consent.auth_code_hash is None
        or consent.auth_code_expires_at is None
        or consent.auth_code_expires_at <= now
        or consent.auth_code_attempts >= state.settings.auth_code_max_attempts
    )
    if dead:
        raise InvalidAuthCode(
            f"The auth code for {phone} has expired or been tried too often: send a new opt-in request."
        )
    given = "".join(str(code or "").split())
    if not hmac.compare_digest(_hash_code(phone, given), consent.auth_code_hash):
        consent.auth_code_attempts += 1
        left = state.settings.auth_code_max_attempts - consent.auth_code_attempts
        if left <= 0:
            consent.auth_code_hash = None
        state.session.flush()
        hint = f"{left} tries left." if left > 0 else "No tries left: send a new opt-in request."
        raise InvalidAuthCode(f"That is not the auth code sent to {phone}. {hint}")
    _clear_flow(consent)
    record(state, consent, OPTED_IN, action="auth_code_entered", method=consent.method, source="agent", actor=actor)
    _queue_system(state, consent, messages.OPTED_IN, actor=actor)
    signals.opted_in.send(app_object(), phone=phone, consent=consent, method=consent.method, actor=actor)
    return consent


def auto_opt_in(state: State, phone: str, *, account: t.Any, actor: str | None) -> t.Any:
    """Opt a number in without a reply, when the host's policy says the account qualifies.

    The policy gets the host's own account object; the consent keeps its ``str``.
    """
    policy = state.itms._auto_opt_in_policy
    if policy is None:
        raise ITMSError(
            "No auto opt-in policy is set: decorate a function (account) -> bool with @itms.auto_opt_in_policy."
        )
    if not policy(account):
        raise ITMSError(f"The auto opt-in policy does not allow account {str(account)!r}.")
    consent = lock(state, phone)
    _refuse_outbound_start(consent, "auto opt-in")
    consent.account = str(account)
    _clear_flow(consent)
    record(state, consent, OPTED_IN, action="auto_opt_in", method="auto", source="system", actor=actor)
    # Not a reply: the host's policy started this, so it waits for the consumer's daytime.
    _queue_system(state, consent, messages.OPTED_IN, actor=actor, daytime_only=True)
    signals.opted_in.send(app_object(), phone=phone, consent=consent, method="auto", actor=actor)
    return consent


def opt_out(
    state: State,
    phone: str,
    *,
    method: str,
    source: str,
    actor: str | None = None,
    reason: str | None = None,
    message: t.Any = None,
    keyword: str | None = None,
    confirm: bool = True,
) -> t.Any:
    """Opt a number out and queue its one confirmation. Raises if already opted out."""
    consent = lock(state, phone)
    if consent.status == OPTED_OUT:
        raise InvalidTransition(f"{phone} is already opted out.")
    opt_out_locked(
        state,
        consent,
        action="opt_out",
        method=method,
        source=source,
        actor=actor,
        reason=reason,
        message=message,
        keyword=keyword,
        confirm=confirm,
    )
    return consent


def opt_out_locked(
    state: State,
    consent: t.Any,
    *,
    action: str,
    method: str,
    source: str,
    actor: str | None = None,
    reason: str | None = None,
    message: t.Any = None,
    keyword: str | None = None,
    confirm: bool = True,
    session: Session | None = None,
) -> None:
    """Opt out a consent row the caller has locked and found not opted out.

    A carrier block is recorded in the outbox's own ``session``, not the app's; it is then
    passed to ``opted_out`` receivers as ``session`` so their writes commit with it.
    """
    extra: dict[str, t.Any] = {} if session is None else {"session": session}
    _clear_flow(consent)
    consent.on_hold = False
    consent.hold_message_id = None
    record(
        state,
        consent,
        OPTED_OUT,
        action=action,
        method=method,
        source=source,
        actor=actor,
        message=message,
        keyword=keyword,
        reason=reason,
        session=session,
    )
    if confirm:
        _confirm_opt_out(state, consent, message, actor)
    signals.opted_out.send(
        app_object(),
        phone=consent.phone,
        consent=consent,
        method=method,
        actor=actor,
        message=message,
        **extra,
    )


def _provider_confirms(state: State, message: t.Any) -> bool:
    """Whether the provider answers this text itself: the whole text is one of its keywords.

    Providers match the bare keyword, ignoring case and surrounding spaces, not what our
    classifier also reads as an opt-out ("Stop.", "STOP STOP", an emoji). Those still get
    our confirmation, and the audit trail never claims a confirmation nobody sent.
    """
    if message is None or not state.settings.provider_confirms_keywords:
        return False
    return " ".join(str(message.body).split()).casefold() in state.settings.provider_confirms_keywords


def _confirm_opt_out(state: State, consent: t.Any, message: t.Any, actor: str | None) -> None:
    if _provider_confirms(state, message):
        # The provider answers this keyword itself; a second confirmation would be spam.
        body = "(confirmation sent by the provider)"
        outbox.queue(
            state,
            consent.phone,
            body,
            purpose=messages.OPTED_OUT,
            template=messages.OPTED_OUT,
            account=consent.account,
            status="sent_by_provider",
        )
        return
    _queue_system(state, consent, messages.OPTED_OUT, actor=actor)


def provider_blocked(state: State, phone: str, reason: str | None, *, session: Session | None = None) -> None:
    """The carrier refused a text, or reported it undeliverable, because the number opted out or is blocked.

    No confirmation is sent: the carrier would refuse it, and the consumer revoked there.
    """
    consent = lock(state, phone, session=session)
    if consent.status == OPTED_OUT:
        return
    opt_out_locked(
        state,
        consent,
        action="provider_blocked",
        method="provider",
        source="provider",
        reason=reason,
        confirm=False,
        session=session,
    )


def clear_hold(state: State, phone: str, *, actor: str | None) -> t.Any:
    """An agent read the held text and decided it was not a revocation."""
    consent = _lock_existing(state, phone)
    if consent is None or not consent.on_hold:
        raise InvalidTransition(f"{phone} is not on hold.")
    consent.on_hold = False
    consent.hold_message_id = None
    record(state, consent, consent.status, action="hold_cleared", source="agent", actor=actor)
    return consent


# -- consumer replies ----------------------------------------------------------------------


def hold(state: State, consent: t.Any, message: t.Any, keyword: str | None) -> None:
    """Stop texting until an agent reads an ambiguous reply (the FCC's reasonable-person test)."""
    if consent.status == OPTED_OUT:
        return
    consent.on_hold = True
    consent.hold_message_id = message.id
    record(state, consent, consent.status, action="held", source="consumer", message=message, keyword=keyword)
    signals.consent_held.send(app_object(), phone=consent.phone, consent=consent, message=message)


def answer_yes(state: State, consent: t.Any, message: t.Any) -> None:
    """YES to a live request: a PIN for agent requests, opted in for quick and supervisor."""
    now = state.now()
    live = consent.status == PENDING and consent.request_expires_at is not None and consent.request_expires_at > now
    if not live or consent.on_hold:
        # DESIGN: a YES outside a live request is an ordinary message; and a YES after a
        # possible revocation waits for an agent to read the held text.
        return
    if consent.method == "agent":
        code = f"{secrets.randbelow(10**_AUTH_CODE_DIGITS):0{_AUTH_CODE_DIGITS}d}"
        consent.auth_code_hash = _hash_code(consent.phone, code)
        consent.auth_code_expires_at = now + state.settings.auth_code_ttl
        consent.auth_code_attempts = 0
        record(
            state,
            consent,
            AWAITING_CODE,
            action="yes",
            method="agent",
            source="consumer",
            message=message,
            keyword="yes",
        )
        _queue_system(state, consent, messages.AUTH_CODE, authCode=code)
        signals.auth_code_sent.send(app_object(), phone=consent.phone, consent=consent)
        return
    method = consent.method
    _clear_flow(consent)
    record(state, consent, OPTED_IN, action="yes", method=method, source="consumer", message=message, keyword="yes")
    _queue_system(state, consent, messages.OPTED_IN)
    signals.opted_in.send(app_object(), phone=consent.phone, consent=consent, method=method, actor=None)


def opt_in_by_keyword(state: State, consent: t.Any, message: t.Any, keyword: str | None) -> None:
    """START, UNSTOP or RESUME re-opens the conversation from none or opted out."""
    if consent.status not in (NONE, OPTED_OUT):
        return
    _clear_flow(consent)
    consent.on_hold = False
    record(
        state,
        consent,
        OPTED_IN,
        action="keyword_opt_in",
        method="keyword",
        source="consumer",
        message=message,
        keyword=keyword,
    )
    _queue_system(state, consent, messages.OPTED_IN)
    signals.opted_in.send(app_object(), phone=consent.phone, consent=consent, method="keyword", actor=None)


def answer_help(state: State, consent: t.Any, message: t.Any) -> None:
    """HELP is always answered (CTIA), whatever the consent says."""
    _queue_system(state, consent, messages.HELP)
    signals.help_requested.send(app_object(), phone=consent.phone, message=message)
