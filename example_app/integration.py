"""How the CRM plugs into flask-itms: the host callbacks and two signal receivers.

This is the file to copy from. flask-itms asks the host four questions: who is acting
(``actor_loader``), may they do this (``role_checker``), which account owns a number
(``account_lookup`` and ``account_search``), and may this account skip the YES
(``auto_opt_in_policy``). It announces every consent change with a signal.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from flask import Flask, current_app, has_request_context
from flask_login import current_user

from flask_itms import signals

from .extensions import db, itms
from .models import Account, Client, Phone, User


@itms.actor_loader
def current_actor() -> User | None:
    """The signed-in user; ``str(user)`` is recorded on every consent event."""
    if not has_request_context():
        return None  # a CLI command or worker acts as nobody in particular
    user = current_user._get_current_object()  # the User, not Flask-Login's proxy
    return user if isinstance(user, User) else None


@itms.role_checker
def user_has_role(actor: t.Any, role: str) -> bool:
    """Agents work the panel, supervisors also link unknown numbers, editors own the templates."""
    return isinstance(actor, User) and actor.has_role(role)


@itms.account_lookup
def account_for_number(e164: str) -> str | None:
    """The account number an inbound text belongs to; the oldest account wins a shared number."""
    query = sa.select(Account.number).join(Account.phones).where(Phone.number == e164).order_by(Account.id).limit(1)
    return db.session.scalar(query)


@itms.account_search
def search_accounts(query: str) -> list[tuple[str, str]]:
    """Accounts matching a name, account number or phone digits, for the supervisor's link form."""
    return [(account.number, account_label(account)) for account in find_accounts(query, limit=20)]


@itms.auto_opt_in_policy
def qualifies_for_auto_opt_in(account_number: t.Any) -> bool:
    """Clients whose business type is in ``CRM_AUTO_OPT_IN_BUSINESS_TYPES`` skip the YES."""
    query = sa.select(Client.business_type).join(Client.accounts).where(Account.number == str(account_number))
    business_type = db.session.scalar(query)
    return business_type in current_app.config["CRM_AUTO_OPT_IN_BUSINESS_TYPES"]


@itms.template_context
def account_placeholders(e164: str | None) -> dict[str, t.Any]:
    """Lets agent templates say ``${account.debtorName}`` and ``${account.balance}``."""
    account = None
    if e164 is not None and (number := account_for_number(e164)) is not None:
        account = db.session.scalars(sa.select(Account).where(Account.number == number)).one()
    return {
        "account": {
            "number": account.number if account else "",
            "debtorName": account.debtor_name if account else "",
            "balance": f"${account.balance:,.2f}" if account else "",
        }
    }


def find_accounts(query: str, *, limit: int = 50) -> list[Account]:
    """Accounts whose number, debtor name or phone number contains ``query``."""
    statement = sa.select(Account).order_by(Account.number).limit(limit)
    text = query.strip()
    if text:
        digits = "".join(char for char in text if char.isdigit())
        matches: list[sa.ColumnElement[bool]] = [
            Account.number.ilike(f"%{text}%"),
            Account.debtor_name.ilike(f"%{text}%"),
        ]
        if len(digits) >= 3:
            matches.append(Account.phones.any(Phone.number.contains(digits)))
        statement = statement.where(sa.or_(*matches))
    return list(db.session.scalars(statement))


def account_label(account: Account) -> str:
    return f"{account.number} · {account.debtor_name} · {account.client.name}"


def add_linked_number_to_account(app: Flask, phone: str, consent: t.Any, method: str, **extra: t.Any) -> None:
    """When a supervisor links an unknown number, file it as a phone record on that account.

    Signals are sent inside the transaction that records the change, so this row commits
    (or rolls back) with the link.
    """
    if method != "supervisor" or consent.account is None:
        return
    account = db.session.scalars(sa.select(Account).where(Account.number == consent.account)).one_or_none()
    if account is not None and all(existing.number != phone for existing in account.phones):
        account.phones.append(Phone(number=phone, kind="mobile"))


def log_opt_out(app: Flask, phone: str, method: str, actor: str | None, **extra: t.Any) -> None:
    """A real CRM would stop campaigns and flag the account here."""
    app.logger.info("%s opted out (%s, by %s)", phone, method, actor or "the consumer")


def connect_signals(app: Flask) -> None:
    """Receive flask-itms' signals for this app only."""
    signals.opt_in_requested.connect(add_linked_number_to_account, app)
    signals.opted_out.connect(log_opt_out, app)
