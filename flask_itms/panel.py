"""The agent's phone panel: what it shows, what it offers, and the ``itms_phone_panel`` Jinja global.

``load_phone_view`` gathers one number's consent, texts and allowed actions; the panel
template and the JSON API both show that one view, so they never disagree.
"""

from __future__ import annotations

import dataclasses
import typing as t
from datetime import UTC, datetime

import phonenumbers
from flask import render_template, request, url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from .errors import InvalidPhoneNumber
from .models import ConsentStatus
from .state import current_state
from .views.common import (
    AGENT,
    ANY_ROLE,
    NO_ROLE_CHECKER,
    SUPERVISOR,
    granted_roles,
    has_role_checker,
    here,
    pop_notices,
)

#: How many recent texts and events the panel shows.
PANEL_MESSAGES = 8
PANEL_EVENTS = 10

#: The panel's actions, in the order the panel offers them. The names are URL segments.
REQUEST_OPT_IN = "opt-in-request"
QUICK_OPT_IN = "quick-opt-in"
AUTH_CODE = "auth-code"
OPT_OUT = "opt-out"
CLEAR_HOLD = "clear-hold"
LINK = "link"

_STARTABLE = frozenset({ConsentStatus.NONE, ConsentStatus.PENDING, ConsentStatus.AWAITING_CODE})

STATUS_LABELS = {
    ConsentStatus.NONE: "Not opted in",
    ConsentStatus.PENDING: "Opt-in requested",
    ConsentStatus.AWAITING_CODE: "Awaiting auth code",
    ConsentStatus.OPTED_IN: "Opted in",
    ConsentStatus.OPTED_OUT: "Opted out",
}

#: How a number got where it is. An opted-out number's method is how it opted out.
METHOD_LABELS = {
    "agent": "Send Opt In Request",
    "quick": "Quick Opt In",
    "supervisor": "Supervisor link",
    "keyword": "Consumer keyword",
    "auto": "Auto opt-in",
    "provider": "Carrier block",
}
OPT_OUT_METHOD_LABELS = {
    "agent": "Agent Opt Out",
    "keyword": "Consumer opt-out keyword",
    "provider": "Carrier block",
}

MESSAGE_STATUS_LABELS = {
    "queued": "Queued",
    "sending": "Sending",
    "sent": "Sent",
    "sent_by_provider": "Sent by carrier",
    "cancelled": "Not sent",
    "failed": "Failed",
    "received": "Received",
    "delivered": "Delivered",
    "delivery_failed": "Not delivered",
    "expired": "Expired",
    "buffered": "Buffered",
    "scheduled": "Scheduled",
}

SOURCE_LABELS = {
    "consumer": "the consumer",
    "system": "the system",
    "provider": "the carrier",
    "agent": "an agent",
    "supervisor": "a supervisor",
}

EVENT_LABELS = {
    "agent_opt_in_request": "Send Opt In Request",
    "quick_opt_in_request": "Quick Opt In",
    "supervisor_opt_in_request": "Linked by a supervisor; opt-in request sent",
    "yes": "Consumer replied YES",
    "auth_code_entered": "Txt Msg Auth Code entered",
    "auto_opt_in": "Auto opt-in",
    "opt_out": "Opted out",
    "keyword_opt_in": "Consumer texted to opt back in",
    "provider_blocked": "Carrier reported a block",
    "held": "Put on hold for review",
    "hold_cleared": "Hold cleared",
}

LABELS = {
    "status": {status.value: label for status, label in STATUS_LABELS.items()},
    "method": METHOD_LABELS,
    "message_status": MESSAGE_STATUS_LABELS,
    "event": EVENT_LABELS,
}


def available_actions(status: ConsentStatus, on_hold: bool, roles: frozenset[str]) -> frozenset[str]:
    """What the panel offers an actor with ``roles`` for a number in ``status``.

    While a reply is on review hold, an agent first decides it: Opt Out or Clear hold.
    Nothing else is offered that could text a consumer who may have revoked consent.
    """
    actions: set[str] = set()
    if AGENT in roles:
        if status is not ConsentStatus.OPTED_OUT:
            actions.add(OPT_OUT)
        if on_hold:
            actions.add(CLEAR_HOLD)
        else:
            if status in _STARTABLE:
                actions |= {REQUEST_OPT_IN, QUICK_OPT_IN}
            if status is ConsentStatus.AWAITING_CODE:
                actions.add(AUTH_CODE)
    if SUPERVISOR in roles and status is ConsentStatus.NONE:
        actions.add(LINK)
    return frozenset(actions)


@dataclasses.dataclass(frozen=True)
class PhoneView:
    """One number as an agent sees it."""

    phone: str
    display_phone: str
    account: str | None
    status: ConsentStatus
    method: str | None
    updated_by: str | None
    #: Who made the last change: the actor, or "the consumer", "the system", "the carrier".
    changed_by: str | None
    updated_at: datetime | None
    on_hold: bool
    can_text: bool
    hold_message: t.Any
    messages: list[t.Any]
    events: list[t.Any]
    roles: frozenset[str]
    actions: frozenset[str]

    @property
    def panel_actions(self) -> frozenset[str]:
        """The actions the panel itself offers (linking lives in the supervisor queue)."""
        return self.actions - {LINK}

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def method_label(self) -> str | None:
        if not self.method:
            return None
        labels = OPT_OUT_METHOD_LABELS if self.status is ConsentStatus.OPTED_OUT else METHOD_LABELS
        return labels.get(self.method, self.method)


