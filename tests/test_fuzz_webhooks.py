"""Fuzzing the webhooks: whatever a carrier, a proxy or an attacker sends, never a 500.

Two kinds of request go through the Flask test client, on SQLite and PostgreSQL:

- garbage: random methods, bodies, content types, charsets, query strings and
  signature headers (none, random, a real token for the wrong URL, body or key). Only
  200, 400, 401, 413 or 415 may come back, and anything but a 200 stores nothing;
- signed and valid, with random fields: any text, number, id and date, in a form, a
  JSON object or a query string, with extra and repeated fields. The signature holds,
  so only 200 or 400 may come back; a 200 stores the text exactly once.

Deterministic in CI (``derandomize``), with about 200 examples per property on SQLite
and fewer on PostgreSQL, where each example costs a few round trips.
"""

from __future__ import annotations

import json
import typing as t
from urllib.parse import quote, urlencode

import pytest
import sqlalchemy as sa
from conftest import POSTGRES_URL
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from messagebird_signer import MessageBirdSigner

KEY = "z" * 64
SIGNER = MessageBirdSigner(KEY)
WRONG_KEY = MessageBirdSigner("w" * 64)
INBOUND = "/itms/messagebird/inbound"
STATUS = "/itms/messagebird/status"
LIMIT = 2048  # ITMS_MAX_WEBHOOK_BYTES for these tests, so oversized bodies stay cheap to make

GARBAGE_ANSWERS = {200, 400, 401, 413, 415}
SIGNED_ANSWERS = {200, 400}


def fuzz(examples: int) -> settings:
    """About ``examples`` per property on SQLite; a third of that when PostgreSQL runs too."""
    return settings(
        max_examples=examples if POSTGRES_URL is None else max(examples // 3, 30),
        derandomize=True,
        database=None,
        deadline=None,
        # One app and database serve every example: each request is independent.
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@pytest.fixture
def hook_app(make_app: t.Callable[..., Flask]) -> Flask:
    app = make_app(ITMS_MESSAGEBIRD_SIGNING_KEY=KEY, ITMS_MAX_WEBHOOK_BYTES=LIMIT)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a bug must show as the 500 a carrier would get
    return app


def counts(app: Flask) -> dict[str, int]:
    state = app.extensions["itms"]
    tables = ("itms_message", "itms_consent", "itms_consent_event", "itms_webhook_replay")
    with app.app_context(), state.db.engine.connect() as connection:
        return {table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() for table in tables}


# -- strategies -------------------------------------------------------------------------------

#: Text as carriers and attackers send it: any code point, NUL and lone surrogates included
#: (a JSON body can carry "\\ud800"; broken SMS gateways pad with NUL or turn "@" into one).
ANY_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=40),
    st.lists(st.sampled_from(["STOP", "ok", "\x00", "\ud800", "\udfff", "é", "⛔", " "]), max_size=5).map("".join),
)
DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=18)
NUMBERS = st.one_of(
    st.sampled_from(["12015550123", "31612345678", "447911123456", "+12015550123", "(201) 555-0123", "AcmeBank"]),
    DIGITS,
    ANY_TEXT,
    st.integers(min_value=-(10**20), max_value=10**20),
)
DATES = st.one_of(
    st.sampled_from(["2026-06-02T16:00:00+00:00", "2026-06-02T16:00:00Z", "2026-06-02 16:00:00", "", "yesterday"]),
    ANY_TEXT,
    st.datetimes().map(lambda moment: moment.isoformat()),
)
TEXTS = st.one_of(
    st.sampled_from(["STOP", "stop.", "START", "YES", "HELP", "Please stop texting me", "⛔️", "ok", ""]),
    ANY_TEXT,
    st.text(max_size=300),
)
FIELD_VALUES = st.one_of(ANY_TEXT, st.integers(), st.none(), st.booleans(), st.floats(allow_nan=True))


@st.composite
def inbound_fields(draw: st.DrawFn) -> dict[str, t.Any]:
    fields: dict[str, t.Any] = {}
    for name, values in (
        ("originator", NUMBERS),
        ("recipient", NUMBERS),
        ("payload", TEXTS),
        ("body", TEXTS),
        ("id", st.one_of(ANY_TEXT, DIGITS, st.integers(), st.uuids().map(str))),
        ("createdDatetime", DATES),
    ):
        if draw(st.booleans() if name in ("body", "createdDatetime") else st.integers(0, 9).map(bool)):
            fields[name] = draw(values)
    extra = draw(st.dictionaries(st.text(max_size=12), FIELD_VALUES, max_size=3))
    return {**extra, **fields}


