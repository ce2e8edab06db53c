"""Agent and host texts: the consent gate, templates, and the Reg F opt-out notice."""

from __future__ import annotations

import re
import typing as t

from . import consent, outbox, template_store
from .errors import ConsentRequired, ITMSError

if t.TYPE_CHECKING:
    from .state import State

#: Wording that tells the consumer how to opt out: "Reply STOP", "text STOP to …",
#: "STOP to cancel". A bare "stop" ("stop by our office") is not an instruction.
_HAS_OPT_OUT_INSTRUCTIONS = re.compile(
    r"\b(?:reply|replying|text|txt|send|respond)\s+(?:with\s+)?[\"'“‘]?stop\b"
    r"|\bstop[\"'”’]?\s+to\s+(?:opt[\s-]?out|cancel|unsubscribe|end|stop|quit)\b",
    re.IGNORECASE,
)


def has_opt_out_instructions(body: str, notice: str = "") -> bool:
    """Whether ``body`` already says how to opt out, in the notice's words or the usual ones."""
    folded = " ".join(body.casefold().split())
    if notice and " ".join(notice.casefold().split()) in folded:
        return True
    return bool(_HAS_OPT_OUT_INSTRUCTIONS.search(body))


def with_opt_out_notice(body: str, notice: str) -> str:
    """Append the opt-out notice unless the body already tells how to stop (Reg F 1006.6(e)).

    The check errs towards appending: a second instruction costs a few characters, a
    missing one breaks the rule.
    """
    if not notice or has_opt_out_instructions(body, notice):
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