def display_phone(e164: str) -> str:
    """``+12015550123`` as people read it: ``+1 201-555-0123``."""
    return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def load_phone_view(
    phone: str, account: t.Any = None, *, messages: int = PANEL_MESSAGES, events: int = PANEL_EVENTS
) -> PhoneView:
    """Read one number's consent, recent texts and events, and what the current actor may do."""
    state = current_state()
    itms = state.itms
    e164 = itms._phone(phone)
    consent = itms.consent(e164)
    status = ConsentStatus(consent.status) if consent is not None else ConsentStatus.NONE
    on_hold = bool(consent is not None and consent.on_hold)
    hold_message = None
    if on_hold and consent.hold_message_id is not None:
        hold_message = state.session.get(state.models.Message, consent.hold_message_id)
    if account is None and consent is not None:
        account = consent.account
    if account is None and itms._account_lookup is not None:
        account = itms._account_lookup(e164)
    roles = granted_roles()
    recent_events = itms.events(e164, limit=max(events, 1))
    changed_by = consent.updated_by if consent is not None else None
    if changed_by is None and recent_events:
        source = recent_events[-1].source
        changed_by = SOURCE_LABELS.get(source, source)
    return PhoneView(
        phone=e164,
        display_phone=display_phone(e164),
        account=None if account is None else str(account),
        status=status,
        method=consent.method if consent is not None else None,
        updated_by=consent.updated_by if consent is not None else None,
        changed_by=changed_by,
        updated_at=consent.updated_at if consent is not None and consent.status != ConsentStatus.NONE else None,
        on_hold=on_hold,
        can_text=bool(consent is not None and consent.can_text),
        hold_message=hold_message,
        messages=itms.messages(e164, limit=messages) if messages else [],
        events=recent_events[-events:] if events else [],
        roles=roles,
        actions=available_actions(status, on_hold, roles),
    )


def panel_id(e164: str) -> str:
    return "itms-panel-" + e164.lstrip("+")


def render_panel(
    view: PhoneView | None,
    *,
    phone: str,
    next_url: str,
    notices: list[tuple[str, str]],
    problem: str | None = None,
) -> str:
    """The panel's HTML for ``view`` (or, with ``problem``, a panel that says what is wrong)."""
    return render_template(
        "itms/_panel.html",
        view=view,
        phone=phone,
        panel_id=panel_id(view.phone) if view is not None else "itms-panel-invalid",
        next_url=next_url,
        notices=notices,
        problem=problem,
        csrf_token=generate_csrf() if view is not None else "",
        assets=assets(),
        labels=LABELS,
        action_url=lambda action: url_for(f"itms.{action.replace('-', '_')}", phone=view.phone) if view else "",
    )


def phone_panel(phone: str, account: t.Any = None, *, next_url: str | None = None) -> Markup:
    """``{{ itms_phone_panel(phone, account) }}``: the agent panel, ready to embed in a host page."""
    if not has_role_checker():
        return Markup(render_panel(None, phone=str(phone), next_url="", notices=[], problem=NO_ROLE_CHECKER))
    try:
        view = load_phone_view(phone, account)
    except InvalidPhoneNumber as error:
        return Markup(render_panel(None, phone=str(phone), next_url="", notices=[], problem=str(error)))
    if not view.roles & set(ANY_ROLE):
        problem = "You have no texting role for this number. Ask an administrator for the agent role."
        return Markup(render_panel(None, phone=view.phone, next_url="", notices=[], problem=problem))
    return Markup(render_panel(view, phone=view.phone, next_url=next_url or here(), notices=pop_notices(view.phone)))


_ASSETS_KEY = "itms.assets_included"


def assets() -> Markup:
    """``{{ itms_assets() }}``: the panel's stylesheet and script, once per page.

    The panel calls it too, so a host only needs it to load the assets in ``<head>``.
    """
    if request.environ.get(_ASSETS_KEY):
        return Markup("")
    request.environ[_ASSETS_KEY] = True
    css = url_for("itms.static", filename="itms/itms.css")
    js = url_for("itms.static", filename="itms/itms.js")
    return Markup(f'<link rel="stylesheet" href="{css}">\n<script src="{js}" defer></script>\n')


def skip_assets() -> None:
    """Mark the assets as already on the page (a panel fragment swapped in by the script)."""
    request.environ[_ASSETS_KEY] = True


def format_time(value: datetime | None) -> str:
    """A short UTC time for the page; the panel's script shows it in the reader's time zone."""
    if value is None:
        return ""
    value = value.astimezone(UTC)
    return f"{value:%b} {value.day}, {value:%Y} {value:%H:%M} UTC"
