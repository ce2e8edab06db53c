"""The CRM pages: accounts, their phone demographic records, and the Text Message Vendor page."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from flask_itms import InvalidTransition, OptedOut

from .extensions import db, itms, login_manager
from .forms import AddPhoneForm
from .integration import find_accounts, qualifies_for_auto_opt_in
from .models import Account, Phone, to_e164

bp = Blueprint("crm", __name__)


@bp.before_request
def require_sign_in() -> ResponseReturnValue | None:
    if not current_user.is_authenticated:
        return login_manager.unauthorized()  # type: ignore[no-any-return]
    return None


@bp.get("/")
def index() -> ResponseReturnValue:
    return redirect(url_for("crm.accounts"))


@bp.get("/accounts")
def accounts() -> ResponseReturnValue:
    query = request.args.get("q", "")
    return render_template("crm/accounts.html", accounts=find_accounts(query), query=query)


@bp.get("/accounts/<number>")
def account(number: str) -> ResponseReturnValue:
    account = _account_or_404(number)
    statuses = {phone.number: itms.status(phone.number) for phone in account.phones}
    return render_template("crm/account.html", account=account, statuses=statuses, form=AddPhoneForm())


@bp.post("/accounts/<number>/phones")
def add_phone(number: str) -> ResponseReturnValue:
    """Save a phone demographic record; a qualifying client's number is auto opted in."""
    account = _account_or_404(number)
    if not current_user.has_role("agent"):
        abort(403)
    form = AddPhoneForm()
    if not form.validate_on_submit():
        flash("Enter a phone number.", "error")
        return redirect(url_for("crm.account", number=number))
    try:
        e164 = to_e164(form.number.data or "", current_app.config["ITMS_DEFAULT_REGION"])
    except ValueError as error:
        flash(str(error), "error")
        return redirect(url_for("crm.account", number=number))
    if any(phone.number == e164 for phone in account.phones):
        flash(f"{e164} is already on this account.", "error")
        return redirect(url_for("crm.account", number=number))
    phone = Phone(number=e164, kind=form.kind.data)
    account.phones.append(phone)
    db.session.flush()
    flash(f"Saved {phone.display}.", "success")
    if qualifies_for_auto_opt_in(account.number):
        try:
            itms.auto_opt_in(e164, account=account.number)
            flash(f"{account.client.name} qualifies for auto opt-in: {phone.display} is opted in.", "success")
        except OptedOut:
            flash(f"{phone.display} opted out earlier; only the consumer can opt back in (START).", "error")
        except InvalidTransition:
            pass  # already opted in on another account
    db.session.commit()  # the Opted In text leaves after this commit
    return redirect(url_for("crm.account", number=number))


@bp.get("/accounts/<number>/phones/<int:phone_id>")
def phone(number: str, phone_id: int) -> ResponseReturnValue:
    """The phone demographic record, with the flask-itms panel under "Text Messaging"."""
    account = _account_or_404(number)
    phone = db.session.get(Phone, phone_id)
    if phone is None or phone.account_id != account.id:
        abort(404)
    return render_template("crm/phone.html", account=account, phone=phone)


@bp.get("/text-message-vendor")
def vendor() -> ResponseReturnValue:
    """The provider settings, the webhook URLs to give MessageBird, and the Text Msg Profile."""
    prefix = current_app.config["ITMS_URL_PREFIX"].rstrip("/")
    base = (current_app.config.get("ITMS_PUBLIC_URL") or request.host_url).rstrip("/")
    return render_template(
        "crm/vendor.html",
        templates=itms.templates(),
        inbound_url=f"{base}{prefix}/messagebird/inbound",
        status_url=f"{base}{prefix}/messagebird/status",
    )


def _account_or_404(number: str) -> Account:
    account = db.session.scalars(sa.select(Account).where(Account.number == number)).one_or_none()
    if account is None:
        abort(404)
    return account
