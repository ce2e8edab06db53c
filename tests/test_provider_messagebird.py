"""The MessageBird provider, through the real ``messagebird`` SDK, against a loopback stub."""

from __future__ import annotations

import socket
import typing as t
from datetime import timedelta

import pytest
from conftest import Clock
from flask import Flask
from messagebird_stub import StubMessageBird

from flask_itms import ITMS, ConsentStatus, signals
from flask_itms.providers.messagebird import MessageBirdProvider

PHONE = "+12015550123"
ORIGINATOR = "+18005550199"


def messagebird_config(stub: StubMessageBird, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "ITMS_PROVIDER": "messagebird",
        "ITMS_MESSAGEBIRD_ACCESS_KEY": "live_stubkey",
        "ITMS_ORIGINATOR": ORIGINATOR,
        "ITMS_MESSAGEBIRD_ENDPOINT": stub.url,
        "ITMS_MESSAGEBIRD_TIMEOUT": (0.5, 0.5),
        **extra,
    }


@pytest.fixture
def stub() -> t.Iterator[StubMessageBird]:
    with StubMessageBird(hang=1.5) as server:
        yield server


@pytest.fixture
def app(make_app: t.Callable[..., Flask], stub: StubMessageBird) -> t.Iterator[Flask]:
    app = make_app(**messagebird_config(stub))
    with app.app_context():
        yield app


def opt_in(itms: ITMS, db: t.Any, phone: str = PHONE) -> None:
    """Opt ``phone`` in the quick way, through the public API."""
    itms.quick_opt_in(phone, account="ACCT-1", actor="agent:alice")
    db.session.commit()
    itms.handle_inbound(phone, ORIGINATOR, "YES", provider_message_id=f"in-yes-{phone}")
    db.session.commit()
    assert itms.can_text(phone)


def send(itms: ITMS, db: t.Any, body: str = "Your payment plan is ready.", **kwargs: t.Any) -> t.Any:
    message = itms.send(PHONE, body, **kwargs)
    db.session.commit()
    db.session.refresh(message)
    return message


def request_for(stub: StubMessageBird, message: t.Any) -> t.Any:
    matching = [request for request in stub.requests if request.reference == str(message.id)]
    assert len(matching) == 1, matching
    return matching[0]


def run_worker(app: Flask, db: t.Any) -> None:
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["itms", "worker", "--once"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()


# -- startup ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "complaint"),
    [
        ("ITMS_MESSAGEBIRD_ACCESS_KEY", None, "ITMS_MESSAGEBIRD_ACCESS_KEY is not set"),
        ("ITMS_MESSAGEBIRD_ACCESS_KEY", "  ", "ITMS_MESSAGEBIRD_ACCESS_KEY is not set"),
        ("ITMS_ORIGINATOR", None, "ITMS_ORIGINATOR is not set"),
        ("ITMS_ORIGINATOR", "Acme Recovery Services", "neither a phone number"),
        ("ITMS_MESSAGEBIRD_ENDPOINT", "rest.messagebird.com", r"must be an http\(s\) URL"),
        ("ITMS_MESSAGEBIRD_TIMEOUT", (0, 5), "positive seconds"),
        ("ITMS_SEND_LEASE", 0.8, "must be longer than ITMS_MESSAGEBIRD_TIMEOUT"),
    ],
)
def test_startup_refuses_an_incomplete_setup(
    make_app: t.Callable[..., Flask], stub: StubMessageBird, setting: str, value: t.Any, complaint: str
) -> None:
    with pytest.raises(RuntimeError, match=complaint):
        make_app(**messagebird_config(stub, **{setting: value}))


def test_default_endpoint_is_the_sdks() -> None:
    from messagebird.client import ENDPOINT

    provider = MessageBirdProvider.from_config(
        {"ITMS_MESSAGEBIRD_ACCESS_KEY": "live_x", "ITMS_ORIGINATOR": "AcmeRecover"}
    )
    assert provider.http_client.endpoint == ENDPOINT
    assert provider.http_client.timeout == (3.05, 10.0)
    assert provider.report_url is None


