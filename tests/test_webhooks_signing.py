"""Signatures without a server: MessageBird's published vectors, Bird's HMAC, the signed URL."""

from __future__ import annotations

import json
import typing as t
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from messagebird.request_validator import RequestValidator
from messagebird_signer import MessageBirdSigner, bird_headers

from flask_itms import signing

VECTORS = json.loads((Path(__file__).parent / "data" / "messagebird_signature_vectors.json").read_text())
KEY = "b" * 64


class FrozenDatetime(datetime):
    """PyJWT's clock, stopped at the instant MessageBird's vectors were made for."""

    frozen = datetime.fromisoformat(VECTORS["timestamp"])

    @classmethod
    def now(cls, tz: t.Any = None) -> FrozenDatetime:  # type: ignore[override]
        moment = cls.frozen.astimezone(tz) if tz is not None else cls.frozen.replace(tzinfo=None)
        return cls.fromtimestamp(moment.timestamp(), tz)


@pytest.fixture
def vector_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validate at the vectors' timestamp, as MessageBird's own SDK test does."""
    monkeypatch.setattr(jwt.api_jwt, "datetime", FrozenDatetime)


def _payload(case: dict[str, t.Any]) -> bytes:
    return str(case.get("payload", "")).encode("utf-8")


@pytest.mark.usefixtures("vector_time")
@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda case: case["name"])
def test_messagebird_published_vectors(case: dict[str, t.Any]) -> None:
    verify = lambda: signing.verify_messagebird_jwt(case["token"], case["url"], _payload(case), VECTORS["secret"])  # noqa: E731
    if case["valid"]:
        proof = verify()
        claims = jwt.decode(case["token"], options={"verify_signature": False})
        assert proof.replay_key == f"jwt:{claims['jti']}"
        assert proof.expires_at == datetime.fromtimestamp(claims["exp"], UTC) + signing.JWT_LEEWAY
    else:
        with pytest.raises(signing.SignatureError):
            verify()


VALID_CASES = [case for case in VECTORS["cases"] if case["valid"]]


@pytest.mark.parametrize("case", VALID_CASES, ids=lambda case: case["name"])
def test_signer_reproduces_messagebird_tokens_byte_for_byte(case: dict[str, t.Any]) -> None:
    header = jwt.get_unverified_header(case["token"])
    published = jwt.decode(case["token"], options={"verify_signature": False})
    signer = MessageBirdSigner(VECTORS["secret"], algorithm=header["alg"], lifetime=published["exp"] - published["nbf"])
    claims = signer.claims(case["url"], _payload(case), issued=published["nbf"], jti=published["jti"])
    assert claims == published
    assert list(claims) == list(published)
    assert signer.encode(claims) == case["token"]


def test_signer_tokens_pass_the_sdk_validator() -> None:
    url, body = "https://crm.example.com/itms/messagebird/inbound", b"originator=31612345678"
    for algorithm in ("HS256", "HS384", "HS512"):
        token = MessageBirdSigner(KEY, algorithm=algorithm).token(url, body)
        assert RequestValidator(KEY).validate_signature(token, url, body)["iss"] == "MessageBird"


# -- every SDK failure is a SignatureError, and none quotes the token or key ---------------

URL = "https://crm.example.com/itms/messagebird/status?id=1"


def test_token_without_url_hash_is_refused_not_a_key_error() -> None:
    claims = MessageBirdSigner(KEY).claims(URL)
    del claims["url_hash"]
    token = MessageBirdSigner(KEY).encode(claims)
    with pytest.raises(KeyError):  # what the SDK itself does
        RequestValidator(KEY).validate_signature(token, URL, b"")
    with pytest.raises(signing.SignatureError, match="malformed"):
        signing.verify_messagebird_jwt(token, URL, b"", KEY)


def test_str_body_is_refused_not_a_type_error() -> None:
    token = MessageBirdSigner(KEY).token(URL, b"x=1")
    with pytest.raises(TypeError):  # what the SDK itself does
        RequestValidator(KEY).validate_signature(token, URL, "x=1")
    with pytest.raises(signing.SignatureError):
        signing.verify_messagebird_jwt(token, URL, "x=1", KEY)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make_token",
    [
        lambda: "",
        lambda: "not-a-jwt",
        lambda: "a.b.c",
        lambda: MessageBirdSigner("c" * 64).token(URL),
        lambda: MessageBirdSigner(KEY).token("https://crm.example.com/elsewhere"),
        lambda: MessageBirdSigner(KEY).token(URL, issued=int(datetime.now(UTC).timestamp()) - 3600),
        lambda: MessageBirdSigner(KEY).token(URL, issued=int(datetime.now(UTC).timestamp()) + 3600),
        lambda: MessageBirdSigner(KEY).token(URL, b"a body that was not sent"),
        lambda: jwt.encode({"iss": "Someone", "nbf": 0, "exp": 2**40, "url_hash": "x"}, KEY, algorithm="HS256"),
        lambda: (
            jwt.encode({"iss": "MessageBird", "nbf": 0, "exp": 2**40}, KEY, algorithm="HS256").rsplit(".", 1)[0] + "."
        ),
    ],
    ids=[
        "empty",
        "garbage",
        "three-parts",
        "other-key",
        "other-url",
        "expired",
        "not-yet",
        "payload",
        "issuer",
        "unsigned",
    ],
)
def test_bad_tokens_raise_signature_error_without_quoting_secrets(make_token: t.Callable[[], str]) -> None:
    token = make_token()
    with pytest.raises(signing.SignatureError) as raised:
        signing.verify_messagebird_jwt(token, URL, b"", KEY)
    message = str(raised.value)
    assert KEY not in message
    assert not token or token not in message


def test_verify_requires_a_configured_key_and_the_matching_header() -> None:
    now = datetime.now(UTC)
    headers = signing.SignatureHeaders(jwt=MessageBirdSigner(KEY).token(URL))
    common: dict[str, t.Any] = {"now": now, "bird_max_age": timedelta(hours=1)}
    with pytest.raises(signing.SignatureError, match="no webhook signing key"):
        signing.verify(headers, URL, b"", messagebird_key=None, bird_key=None, **common)
    with pytest.raises(signing.SignatureError, match="missing signature header"):
        signing.verify(headers, URL, b"", messagebird_key=None, bird_key=KEY, **common)
    proof = signing.verify(headers, URL, b"", messagebird_key=KEY, bird_key=KEY, **common)
    assert proof.scheme == "messagebird-jwt"


# -- Bird's HMAC -----------------------------------------------------------------------------

BIRD_URL = "https://crm.example.com/itms/messagebird/inbound"
BODY = b'{"originator": "31612345678", "recipient": "3197010240126", "payload": "STOP"}'


def _bird(headers: dict[str, str], url: str = BIRD_URL, body: bytes = BODY, **options: t.Any) -> signing.Proof:
    return signing.verify_bird_signature(
        headers["messagebird-signature"],
        headers["messagebird-request-timestamp"],
        url,
        body,
        options.pop("key", KEY),
        now=options.pop("now", datetime.now(UTC)),
        max_age=options.pop("max_age", timedelta(hours=24)),
    )


def test_bird_signature_matches_the_documented_scheme() -> None:
    headers = bird_headers(KEY, BIRD_URL, BODY)
    assert (
        signing.bird_signature(KEY, headers["messagebird-request-timestamp"], BIRD_URL, BODY)
        == (headers["messagebird-signature"])
    )
    proof = _bird(headers)
    assert proof.scheme == "bird-hmac"
    assert proof.replay_key == _bird(headers).replay_key  # the same request is the same key
    assert proof.replay_key != _bird(bird_headers(KEY, BIRD_URL, BODY + b" "), body=BODY + b" ").replay_key


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"key": "d" * 64}, "does not match"),
        ({"body": BODY.replace(b"STOP", b"HELP")}, "does not match"),
        ({"url": BIRD_URL + "?x=1"}, "does not match"),
        ({"now": datetime.now(UTC) + timedelta(hours=25)}, "window"),
        ({"now": datetime.now(UTC) - timedelta(hours=25)}, "window"),
    ],
    ids=["key", "body", "url", "stale", "future"],
)
def test_bird_signature_refuses_changes(change: dict[str, t.Any], reason: str) -> None:
    headers = bird_headers(KEY, BIRD_URL, BODY)
    with pytest.raises(signing.SignatureError, match=reason):
        _bird(headers, **change)


@pytest.mark.parametrize(
    ("signature", "timestamp"),
    [("!!!", None), ("!!!", "1719823259x"), ("not base64!", "0"), ("", "")],
    ids=["no-timestamp", "bad-timestamp", "bad-base64", "empty"],
)
def test_bird_signature_refuses_malformed_headers(signature: str, timestamp: str | None) -> None:
    stamp = str(int(datetime.now(UTC).timestamp())) if timestamp == "0" else timestamp
    with pytest.raises(signing.SignatureError):
        signing.verify_bird_signature(
            signature, stamp, BIRD_URL, BODY, KEY, now=datetime.now(UTC), max_age=timedelta(hours=1)
        )


# -- the URL that was signed -----------------------------------------------------------------

ESCAPED = "id=abc&recipient=%2B12015550123&statusDatetime=2026-06-02T16%3A00%3A05%2B00%3A00"


@pytest.mark.parametrize(
    ("environ", "public_url", "expected"),
    [
        pytest.param(
            {"RAW_URI": f"/itms/messagebird/status?{ESCAPED}", "QUERY_STRING": ESCAPED, "HTTP_HOST": "crm.example.com"},
            None,
            f"http://crm.example.com/itms/messagebird/status?{ESCAPED}",
            id="gunicorn-raw-uri",
        ),
        pytest.param(
            {"REQUEST_URI": f"/itms/messagebird/status?{ESCAPED}", "QUERY_STRING": ESCAPED, "HTTP_HOST": "h:8080"},
            None,
            f"http://h:8080/itms/messagebird/status?{ESCAPED}",
            id="request-uri",
        ),
        pytest.param(
            {"RAW_URI": "/itms/messagebird/status", "QUERY_STRING": ESCAPED, "HTTP_HOST": "localhost"},
            None,
            f"http://localhost/itms/messagebird/status?{ESCAPED}",
            id="test-client-appends-raw-query",
        ),
        pytest.param(
            {"RAW_URI": "/itms/messagebird/inbound?", "QUERY_STRING": "", "HTTP_HOST": "localhost"},
            None,
            "http://localhost/itms/messagebird/inbound?",
            id="empty-query-kept-as-sent",
        ),
        pytest.param(
            {"RAW_URI": "http://crm.example.com/itms/x?a=%3A", "QUERY_STRING": "a=%3A", "HTTP_HOST": "crm.example.com"},
            None,
            "http://crm.example.com/itms/x?a=%3A",
            id="absolute-form",
        ),
        pytest.param(
            {"RAW_URI": "/itms/x?a=1", "QUERY_STRING": "a=1", "HTTP_HOST": "h", "wsgi.url_scheme": "https"},
            None,
            "https://h/itms/x?a=1",
            id="proxyfix-scheme",
        ),
        pytest.param(
            {"RAW_URI": "/itms/x?a=1", "QUERY_STRING": "a=1", "SCRIPT_NAME": "/crm", "HTTP_HOST": "h"},
            None,
            "http://h/crm/itms/x?a=1",
            id="proxyfix-prefix",
        ),
        pytest.param(
            {"RAW_URI": "/crm/itms/x?a=1", "QUERY_STRING": "a=1", "SCRIPT_NAME": "/crm", "HTTP_HOST": "h"},
            None,
            "http://h/crm/itms/x?a=1",
            id="script-name-already-in-raw-uri",
        ),
        pytest.param(
            {"RAW_URI": f"/itms/messagebird/status?{ESCAPED}", "QUERY_STRING": ESCAPED, "HTTP_HOST": "10.0.0.5:8000"},
            "https://crm.example.com/",
            f"https://crm.example.com/itms/messagebird/status?{ESCAPED}",
            id="public-url",
        ),
        pytest.param(
            {"PATH_INFO": "/itms/x", "QUERY_STRING": "a=%3A", "SERVER_NAME": "h", "SERVER_PORT": "8000"},
            None,
            "http://h:8000/itms/x?a=%3A",
            id="no-raw-uri",
        ),
    ],
)
def test_signed_url_is_the_url_as_sent(environ: dict[str, str], public_url: str | None, expected: str) -> None:
    assert signing.signed_url(environ, public_url) == expected
