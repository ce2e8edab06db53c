"""Every seed workflow walked through the demo over real HTTP: the simulator's signed replies
reach flask-itms' inbound webhook, and the texts come back to the simulated phone."""

from __future__ import annotations

import html
import re
import typing as t

import pytest
import requests
from crm_support import LiveServer, build_crm, csrf_token, dispose
from flask import Flask

from example_app.extensions import db, itms
from example_app.seed import AUTO_OPT_IN_NUMBER, UNKNOWN_NUMBER

DANA_MOBILE = "+12015550123"
MARCUS_MOBILE = "+13125550188"
OPT_IN_REQUEST = "Reply YES to receive msgs from Acme Recovery."
OPTED_IN = "Thank you for agreeing to receive msgs from Acme Recovery."
OPTED_OUT = "Acme Recovery: You are opted out"

_BUBBLE = re.compile(r'data-direction="(received|sent)">\s*<p>(.*?)</p>', re.S)


@pytest.fixture
def live(database_url: str) -> t.Iterator[LiveServer]:
    app = build_crm(database_url)
    with LiveServer(app) as server:
        yield server
    dispose(app)


class SimulatedPhone:
    """One consumer's phone in the simulator, used over HTTP as a person would."""

    def __init__(self, server: LiveServer, e164: str) -> None:
        self.url = f"{server.url}/dev/phones/{e164}"
        self.http = requests.Session()

    def received(self) -> list[str]:
        """The texts on the phone that the CRM sent, oldest first."""
        page = self.http.get(self.url, timeout=10)
        page.raise_for_status()
        return [html.unescape(body) for direction, body in _BUBBLE.findall(page.text) if direction == "received"]

    def reply(self, text: str) -> None:
        token = csrf_token(self.http.get(self.url, timeout=10).text)
        page = self.http.post(f"{self.url}/reply", data={"csrf_token": token, "text": text}, timeout=20)
        assert page.status_code == 200
        assert "sim-flash" not in page.text, re.findall(r'sim-flash"[^>]*>(.*?)</p>', page.text, re.S)


def act(app: Flask, action: t.Callable[[], object]) -> None:
    """Do what an agent or supervisor would, through the public API, and commit."""
    with app.app_context():
        action()
        db.session.commit()


def status(app: Flask, phone: str) -> str:
    with app.app_context():
        return itms.status(phone).value


def test_agent_initiated_opt_in_with_the_pin(live: LiveServer) -> None:
    phone = SimulatedPhone(live, DANA_MOBILE)
    act(live.app, lambda: itms.request_opt_in(DANA_MOBILE, account="ACCT-1001", actor="user:alice"))
    assert phone.received()[-1].startswith(OPT_IN_REQUEST)
    phone.reply("YES")
    assert status(live.app, DANA_MOBILE) == "awaiting_code"
    pin = re.search(r"\b(\d{6})\b", phone.received()[-1])
    assert pin is not None, phone.received()
    act(live.app, lambda: itms.enter_auth_code(DANA_MOBILE, pin.group(1), actor="user:alice"))
    assert status(live.app, DANA_MOBILE) == "opted_in"
    assert phone.received()[-1].startswith(OPTED_IN)


def test_quick_opt_in_needs_only_yes(live: LiveServer) -> None:
    phone = SimulatedPhone(live, MARCUS_MOBILE)
    act(live.app, lambda: itms.quick_opt_in(MARCUS_MOBILE, account="ACCT-1002", actor="user:alice"))
    phone.reply("yes")
    assert status(live.app, MARCUS_MOBILE) == "opted_in"
    received = phone.received()
    assert [text.split(".")[0] for text in received] == [OPT_IN_REQUEST.split(".")[0], OPTED_IN.split(".")[0]]


def test_supervisor_links_a_number_that_texted_in(live: LiveServer) -> None:
    phone = SimulatedPhone(live, UNKNOWN_NUMBER)
    phone.reply("Hi, this is Jordan Lee about my bill")
    with live.app.app_context():
        assert [message.phone for message in itms.unlinked()] == [UNKNOWN_NUMBER]
    act(live.app, lambda: itms.link_number(UNKNOWN_NUMBER, "ACCT-1004", actor="user:sam"))
    assert phone.received()[-1].startswith(OPT_IN_REQUEST)
    phone.reply("YES")
    assert status(live.app, UNKNOWN_NUMBER) == "opted_in"
    with live.app.app_context():
        assert itms.unlinked() == []


def test_auto_opt_in_when_an_agent_saves_a_utility_customer_number(live: LiveServer) -> None:
    agent = requests.Session()
    sign_in = agent.get(f"{live.url}/sign-in", timeout=10)
    agent.post(
        f"{live.url}/sign-in",
        data={"csrf_token": csrf_token(sign_in.text), "username": "alice", "password": "demo"},
        timeout=10,
    )
    account = agent.get(f"{live.url}/accounts/ACCT-1003", timeout=10)
    agent.post(
        f"{live.url}/accounts/ACCT-1003/phones",
        data={"csrf_token": csrf_token(account.text), "number": "(646) 555-0175", "kind": "mobile"},
        timeout=10,
    )
    assert status(live.app, AUTO_OPT_IN_NUMBER) == "opted_in"
    assert [text[:40] for text in SimulatedPhone(live, AUTO_OPT_IN_NUMBER).received()] == [OPTED_IN[:40]]


def test_keyword_and_emoticon_opt_outs_confirm_once_and_start_reopens(live: LiveServer) -> None:
    phone = SimulatedPhone(live, MARCUS_MOBILE)
    act(live.app, lambda: itms.quick_opt_in(MARCUS_MOBILE, account="ACCT-1002"))
    phone.reply("YES")
    phone.reply("Stop.")
    assert status(live.app, MARCUS_MOBILE) == "opted_out"
    phone.reply("STOP")  # already out: no second confirmation
    phone.reply("START")
    assert status(live.app, MARCUS_MOBILE) == "opted_in"
    phone.reply("🛑")
    assert status(live.app, MARCUS_MOBILE) == "opted_out"
    received = phone.received()
    assert sum(text.startswith(OPTED_OUT) for text in received) == 2
    assert received[-1].startswith(OPTED_OUT)
    assert received[-2].startswith(OPTED_IN)


def test_help_is_answered_without_changing_consent(live: LiveServer) -> None:
    phone = SimulatedPhone(live, DANA_MOBILE)
    phone.reply("HELP")
    assert status(live.app, DANA_MOBILE) == "none"
    [answer] = phone.received()
    assert "For help call +18005550100" in answer and "STOP" in answer
