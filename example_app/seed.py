"""Demo data: three clients, five accounts, their phones, and one user per role.

``seed()`` is idempotent: it adds what is missing and leaves existing rows alone, so
``make demo`` can run it on every start.
"""

from __future__ import annotations

import typing as t
from decimal import Decimal

import sqlalchemy as sa

from .extensions import db
from .models import Account, Client, Phone, User

#: (username, name, roles, password): printed by ``make demo``.
USERS = [
    ("alice", "Alice Agent", "agent", "demo"),
    ("sam", "Sam Supervisor", "agent supervisor", "demo"),
    ("erin", "Erin Editor", "agent editor", "demo"),
]

#: (name, business type). "utility" qualifies for auto opt-in in the demo config.
CLIENTS = [
    ("Riverside Medical Group", "healthcare"),
    ("Summit Auto Finance", "auto_finance"),
    ("Metro Power & Light", "utility"),
]

#: (number, debtor, balance, client, [(phone, kind)]). Each drives one tour stop.
ACCOUNTS: list[tuple[str, str, str, str, list[tuple[str, str]]]] = [
    (
        "ACCT-1001",
        "Dana Whitfield",
        "1284.50",
        "Riverside Medical Group",
        [("+12015550123", "mobile"), ("+12015550147", "home")],
    ),
    ("ACCT-1002", "Marcus Reyes", "642.18", "Summit Auto Finance", [("+13125550188", "mobile")]),
    ("ACCT-1003", "Priya Natarajan", "219.77", "Metro Power & Light", []),
    ("ACCT-1004", "Jordan Lee", "3410.00", "Summit Auto Finance", []),
    ("ACCT-1005", "Dana Whitfield", "905.00", "Summit Auto Finance", [("+12015550123", "mobile")]),
]

#: Numbers the tour uses that no account holds at first.
AUTO_OPT_IN_NUMBER = "+16465550175"  # added to ACCT-1003, a utility account
UNKNOWN_NUMBER = "+14155550199"  # texts in, and a supervisor links it to ACCT-1004


def seed() -> dict[str, int]:
    """Add the missing demo rows and commit; returns how many of each kind were added."""
    added = {"users": 0, "clients": 0, "accounts": 0, "phones": 0}
    for username, name, roles, password in USERS:
        if _one(User, username=username) is None:
            user = User(username=username, name=name, roles=roles)
            user.set_password(password)
            db.session.add(user)
            added["users"] += 1
    clients = {}
    for name, business_type in CLIENTS:
        client = _one(Client, name=name)
        if client is None:
            client = Client(name=name, business_type=business_type)
            db.session.add(client)
            added["clients"] += 1
        clients[name] = client
    for number, debtor, balance, client_name, phones in ACCOUNTS:
        account = _one(Account, number=number)
        if account is None:
            account = Account(number=number, debtor_name=debtor, balance=Decimal(balance), client=clients[client_name])
            db.session.add(account)
            added["accounts"] += 1
            # Phones only with a new account: a phone the demo user deleted stays deleted.
            for phone, kind in phones:
                account.phones.append(Phone(number=phone, kind=kind))
                added["phones"] += 1
    db.session.commit()
    return added


def _one(model: t.Any, **where: t.Any) -> t.Any:
    return db.session.scalars(sa.select(model).filter_by(**where)).one_or_none()
