"""Agent and host texts: the consent gate, templates, and the Reg F opt-out notice."""

from __future__ import annotations

import re
import typing as t

from . import consent, outbox, template_store
from .errors import ConsentRequired, ITMSError

if t.TYPE_CHECKING:
    from .state import State

_HAS_OPT_OUT_INSTRUCTIONS = re.compile(r"\bstop\b", re.IGNORECASE)


def with_opt_out_notice(body: str, notice: str) -> str:
    """Append the opt-out notice unless the body already tells how to stop (Reg F 1006.6(e))."""
    if not notice or _HAS_OPT_OUT_INSTRUCTIONS.search(body):
        return body
    return f"{body.rstrip()} {notice}"


def send(state: State, phone: str, body: str | None, *, template: str | None, actor: str | None) -> t.Any:
    """Queue a text to an opted-in number; raises ``ConsentRequired`` otherwise."""
    record = consent.find(state, phone)
    if record is None or not record.can_text:
        why = (
            "is on hold until an agent reviews its last reply"
            if record is not None and record.on_hold
            else (f"is {record.status if record is not None else 'none'}")
        )
        raise ConsentRequired(f"{phone} {why}; texts need an opted-in number (itms.can_text).")
    if template is not None:
        template_store.pickable_template(state, template)
        body = template_store.render(state, template, phone)
    if not body or not body.strip():
        raise ITMSError("send() needs a body or a template.")
    body = with_opt_out_notice(body, state.settings.opt_out_notice)
    purpose = "agent" if actor is not None else "host"
    return outbox.queue(state, phone, body, purpose=purpose, template=template, actor=actor, account=record.account)
