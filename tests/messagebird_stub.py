"""A stand-in for MessageBird's REST API on loopback, for driving the real SDK in tests.

It records every request and answers each one as told: a 201 with a message id, a 422
with MessageBird's ``errors`` body, a 500, a hang past the client's read timeout, or a
"recipient opted out" refusal. Nothing here touches the network beyond 127.0.0.1.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import threading
import time
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: What the stub can be told to answer: HTTP status and JSON body (``None``: plain text).
ANSWERS: dict[str, tuple[int, t.Any]] = {
    "invalid": (422, {"errors": [{"code": 10, "description": "originator is invalid", "parameter": "originator"}]}),
    "blocked": (
        422,
        {
            "errors": [
                {
                    "code": 9,
                    "description": "recipient has opted out of messages from this originator",
                    "parameter": "recipients",
                }
            ]
        },
    ),
    "no-balance": (422, {"errors": [{"code": 25, "description": "Not enough balance", "parameter": None}]}),
    "unauthorized": (401, {"errors": [{"code": 2, "description": "Request not allowed (incorrect access_key)"}]}),
    "error500": (500, None),
    "error500-json": (500, {"errors": [{"code": 99, "description": "internal error"}]}),
    "error503": (503, None),
    "garbled": (201, None),
}


@dataclasses.dataclass(frozen=True)
class StubRequest:
    """One request as the stub received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, t.Any]

    @property
    def reference(self) -> str | None:
        value = self.body.get("reference")
        return None if value is None else str(value)


class StubMessageBird:
    """A threaded HTTP server on 127.0.0.1 that plays MessageBird's ``/messages`` and ``/mms``.

    ``answer(...)`` queues one-shot answers ("ok", "timeout" or a key of ``ANSWERS``);
    when none is queued it gives ``default``. ``delay`` slows every answer down.
    """

    def __init__(self, *, default: str = "ok", delay: float = 0.0, hang: float = 2.0) -> None:
        self.default = default
        self.delay = delay
        self.hang = hang
        self.requests: list[StubRequest] = []
        self._queued: collections.deque[str] = collections.deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="stub-messagebird", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def __enter__(self) -> StubMessageBird:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, *behaviours: str) -> None:
        """Answer the next requests this way, in order, then fall back to ``default``."""
        for behaviour in behaviours:
            if behaviour not in ANSWERS and behaviour not in ("ok", "timeout"):
                raise ValueError(f"the stub cannot answer {behaviour!r}")
        with self._lock:
            self._queued.extend(behaviours)

    def references(self) -> collections.Counter[str | None]:
        """How many times each ``reference`` (our message id) was handed over."""
        with self._lock:
            return collections.Counter(request.reference for request in self.requests)

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def _next(self, request: StubRequest) -> str:
        with self._lock:
            self.requests.append(request)
            return self._queued.popleft() if self._queued else self.default

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in separate writes

            def log_message(self, format: str, *args: t.Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw or b"{}")
                request = StubRequest("POST", self.path, dict(self.headers.items()), body)
                behaviour = stub._next(request)
                if stub.delay:
                    time.sleep(stub.delay)
                if behaviour == "timeout":
                    time.sleep(stub.hang)  # past the client's read timeout; then accept, as a slow API would
                    behaviour = "ok"
                if behaviour == "ok":
                    self._reply(201, stub._created(request))
                    return
                status, payload = ANSWERS[behaviour]
                self._reply(status, payload)

            def _reply(self, status: int, payload: t.Any) -> None:
                data = b"upstream unavailable" if payload is None else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain" if payload is None else "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout) or was killed

        return Handler

    def _created(self, request: StubRequest) -> dict[str, t.Any]:
        """The 201 body MessageBird gives for a new message, trimmed to what the SDK reads."""
        with self._lock:
            number = len(self.requests)
        body = request.body
        recipients = str(body.get("recipients", ""))
        answer: dict[str, t.Any] = {
            "id": f"mb-{number:06d}-{body.get('reference')}",
            "href": f"https://rest.messagebird.com/messages/mb-{number:06d}",
            "direction": "mt",
            "type": "sms",
            "originator": body.get("originator"),
            "body": body.get("body"),
            "reference": body.get("reference"),
            "createdDatetime": "2026-06-02T16:00:00+00:00",
            "recipients": {
                "totalCount": 1,
                "totalSentCount": 1,
                "totalDeliveredCount": 0,
                "totalDeliveryFailedCount": 0,
                "items": [{"recipient": int(recipients), "status": "sent", "statusDatetime": None}]
                if recipients.isdigit()
                else [],
            },
        }
        if request.path.rstrip("/").endswith("mms"):
            answer["mediaUrls"] = body.get("mediaUrls")
        return answer