# -- outcomes -----------------------------------------------------------------------------


def test_success_stores_the_provider_id(
    app: Flask, itms: ITMS, db: t.Any, stub: StubMessageBird, record_signal: t.Any
) -> None:
    opt_in(itms, db)
    sent = record_signal(signals.message_sent)
    message = send(itms, db, "Your plan: $50 on the 1st — thanks 🙂")

    request = request_for(stub, message)
    assert request.path == "/messages"
    assert request.headers["Authorization"] == "AccessKey live_stubkey"
    assert request.body["originator"] == ORIGINATOR
    assert request.body["recipients"] == PHONE.lstrip("+")
    assert request.body["body"] == "Your plan: $50 on the 1st — thanks 🙂 Reply STOP to opt out."
    assert request.body["datacoding"] == "auto"
    assert "reportUrl" not in request.body  # no ITMS_PUBLIC_URL
    assert message.status == "sent"
    assert message.provider_message_id == f"mb-{stub.count():06d}-{message.id}"
    assert message.attempts == 1
    assert [call["message"].id for call in sent.calls] == [message.id]


def test_report_url_is_our_status_route(make_app: t.Callable[..., Flask], stub: StubMessageBird) -> None:
    app = make_app(**messagebird_config(stub, ITMS_PUBLIC_URL="https://crm.example.com/", ITMS_URL_PREFIX="/texts"))
    with app.app_context():
        state = app.extensions["itms"]
        db = state.db
        opt_in(state.itms, db)
        message = send(state.itms, db)
        assert request_for(stub, message).body["reportUrl"] == "https://crm.example.com/texts/messagebird/status"


def test_a_422_fails_for_good_with_the_providers_code(
    app: Flask, itms: ITMS, db: t.Any, stub: StubMessageBird, clock: Clock, record_signal: t.Any
) -> None:
    opt_in(itms, db)
    failed = record_signal(signals.message_failed)
    stub.answer("invalid")
    message = send(itms, db)

    assert message.status == "failed"
    assert message.error_code == "10"
    assert "(#10 originator) originator is invalid" in message.error
    assert failed.calls[0]["message"].id == message.id
    assert failed.calls[0]["error"].permanent

    clock.advance(days=1)
    run_worker(app, db)
    assert stub.references()[str(message.id)] == 1  # never retried


def test_a_500_is_retried_and_the_worker_recovers(
    app: Flask, itms: ITMS, db: t.Any, stub: StubMessageBird, clock: Clock
) -> None:
    opt_in(itms, db)
    stub.answer("error500")
    message = send(itms, db)
    assert message.status == "queued"
    assert message.error_code == "http-500"
    assert message.send_after > clock.now
    assert message.attempts == 1

    run_worker(app, db)  # not due yet: the backoff holds it
    assert stub.references()[str(message.id)] == 1

    clock.advance(minutes=5)
    run_worker(app, db)
    db.session.refresh(message)
    assert message.status == "sent"
    assert message.error is None
    assert message.attempts == 2
    assert stub.references()[str(message.id)] == 2


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("error500-json", "HTTP 500"),
        ("error503", "HTTP 503"),
        ("no-balance", "(#25) Not enough balance"),
        ("garbled", "not JSON"),
    ],
)
def test_outages_and_retryable_refusals_are_retried(
    app: Flask, itms: ITMS, db: t.Any, stub: StubMessageBird, answer: str, why: str
) -> None:
    opt_in(itms, db)
    stub.answer(answer)
    message = send(itms, db)
    assert message.status == "queued"
    assert why in message.error


def test_a_bad_access_key_fails_for_good(app: Flask, itms: ITMS, db: t.Any, stub: StubMessageBird) -> None:
    opt_in(itms, db)
    stub.answer("unauthorized")
    message = send(itms, db)
    assert message.status == "failed"
    assert message.error_code == "2"


