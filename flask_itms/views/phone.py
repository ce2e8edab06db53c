"""The panel's own page and its five actions: each POSTs, commits, and goes back where it came from."""

from __future__ import annotations

import dataclasses
import typing as t

from flask import Response, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from .. import forms
from ..errors import InvalidAuthCode, InvalidPhoneNumber, ITMSError
from ..models import ConsentStatus
from ..panel import (
    AUTH_CODE,
    CLEAR_HOLD,
    OPT_OUT,
    QUICK_OPT_IN,
    REQUEST_OPT_IN,
    load_phone_view,
    render_panel,
    skip_assets,
)
from ..state import current_state
from .common import (
    AGENT,
    ANY_ROLE,
    FRAGMENT_HEADER,
    RoleRequired,
    add_notice,
    back_url,
    commit,
    error_page,
    form_problems,
    is_partial,
    require_role,
    rollback,
)

Run = t.Callable[[str, t.Any], str]


@dataclasses.dataclass(frozen=True)
class PanelAction:
    form: type[forms.PanelForm]
    #: Calls the service and returns the notice to show on success.
    run: Run
    #: Actions that could text the consumer wait until a review hold is decided.
    blocked_by_hold: bool = False


def _itms() -> t.Any:
    return current_state().itms


def _queued_note(e164: str) -> str:
    latest = _itms().messages(e164, limit=1)
    waiting = latest and latest[0].status == "queued" and latest[0].send_after
    if waiting and latest[0].send_after > current_state().now():
        return " It waits in the outbox until the consumer's quiet hours end."
    return ""


def _request_opt_in(e164: str, form: t.Any) -> str:
    _itms().request_opt_in(e164, account=form.account.data or None)
    return (
        "Opt-in request sent. When the consumer replies YES they get a PIN: enter it in Txt Msg Auth Code."
        + _queued_note(e164)
    )


def _quick_opt_in(e164: str, form: t.Any) -> str:
    _itms().quick_opt_in(e164, account=form.account.data or None)
    return "Quick Opt In sent. The consumer's YES completes the opt-in." + _queued_note(e164)


def _enter_auth_code(e164: str, form: t.Any) -> str:
    _itms().enter_auth_code(e164, form.code.data)
    return "Auth code accepted: the number is opted in and the consumer was sent a confirmation."


def _opt_out(e164: str, form: t.Any) -> str:
    _itms().opt_out(e164, reason="Opt Out in the agent panel")
    return "Opted out. The consumer was sent one final confirmation and will get no more texts."


def _clear_hold(e164: str, form: t.Any) -> str:
    consent = _itms().clear_hold(e164)
    if consent.status == ConsentStatus.OPTED_IN.value:
        return "Hold cleared: texting this number is allowed again."
    return "Hold cleared."


ACTIONS: dict[str, PanelAction] = {
    REQUEST_OPT_IN: PanelAction(forms.PanelForm, _request_opt_in, blocked_by_hold=True),
    QUICK_OPT_IN: PanelAction(forms.PanelForm, _quick_opt_in, blocked_by_hold=True),
    AUTH_CODE: PanelAction(forms.AuthCodeForm, _enter_auth_code, blocked_by_hold=True),
    OPT_OUT: PanelAction(forms.OptOutForm, _opt_out),
    CLEAR_HOLD: PanelAction(forms.PanelForm, _clear_hold),
}

HOLD_FIRST = "This number is on hold: read the consumer's last text, then choose Opt Out or Clear hold."


def phone(phone: str) -> ResponseReturnValue:
    """The panel on a page of its own: the no-JS landing page when no ``next`` is given."""
    try:
        require_role(*ANY_ROLE)
        e164 = _itms()._phone(phone)
    except (RoleRequired, InvalidPhoneNumber) as error:
        return error_page(error)
    return render_template("itms/phone.html", phone=e164)


def run_action(phone: str, action: str) -> ResponseReturnValue:
    """Parse the form, call the service, commit, and go back (or answer the script with the panel)."""
    spec = ACTIONS[action]
    try:
        e164 = _itms()._phone(phone)
        require_role(AGENT)
    except (RoleRequired, InvalidPhoneNumber) as error:
        if is_partial():
            skip_assets()
            html = render_panel(None, phone=phone, next_url="", notices=[], problem=str(error))
            return Response(html, status=error.code or 403, headers={FRAGMENT_HEADER: "panel"}, mimetype="text/html")
        return error_page(error)
    form = spec.form()
    next_url = back_url(form.next.data, url_for("itms.phone", phone=e164))
    if not form.validate_on_submit():
        return _finish(e164, "error", form_problems(form), next_url, 400)
    if spec.blocked_by_hold and load_phone_view(e164, messages=0, events=0).on_hold:
        return _finish(e164, "error", HOLD_FIRST, next_url, 409)
    try:
        notice = spec.run(e164, form)
    except InvalidAuthCode as error:
        commit()  # the wrong try is counted, and must stay counted
        return _finish(e164, "error", str(error), next_url, error.code or 400)
    except ITMSError as error:
        rollback()
        return _finish(e164, "error", str(error), next_url, getattr(error, "code", None) or 409)
    commit()
    return _finish(e164, "success", notice, next_url, 200)


def _finish(e164: str, level: str, text: str, next_url: str, status: int) -> ResponseReturnValue:
    if is_partial():
        return _panel_answer(e164, level, text, next_url, status)
    add_notice(e164, level, text)
    return redirect(next_url, 303)


def _panel_answer(e164: str, level: str, text: str, next_url: str, status: int) -> ResponseReturnValue:
    """The refreshed panel, for the script to swap in place of the old one."""
    skip_assets()
    html = render_panel(load_phone_view(e164), phone=e164, next_url=next_url, notices=[(level, text)])
    return Response(html, status=status, headers={FRAGMENT_HEADER: "panel"}, mimetype="text/html")


def request_opt_in(phone: str) -> ResponseReturnValue:
    return run_action(phone, REQUEST_OPT_IN)


def quick_opt_in(phone: str) -> ResponseReturnValue:
    return run_action(phone, QUICK_OPT_IN)


def auth_code(phone: str) -> ResponseReturnValue:
    return run_action(phone, AUTH_CODE)


def opt_out(phone: str) -> ResponseReturnValue:
    return run_action(phone, OPT_OUT)


def clear_hold(phone: str) -> ResponseReturnValue:
    return run_action(phone, CLEAR_HOLD)