@st.composite
def status_fields(draw: st.DrawFn) -> dict[str, t.Any]:
    statuses = st.sampled_from(["delivered", "sent", "buffered", "expired", "delivery_failed", "scheduled", "x"])
    fields = {
        "id": draw(st.one_of(ANY_TEXT, st.uuids().map(str))),
        "recipient": draw(NUMBERS),
        "status": draw(st.one_of(statuses, ANY_TEXT)),
        "statusDatetime": draw(DATES),
    }
    for name in ("reference", "statusReason", "statusErrorCode", "mccmnc", "price[amount]"):
        if draw(st.booleans()):
            fields[name] = draw(st.one_of(ANY_TEXT, DIGITS, st.integers()))
    return fields


def _text(value: t.Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@st.composite
def encoded(draw: st.DrawFn, fields: dict[str, t.Any]) -> tuple[str, str, bytes, str | None]:
    """``(method, query, body, content type)`` carrying ``fields`` one of the ways carriers do."""
    how = draw(st.sampled_from(["form", "json", "query", "form-repeated"]))
    if how == "json":
        return "POST", "", json.dumps(fields).encode(), draw(st.sampled_from(["application/json", "text/x+json"]))
    pairs = [(key, _text(value)) for key, value in fields.items()]
    if how == "form-repeated" and pairs:
        pairs.append(draw(st.sampled_from(pairs)))
    try:
        text = urlencode(pairs, quote_via=quote)
    except UnicodeEncodeError:  # a lone surrogate: send its escaped bytes
        text = urlencode([(k, v.encode("utf-8", "surrogatepass")) for k, v in pairs], quote_via=quote)
    if how == "query":
        return "GET", text, b"", None
    charset = draw(st.sampled_from(["", "; charset=utf-8", "; charset=latin-1"]))
    return "POST", "", text.encode(), "application/x-www-form-urlencoded" + charset


def send(
    client: FlaskClient,
    path: str,
    method: str,
    query: str,
    body: bytes,
    content_type: str | None,
    headers: dict[str, str],
) -> t.Any:
    all_headers = dict(headers)
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    return client.open(path, method=method, query_string=query or None, data=body, headers=all_headers)


def signed_headers(path: str, query: str, body: bytes) -> dict[str, str]:
    url = f"http://localhost{path}" + (f"?{query}" if query else "")
    return SIGNER.headers(url, body)


# -- signed, valid, random fields ---------------------------------------------------------------


@fuzz(200)
@given(data=st.data())
def test_signed_inbound_with_random_fields_is_200_or_400(hook_app: Flask, data: st.DataObject) -> None:
    client = hook_app.test_client()
    fields = data.draw(inbound_fields())
    method, query, body, content_type = data.draw(encoded(fields))
    assume(len(body) + len(query) <= LIMIT)
    before = counts(hook_app)
    response = send(client, INBOUND, method, query, body, content_type, signed_headers(INBOUND, query, body))
    assert response.status_code in SIGNED_ANSWERS, response.get_data(as_text=True)
    assert response.is_json
    after = counts(hook_app)
    if response.status_code == 400:
        assert after == before
        assert response.json["error"]
    elif response.json == {"result": "stored"}:
        assert after["itms_message"] > before["itms_message"]
        assert after["itms_webhook_replay"] == before["itms_webhook_replay"] + 1
    else:
        assert response.json == {"result": "duplicate"}
        assert after["itms_message"] == before["itms_message"]


@fuzz(150)
@given(data=st.data())
def test_signed_status_report_with_random_fields_is_200_or_400(hook_app: Flask, data: st.DataObject) -> None:
    client = hook_app.test_client()
    fields = data.draw(status_fields())
    method, query, body, content_type = data.draw(encoded(fields))
    assume(len(body) + len(query) <= LIMIT)
    before = counts(hook_app)
    response = send(client, STATUS, method, query, body, content_type, signed_headers(STATUS, query, body))
    assert response.status_code in SIGNED_ANSWERS, response.get_data(as_text=True)
    if response.status_code == 400:
        assert counts(hook_app) == before


# -- garbage ----------------------------------------------------------------------------------------

#: What an HTTP header can carry: no line breaks (no server would deliver them).
HEADER_CHARACTERS = st.characters(max_codepoint=255, exclude_characters="\r\n")
CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "application/json",
            "application/json; charset=utf-16",
            "application/vnd.api+json",
            "multipart/form-data; boundary=x",
            "text/plain",
            "application/xml",
            "",
            ";;;",
        ]
    ),
    st.text(HEADER_CHARACTERS, max_size=30),
)
BODIES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    st.dictionaries(st.text(max_size=8), FIELD_VALUES, max_size=5).map(lambda d: json.dumps(d).encode()),
    st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=5).map(lambda d: urlencode(d).encode()),
    st.integers(LIMIT - 5, LIMIT + 50).map(lambda size: b"payload=" + b"S" * size),  # around the size limit
)


