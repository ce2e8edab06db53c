"""The supervisor queue: texts from numbers no account claims, and linking them to an account."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from .. import forms
from ..errors import ITMSError
from ..panel import display_phone
from ..phones import try_e164
from ..queue import unlinked_numbers
from ..state import current_state
from .common import (
    SUPERVISOR,
    RoleRequired,
    add_notice,
    commit,
    error_page,
    form_problems,
    pop_notices,
    require_role,
    rollback,
)

SCOPE = "queue"
#: The most search results offered for one number.
SEARCH_RESULTS = 20


def _search(query: str) -> list[tuple[str, str]]:
    search = current_state().itms._account_search
    if search is None or not query:
        return []
    found: list[tuple[str, str]] = []
    for reference, label in search(query):
        found.append((str(reference), str(label)))
        if len(found) >= SEARCH_RESULTS:
            break
    return found


def queue() -> ResponseReturnValue:
    """Unknown numbers, the most recently active first, each with a way to find its account."""
    try:
        require_role(SUPERVISOR)
    except RoleRequired as error:
        return error_page(error)
    state = current_state()
    searching = try_e164(request.args.get("phone", ""), state.settings.default_region)
    query = request.args.get("q", "").strip()[:128]
    return render_template(
        "itms/queue.html",
        numbers=unlinked_numbers(state),
        display_phone=display_phone,
        searching=searching,
        query=query,
        results=_search(query) if searching else [],
        can_search=state.itms._account_search is not None,
        notices=pop_notices(SCOPE),
        form=forms.LinkForm(formdata=None),
    )


def link() -> ResponseReturnValue:
    """Link a number to an account, which sends it the opt-in request (method "supervisor")."""
    try:
        require_role(SUPERVISOR)
    except RoleRequired as error:
        return error_page(error)
    form = forms.LinkForm()
    back = url_for("itms.queue")
    if not form.validate_on_submit():
        add_notice(SCOPE, "error", form_problems(form))
        return redirect(back, 303)
    state = current_state()
    account = str(form.account.data).strip()
    label = account_label(account)
    if label is None:
        add_notice(SCOPE, "error", f"No account {account!r} was found: search again and pick one from the list.")
        return redirect(back, 303)
    try:
        phone = state.itms._phone(str(form.phone.data))
        state.itms.link_number(phone, account)
    except ITMSError as error:
        rollback()
        add_notice(SCOPE, "error", str(error))
        return redirect(back, 303)
    commit()
    add_notice(
        SCOPE,
        "success",
        f"{display_phone(phone)} is linked to {label} and was sent the opt-in request."
        " The consumer's YES completes the opt-in.",
    )
    return redirect(back, 303)


def account_label(account: str) -> str | None:
    """How to name ``account``, or ``None`` when the host's search cannot find it.

    With no ``@itms.account_search`` the supervisor's reference is taken as given.
    """
    if current_state().itms._account_search is None:
        return account
    for reference, label in _search(account):
        if reference == account:
            return f"{label} ({reference})" if label and label != reference else reference
    return None
