"""Screenshots of the panel in each status, the queue and the Text Msg Profile.

They land in $ITMS_SCREENSHOT_DIR when set (the README's come from
``ITMS_SCREENSHOT_DIR=docs/screenshots pytest tests/browser/test_screenshots.py``), else in the
test's temporary folder. Each one also checks that the screen it shows rendered as expected.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

from playwright.sync_api import expect

from .conftest import PHONE, UNKNOWN_PHONE, LiveHost, sign_in


def shoot(target: t.Any, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    target.screenshot(path=str(path), animations="disabled", caret="hide")
    assert path.stat().st_size > 1000


def test_screenshots(page: t.Any, live: LiveHost, screenshots: Path) -> None:
    itms, db = live.state.itms, live.state.db

    def act(call: t.Callable[[], t.Any]) -> None:
        with live.app.app_context():
            call()
            db.session.commit()

    page.set_viewport_size({"width": 1000, "height": 900})
    sign_in(page, "alice")
    panel = page.locator("[data-itms-panel]")
    badge = panel.locator(".itms-badge").first

    def panel_in(status: str, name: str) -> None:
        page.goto(live.page_url())
        expect(badge).to_have_text(status)
        shoot(panel, screenshots, name)

    panel_in("Not opted in", "panel-none")
    act(lambda: itms.request_opt_in(PHONE, account="ACCT-1001", actor="alice"))
    panel_in("Opt-in requested", "panel-pending")
    live.consumer_texts("YES", message_id="in-yes")
    panel_in("Awaiting auth code", "panel-awaiting-code")
    act(lambda: itms.enter_auth_code(PHONE, live.pin_sent_to(), actor="alice"))
    panel_in("Opted in", "panel-opted-in")
    live.consumer_texts("Please stop texting me at work", message_id="in-hold")
    panel_in("Opted in", "panel-on-hold")
    act(lambda: itms.opt_out(PHONE, actor="alice"))
    panel_in("Opted out", "panel-opted-out")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live.page_url())
    shoot(page, screenshots, "host-page-narrow")

    page.set_viewport_size({"width": 1000, "height": 900})
    live.consumer_texts("hi, who is this?", phone=UNKNOWN_PHONE, message_id="in-q1")
    live.consumer_texts("I got a letter about my account", phone=UNKNOWN_PHONE, message_id="in-q2")
    sign_in(page, "sam")
    page.goto(f"/itms/queue?phone={UNKNOWN_PHONE}&q=ortega")
    expect(page.get_by_role("radio")).to_have_count(2)
    shoot(page, screenshots, "queue")

    sign_in(page, "eddie")
    page.goto("/itms/templates")
    expect(page.get_by_role("heading", name="Ace System Msg Opt In")).to_be_visible()
    shoot(page, screenshots, "profile")
    page.goto("/itms/templates/ACE_SYSTEM_MSG_AUTH_CODE")
    page.get_by_label("Body").press("Control+End")
    page.get_by_label("Body").press_sequentially(" Msg&data rates may apply.")
    expect(page.locator("#itms-body-count")).to_have_text("GSM-7 · 1 segment · 122 characters")
    shoot(page, screenshots, "template-editor")
