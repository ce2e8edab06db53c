"""A tiny host CRM for the view and browser tests: users, roles, accounts and a page embedding the panel."""

from __future__ import annotations

import re
import typing as t

from flask import Flask, redirect, render_template_string, session, url_for
from flask.typing import ResponseReturnValue

from flask_itms import ITMS

#: Who may do what. "vic" has no role at all.
USERS: dict[str, tuple[str, ...]] = {
    "alice": ("agent",),
    "sam": ("supervisor",),
    "eddie": ("editor",),
    "vic": (),
}
ACCOUNTS = {
    "ACCT-1001": "Dana Whitfield",
    "ACCT-2002": "Luis Ortega",
    "ACCT-3003": "Marta Ortega",
}
#: Numbers the host already has on an account.
KNOWN_NUMBERS = {"+12015550123": "ACCT-1001"}

# A host page with its own opinions (serif type, loud buttons, big headings): the panel must
# keep its own look inside it.
HOST_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme CRM · {{ account }}</title>
<meta name="csrf-token" content="{{ itms_csrf_token() }}">
<style>
  body { margin: 0; font: 16px/1.6 Georgia, "DejaVu Serif", serif; background: #eef0f3; color: #222; }
  .crm-bar { background: #253858; color: #fff; padding: 10px 20px; font-weight: bold; }
  .crm-layout { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 380px); gap: 20px; padding: 20px; }
  .crm-card { background: #fff; border-radius: 4px; padding: 16px 20px; }
  h1, h2 { font-size: 30px; color: #253858; }
  button { background: #ff5630; color: #fff; text-transform: uppercase; border-radius: 0; padding: 14px; }
  p { margin: 1em 0; }
  @media (max-width: 700px) { .crm-layout { grid-template-columns: minmax(0, 1fr); padding: 10px; } }
</style>
</head>
<body>
<div class="crm-bar">Acme CRM</div>
<div class="crm-layout">
  <main class="crm-card">
    <h1>Account {{ account }}</h1>
    <p>Phone record {{ phone }}</p>
    <p>Signed in as {{ user or "nobody" }}.</p>
  </main>
  <aside>{{ itms_phone_panel(phone, account) }}</aside>
</div>
</body>
</html>
"""


def install_host(app: Flask, itms: ITMS) -> None:
    """Give ``app`` the host's callbacks, a sign-in route and a phone page with the panel."""

    @itms.actor_loader
    def current_user() -> str | None:
        return session.get("user")

    @itms.role_checker
    def has_role(actor: t.Any, role: str) -> bool:
        return role in USERS.get(actor, ())

    @itms.account_lookup
    def lookup(phone: str) -> str | None:
        return KNOWN_NUMBERS.get(phone)

    @itms.account_search
    def search(query: str) -> list[tuple[str, str]]:
        wanted = query.casefold()
        return [(ref, name) for ref, name in ACCOUNTS.items() if wanted in ref.casefold() or wanted in name.casefold()]

    def login(user: str) -> ResponseReturnValue:
        session["user"] = user
        return redirect(url_for("host_phone", account="ACCT-1001", phone="+12015550123"))

    def host_phone(account: str, phone: str) -> ResponseReturnValue:
        return render_template_string(HOST_PAGE, account=account, phone=phone, user=session.get("user"))

    app.add_url_rule("/login/<user>", "login", login)
    app.add_url_rule("/accounts/<account>/phones/<phone>", "host_phone", host_phone)


def csrf_token(html: str) -> str:
    """The CSRF token the host page puts in ``<meta name="csrf-token">`` (as the README suggests)."""
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert match is not None, "the page has no csrf-token meta tag"
    return match.group(1)