def test_a_timeout_is_retried(app: Flask, itms: ITMS, db: t.Any, stub: StubMessageBird, clock: Clock) -> None:
    opt_in(itms, db)
    stub.answer("timeout")  # the stub answers after 1.5 s; our read timeout is 0.5 s
    message = send(itms, db)
    assert message.status == "queued"
    assert "did not answer in time" in message.error

    clock.advance(minutes=5)
    run_worker(app, db)
    db.session.refresh(message)
    assert message.status == "sent"


def test_an_unreachable_endpoint_is_retried(make_app: t.Callable[..., Flask], stub: StubMessageBird) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    app = make_app(**{**messagebird_config(stub), "ITMS_MESSAGEBIRD_ENDPOINT": closed})
    with app.app_context():
        state = app.extensions["itms"]
        opt_in(state.itms, state.db)  # these texts stay queued too; the consent changes all the same
        message = send(state.itms, state.db)
        assert message.status == "queued"
        assert "Could not reach MessageBird" in message.error


def test_too_many_failures_fail_the_text(
    make_app: t.Callable[..., Flask], stub: StubMessageBird, clock: Clock, record_signal: t.Any
) -> None:
    app = make_app(**messagebird_config(stub, ITMS_SEND_MAX_ATTEMPTS=2))
    with app.app_context():
        state = app.extensions["itms"]
        db = state.db
        opt_in(state.itms, db)
        stub.default = "error503"
        message = send(state.itms, db)
        assert message.status == "queued"
        clock.advance(hours=1)
        run_worker(app, db)
        db.session.refresh(message)
        assert message.status == "failed"
        assert message.attempts == 2
        assert "HTTP 503" in message.error


def test_a_blocked_recipient_is_opted_out(
    app: Flask, itms: ITMS, db: t.Any, stub: StubMessageBird, record_signal: t.Any
) -> None:
    opt_in(itms, db)
    opted_out = record_signal(signals.opted_out)
    stub.answer("blocked")
    message = send(itms, db)

    assert message.status == "failed"
    assert itms.status(PHONE) is ConsentStatus.OPTED_OUT
    event = itms.events(PHONE)[-1]
    assert (event.action, event.source, event.method) == ("provider_blocked", "provider", "provider")
    assert "opted out of messages" in event.reason
    assert [call["method"] for call in opted_out.calls] == ["provider"]
    # The carrier already blocks this number: no confirmation is queued.
    assert [m.template for m in itms.messages(PHONE) if m.template == "ACE_SYSTEM_MSG_OPTED_OUT"] == []


def test_blocked_codes_are_configurable(make_app: t.Callable[..., Flask], stub: StubMessageBird) -> None:
    app = make_app(**messagebird_config(stub, ITMS_MESSAGEBIRD_BLOCKED_CODES=["10"]))
    with app.app_context():
        state = app.extensions["itms"]
        opt_in(state.itms, state.db)
        stub.answer("invalid")
        send(state.itms, state.db)
        assert state.itms.status(PHONE) is ConsentStatus.OPTED_OUT


def test_an_error_about_our_account_is_not_a_block(app: Flask, itms: ITMS, db: t.Any, stub: StubMessageBird) -> None:
    """'blocked' said of the originator or account must not opt the consumer out."""
    from messagebird_stub import ANSWERS

    ANSWERS["account-blocked"] = (422, {"errors": [{"code": 21, "description": "originator is blocked"}]})
    try:
        opt_in(itms, db)
        stub.answer("account-blocked")
        message = send(itms, db)
    finally:
        del ANSWERS["account-blocked"]
    assert message.status == "failed"
    assert itms.status(PHONE) is ConsentStatus.OPTED_IN


