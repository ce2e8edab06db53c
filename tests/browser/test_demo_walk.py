"""A newcomer walks the demo in headless Chromium, as the README's tour tells them to: the
agent PIN opt-in, an emoticon opt-out seen on the consumer's phone, and a supervisor
linking a number that texted in. The consumer's replies go from the phone simulator to
the inbound webhook as signed MessageBird requests, over HTTP."""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import pytest
from crm_support import LiveServer, build_crm, dispose
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect


@pytest.fixture
def demo(tmp_path: Path) -> t.Iterator[LiveServer]:
    app = build_crm(f"sqlite:///{tmp_path / 'demo.db'}")
    with LiveServer(app) as server:
        yield server
    dispose(app)


@pytest.fixture
def context(browser: Browser, demo: LiveServer) -> t.Iterator[BrowserContext]:
    context = browser.new_context(base_url=demo.url, viewport={"width": 1200, "height": 900})
    context.set_default_timeout(10_000)
    yield context
    context.close()


def sign_in(page: Page, username: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Accounts")).to_be_visible()


def badge(page: Page) -> Locator:
    return page.locator("[data-itms-panel] .itms-badge").first


def texts_received(phone: Page) -> Locator:
    """The texts the CRM sent to the simulated phone, oldest first."""
    return phone.locator('.sim-bubble[data-direction="received"]')


def open_in_new_tab(page: Page, link: Locator) -> Page:
    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.wait_for_load_state()
    return tab


def test_agent_pin_opt_in_then_emoticon_opt_out(context: BrowserContext) -> None:
    agent = context.new_page()
    sign_in(agent, "alice")
    agent.get_by_role("link", name="ACCT-1001").click()
    agent.locator("#summary").get_by_role("link", name="(201) 555-0123").click()
    expect(badge(agent)).to_have_text("Not opted in")
    agent.get_by_role("button", name="Send Opt In Request").click()
    expect(badge(agent)).to_have_text("Opt-in requested")

    phone = open_in_new_tab(agent, agent.get_by_role("link", name="open this consumer's phone"))
    expect(texts_received(phone).last).to_contain_text("Reply YES to receive msgs from Acme Recovery")
    phone.get_by_role("button", name="YES", exact=True).click()
    expect(texts_received(phone).last).to_contain_text("your opt-in PIN is")
    pin = re.search(r"\b\d{6}\b", texts_received(phone).last.inner_text())
    assert pin is not None

    agent.reload()
    expect(badge(agent)).to_have_text("Awaiting auth code")
    agent.get_by_label("Txt Msg Auth Code").fill(pin.group())
    agent.get_by_role("button", name="Submit").click()
    expect(badge(agent)).to_have_text("Opted in")
    # The phone page was not reloaded: it shows new texts by itself.
    expect(texts_received(phone).last).to_contain_text("Thank you for agreeing to receive msgs")

    phone.get_by_role("button", name="🛑").click()
    expect(texts_received(phone).last).to_contain_text("You are opted out")
    expect(texts_received(phone).filter(has_text="opted out")).to_have_count(1)
    agent.reload()
    expect(badge(agent)).to_have_text("Opted out")
    # The same number on Dana's other account is opted out too.
    agent.goto("/accounts/ACCT-1005")
    expect(agent.locator("#summary .crm-status")).to_have_text("opted out")


def test_supervisor_links_a_number_that_texted_in(context: BrowserContext) -> None:
    supervisor = context.new_page()
    sign_in(supervisor, "sam")
    phone = open_in_new_tab(supervisor, supervisor.get_by_role("link", name="Phone simulator"))
    phone.get_by_label("Phone number").fill("(415) 555-0199")
    phone.get_by_role("button", name="Open phone").click()
    phone.get_by_label("Text message").fill("Hi, this is Jordan Lee about my bill")
    phone.get_by_role("button", name="Send", exact=True).click()
    expect(phone.locator('.sim-bubble[data-direction="sent"]')).to_have_text(re.compile("Jordan Lee"))
    expect(texts_received(phone)).to_have_count(0)

    supervisor.get_by_role("link", name="Supervisor queue").click()
    expect(supervisor.get_by_text("Hi, this is Jordan Lee about my bill")).to_be_visible()
    supervisor.get_by_label("Find the account for +1 415-555-0199").fill("Jordan")
    supervisor.get_by_role("button", name="Search").click()
    supervisor.get_by_role("radio", name=re.compile("ACCT-1004")).check()
    supervisor.get_by_role("button", name="Link and send opt-in request").click()
    expect(supervisor.get_by_text("Hi, this is Jordan Lee about my bill")).to_have_count(0)

    expect(texts_received(phone).last).to_contain_text("Reply YES to receive msgs from Acme Recovery")
    phone.get_by_role("button", name="YES", exact=True).click()
    expect(texts_received(phone).last).to_contain_text("Thank you for agreeing to receive msgs")

    # The link filed the number on Jordan's account, where it shows as opted in.
    supervisor.goto("/accounts/ACCT-1004")
    expect(supervisor.locator("#summary").get_by_role("link", name="(415) 555-0199")).to_be_visible()
    expect(supervisor.locator("#summary .crm-status")).to_have_text("opted in")
