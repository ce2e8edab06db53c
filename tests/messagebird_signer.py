"""Sign webhook requests the way MessageBird and Bird do, for tests.

``MessageBirdSigner`` builds the classic ``MessageBird-Signature-JWT`` exactly as
MessageBird does: header ``{"alg", "typ"}``, claims ``iss``, ``nbf``, ``exp``, ``jti``,
``url_hash`` (SHA-256 of the full URL as sent) and ``payload_hash`` (SHA-256 of the raw
body, only when there is a body), in that order. Fed the claims of MessageBird's
published test vectors it reproduces their tokens byte for byte (test_webhooks_signing).

``bird_headers`` is written from Bird's documented steps, independently of
``flask_itms.signing``, so the two check each other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import typing as t
import uuid

import jwt

JWT_HEADER = "MessageBird-Signature-JWT"


class MessageBirdSigner:
    """Makes ``MessageBird-Signature-JWT`` tokens with one signing key."""

    def __init__(self, key: str, *, algorithm: str = "HS256", lifetime: int = 60) -> None:
        self.key = key
        self.algorithm = algorithm
        self.lifetime = lifetime

    def claims(
        self,
        url: str,
        body: bytes = b"",
        *,
        issued: int | None = None,
        jti: str | None = None,
    ) -> dict[str, t.Any]:
        issued = int(time.time()) if issued is None else issued
        claims: dict[str, t.Any] = {
            "iss": "MessageBird",
            "nbf": issued,
            "exp": issued + self.lifetime,
            "jti": jti or str(uuid.uuid4()),
            "url_hash": hashlib.sha256(url.encode("utf-8")).hexdigest(),
        }
        if body:
            claims["payload_hash"] = hashlib.sha256(body).hexdigest()
        return claims

    def encode(self, claims: t.Mapping[str, t.Any]) -> str:
        return jwt.encode(dict(claims), self.key, algorithm=self.algorithm)

    def token(self, url: str, body: bytes = b"", **options: t.Any) -> str:
        return self.encode(self.claims(url, body, **options))

    def headers(self, url: str, body: bytes = b"", **options: t.Any) -> dict[str, str]:
        return {JWT_HEADER: self.token(url, body, **options)}


def bird_headers(key: str, url: str, body: bytes = b"", *, timestamp: int | None = None) -> dict[str, str]:
    """Bird's headers: base64 HMAC-SHA256(key, timestamp + "\\n" + url + "\\n" + raw SHA-256 of body)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    payload = stamp.encode() + b"\n" + url.encode() + b"\n" + hashlib.sha256(body).digest()
    signature = base64.b64encode(hmac.new(key.encode(), payload, hashlib.sha256).digest()).decode()
    return {"messagebird-signature": signature, "messagebird-request-timestamp": stamp}