def test_a_template_with_a_picture_goes_as_mms(app: Flask, itms: ITMS, db: t.Any, stub: StubMessageBird) -> None:
    opt_in(itms, db)
    itms.create_template("PLAN_CARD", label="Plan card", body="Your new plan, ${customer.companyName}.")
    itms.update_template("PLAN_CARD", mms_url="https://crm.example.com/static/plan.png")
    db.session.commit()
    message = send(itms, db, None, template="PLAN_CARD")

    request = request_for(stub, message)
    assert request.path == "/mms"
    assert request.body["mediaUrls"] == ["https://crm.example.com/static/plan.png"]
    assert request.body["body"] == "Your new plan, Acme Recovery. Reply STOP to opt out."
    assert message.status == "sent"


def test_the_http_client_is_per_process_and_thread(app: Flask) -> None:
    import threading

    client = app.extensions["itms"].provider.http_client
    here = client._session()
    assert client._session() is here
    seen: list[t.Any] = []
    thread = threading.Thread(target=lambda: seen.append(client._session()))
    thread.start()
    thread.join()
    assert seen[0] is not here


def test_lease_must_outlast_timeouts_even_as_timedelta(make_app: t.Callable[..., Flask], stub: StubMessageBird) -> None:
    make_app(**messagebird_config(stub, ITMS_SEND_LEASE=timedelta(seconds=2)))  # 2 s > 0.5 + 0.5 s
    with pytest.raises(RuntimeError, match="ITMS_SEND_LEASE"):
        make_app(**messagebird_config(stub, ITMS_SEND_LEASE=timedelta(seconds=0.8)))


@pytest.mark.parametrize(
    ("code", "description", "parameter", "blocked"),
    [
        (9, "recipient has opted out", "recipients", True),
        (None, "Subscriber unsubscribed from this sender", None, True),
        (None, "destination number is blacklisted", None, True),
        (21, "originator is blocked", "originator", False),  # our problem, not the consumer's
        (2, "Request not allowed (incorrect access_key)", "access_key", False),
        (9, "no (correct) recipients found", "recipients", False),  # a bad number is not a refusal
        ("77", "anything at all", None, True),  # listed in ITMS_MESSAGEBIRD_BLOCKED_CODES
    ],
)
def test_what_counts_as_a_block(code: t.Any, description: str, parameter: str | None, blocked: bool) -> None:
    provider = MessageBirdProvider(access_key="live_x", originator=ORIGINATOR, blocked_codes=[77])
    assert provider.is_block(code, description, parameter) is blocked


@pytest.mark.parametrize(("reason", "final"), [("Recipient+opted+out", "opted_out"), ("Unknown+subscriber", "pending")])
def test_only_a_blocked_delivery_report_opts_the_number_out(
    make_app: t.Callable[..., Flask], stub: StubMessageBird, reason: str, final: str
) -> None:
    from messagebird_signer import MessageBirdSigner

    key = "k" * 64
    signer = MessageBirdSigner(key)
    app = make_app(**messagebird_config(stub, ITMS_MESSAGEBIRD_SIGNING_KEY=key))
    with app.app_context():
        itms = app.extensions["itms"].itms
        itms.request_opt_in(PHONE)
        app.extensions["itms"].session.commit()
        (request,) = itms.messages(PHONE)
        message_id, provider_id = request.id, request.provider_message_id
    assert provider_id

    def status_report(reason: str) -> int:
        query = (
            f"id={provider_id}&reference={message_id}&recipient=%2B12015550123&status=delivery_failed"
            f"&statusDatetime=2026-06-02T16%3A00%3A05%2B00%3A00&statusReason={reason}"
        )
        url = f"http://localhost/itms/messagebird/status?{query}"
        return app.test_client().get(f"/itms/messagebird/status?{query}", headers=signer.headers(url)).status_code

    assert status_report(reason) == 200
    with app.app_context():
        itms = app.extensions["itms"].itms
        assert itms.status(PHONE) == final
        blocks = [event for event in itms.events(PHONE) if event.to_status == "opted_out"]
        if final == "opted_out":
            (event,) = blocks
            assert (event.source, event.method) == ("provider", "provider")
            assert "opted out" in (event.reason or "")
        else:
            assert blocks == []