@st.composite
def signature_headers(draw: st.DrawFn, path: str, query: str, body: bytes) -> dict[str, str]:
    url = f"http://localhost{path}" + (f"?{query}" if query else "")
    kind = draw(st.sampled_from(["none", "random", "wrong-key", "wrong-url", "wrong-body", "expired", "bird", "valid"]))
    if kind == "none":
        return {}
    if kind == "random":
        return {"MessageBird-Signature-JWT": draw(st.text(HEADER_CHARACTERS, max_size=80))}
    if kind == "wrong-key":
        return WRONG_KEY.headers(url, body)
    if kind == "wrong-url":
        return SIGNER.headers(url + "&x=1", body)
    if kind == "wrong-body":
        return SIGNER.headers(url, body + b"x")
    if kind == "expired":
        return SIGNER.headers(url, body, issued=1_600_000_000)
    if kind == "bird":
        return {
            "messagebird-signature": draw(st.text(HEADER_CHARACTERS, max_size=40)),
            "messagebird-request-timestamp": "1",
        }
    return SIGNER.headers(url, body)


@fuzz(250)
@given(data=st.data())
def test_garbage_gets_only_200_400_401_413_415_and_writes_nothing_unless_200(
    hook_app: Flask, data: st.DataObject
) -> None:
    client = hook_app.test_client()
    path = data.draw(st.sampled_from([INBOUND, STATUS]))
    method = data.draw(st.sampled_from(["GET", "POST", "POST", "PUT"]))
    query = data.draw(st.one_of(st.just(""), st.text(alphabet=st.characters(max_codepoint=127), max_size=60)))
    body = data.draw(BODIES) if method != "GET" else b""
    content_type = data.draw(CONTENT_TYPES)
    headers = data.draw(signature_headers(path, query, body))
    before = counts(hook_app)
    response = send(client, path, method, query, body, content_type, headers)
    if method == "PUT":
        assert response.status_code == 405
        return
    assert response.status_code in GARBAGE_ANSWERS, (response.status_code, response.get_data(as_text=True))
    assert response.is_json
    if response.status_code != 200:
        assert counts(hook_app) == before
    if len(body) > LIMIT:
        assert response.status_code == 413


# -- what the fuzzing found, kept as plain tests ------------------------------------------------


def _post_json(client: FlaskClient, path: str, fields: dict[str, t.Any]) -> t.Any:
    body = json.dumps(fields).encode()
    headers = {**SIGNER.headers(f"http://localhost{path}", body), "Content-Type": "application/json"}
    return client.post(path, data=body, headers=headers)


def test_a_nul_or_lone_surrogate_in_the_text_is_kept_as_a_replacement_character(hook_app: Flask) -> None:
    # PostgreSQL refused the NUL (a 500, and the carrier retried forever); a lone surrogate
    # broke UTF-8 encoding on both databases. The text is kept: it may be an opt-out.
    client = hook_app.test_client()
    for number, text in enumerate(["STOP\x00", "STOP\ud800"]):
        fields = {"originator": "1201555012" + str(number), "recipient": "13125550100", "payload": text}
        response = _post_json(client, INBOUND, {**fields, "id": f"mb-nul-{number}"})
        assert (response.status_code, response.json) == (200, {"result": "stored"})
    state = hook_app.extensions["itms"]
    with hook_app.app_context():
        for number in range(2):
            [message] = state.itms.messages(f"+1201555012{number}")
            assert message.body == "STOP\ufffd"
            consent = state.itms.consent(f"+1201555012{number}")
            assert consent.on_hold  # not a bare keyword any more: an agent reads it
            assert not state.itms.can_text(f"+1201555012{number}")


@pytest.mark.parametrize("field", ["originator", "recipient", "id"])
@pytest.mark.parametrize("bad", ["\x00", "\udc80"])
def test_a_nul_or_lone_surrogate_in_a_number_or_id_is_a_400(hook_app: Flask, field: str, bad: str) -> None:
    fields = {"originator": "12015550123", "recipient": "13125550100", "payload": "hi", "id": "mb-1"}
    fields[field] = fields[field][:3] + bad
    response = _post_json(hook_app.test_client(), INBOUND, fields)
    assert response.status_code == 400
    assert response.json["field"] == field
    assert counts(hook_app)["itms_message"] == 0


def test_a_reference_beyond_any_message_id_is_no_message_of_ours(hook_app: Flask) -> None:
    # PostgreSQL's INTEGER overflowed on int(reference) and answered 500.
    fields = {
        "id": "mb-x",
        "reference": "3000000000",
        "recipient": "12015550123",
        "status": "delivered",
        "statusDatetime": "2026-06-02T16:00:00+00:00",
    }
    response = _post_json(hook_app.test_client(), STATUS, fields)
    assert (response.status_code, response.json) == (200, {"result": "ignored"})
