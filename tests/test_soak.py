"""A soak checked against the reference model: many numbers at once, through real gunicorn.

Thousands of signed webhooks and JSON-API agent actions go to gunicorn (four workers)
from sixteen threads, and every text the app sends goes through the real MessageBird
SDK to the loopback stub. Each number has a script, played in order (as one consumer
and one agent would), while the numbers run concurrently; so the outcome is exactly
determined despite the concurrency, and ``tests/consent_model.py`` says what it must be.
The scripts hold carrier retries (the same message id, signed anew), replayed requests
(the same token) and bursts of concurrent copies of one text.

Afterwards the database must agree with the model for every number: the status and the
hold, every audit event (from, to, action) in order, every text sent (by purpose), each
handed to the carrier exactly once; no text reached a number in a status the state
table does not allow it in (checked against the audit history, independently of the
model); every opt-out has exactly one confirmation; every text received is stored once.

CI runs about 1,000 webhooks per database; ``make soak`` runs 50,000 on PostgreSQL
(``ITMS_SOAK_WEBHOOKS``).
"""

from __future__ import annotations

import collections
import dataclasses
import os
import random
import re
import threading
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlencode

import phonenumbers
import pytest
import requests
import sqlalchemy as sa
from consent_model import OK, REFUSED, WRONG_PIN, Kind, Number, allowed_by_gates
from flask import Flask
from messagebird_signer import MessageBirdSigner
from messagebird_stub import StubMessageBird
from soak_wsgi import serve, soak_config

pytestmark = pytest.mark.slow

WEBHOOKS = int(os.environ.get("ITMS_SOAK_WEBHOOKS", "1000"))
THREADS = 16
KEY = "q" * 64
SIGNER = MessageBirdSigner(KEY, lifetime=300)
INBOUND = "/itms/messagebird/inbound"
OUR_NUMBER = "13125550100"

#: Texts of each kind, as DESIGN.md reads them. The model is told the kind, never the text.
TEXTS: dict[Kind, tuple[str, ...]] = {
    Kind.STOP: ("STOP", "Stop.", "stop", "UNSUBSCRIBE", "opt out", "⛔️", "🛑🛑", "STOP STOP", "ＳＴＯＰ"),
    Kind.START: ("START", "unstop", "Resume"),
    Kind.YES: ("YES", "Yes", "yes."),
    Kind.HELP: ("HELP", "Help?", "info"),
    Kind.REVIEW: ("Please stop texting me", "Can you stop by tomorrow?", "take me off your list", "end of the month"),
    Kind.OTHER: ("ok thanks", "I can pay $50 on Friday", "Who is this?", "👍", "yes please", "nonstop", "Gracias 🙏"),
}


# -- the workload ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Text:
    kind: Kind
    body: str
    message_id: str
    copies: int = 1  # sent this many times at once; one is stored


@dataclasses.dataclass(frozen=True)
class Retry:
    """The carrier delivers an earlier text again: signed anew, or the very same request."""

    message_id: str
    same_token: bool


@dataclasses.dataclass(frozen=True)
class Agent:
    action: str  # a JSON API action
    expected: int
    correct_pin: bool = True


Step = Text | Retry | Agent


def numbers(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    found: set[str] = set()
    while len(found) < count:
        candidate = f"+1{rng.choice(('201', '312', '415', '646', '702', '818'))}{rng.randint(2_000_000, 9_999_999)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            found.add(candidate)
    return sorted(found)


#: What happens next to a number, weighted by where it stands: enough to reach every state
#: and every refusal, with ordinary replies in between.
NEXT: dict[str, str] = {
    "on_hold": "clear-hold:25 opt-out:10 yes:20 other:15 review:5 stop:10 opt-in-request:5 auth-code:5 help:5",
    "none": "opt-in-request:25 quick-opt-in:20 link:10 start:8 other:15 stop:5 help:5 review:5 yes:5 clear-hold:2",
    "pending": "yes:45 other:15 stop:8 help:5 review:8 opt-in-request:5 quick-opt-in:5 opt-out:5 start:3 link:2"
    " auth-code:2",
    "awaiting_code": "auth-code:40 wrong-pin:15 other:10 stop:8 help:5 yes:4 review:5 opt-in-request:5 opt-out:5"
    " start:3",
    "opted_in": "other:45 help:10 stop:15 review:10 yes:5 start:5 opt-out:5 opt-in-request:3 auth-code:2",
    "opted_out": "start:30 other:25 stop:10 help:10 yes:5 opt-in-request:5 quick-opt-in:5 review:5 opt-out:3 link:2",
}


def _next(model: Number, rng: random.Random) -> str:
    pairs = [choice.split(":") for choice in NEXT["on_hold" if model.on_hold else model.status].split()]
    return rng.choices([name for name, _weight in pairs], [int(weight) for _name, weight in pairs])[0]


def script(phone: str, rng: random.Random, webhooks: int) -> tuple[list[Step], Number]:
    """A number's steps, about ``webhooks`` of them webhooks, and the model's final word."""
    model = Number()
    steps: list[Step] = []
    sent: list[Text] = []
    count = 0
    while count < webhooks:
        if sent and rng.random() < 0.08:
            steps.append(Retry(rng.choice(sent).message_id, same_token=rng.random() < 0.4))
            count += 1
            continue
        choice = _next(model, rng)
        if choice in {kind.value for kind in Kind}:
            kind = Kind(choice)
            copies = 3 if rng.random() < 0.05 else 1
            text = Text(kind, rng.choice(TEXTS[kind]), f"soak-{phone[1:]}-{len(steps)}", copies)
            model.consumer(kind)
            steps.append(text)
            sent.append(text)
            count += copies
        elif choice in ("opt-in-request", "quick-opt-in", "link"):
            method = {"opt-in-request": "agent", "quick-opt-in": "quick", "link": "supervisor"}[choice]
            steps.append(Agent(choice, model.start_opt_in(method)))
        elif choice in ("auth-code", "wrong-pin"):
            correct = choice == "auth-code"
            steps.append(Agent("auth-code", model.enter_pin(correct), correct_pin=correct))
        elif choice == "opt-out":
            steps.append(Agent("opt-out", model.opt_out()))
        else:
            steps.append(Agent("clear-hold", model.clear_hold()))
    return steps, model


# -- playing it ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Played:
    """What the server answered, for the checks."""

    stored: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    problems: list[str] = dataclasses.field(default_factory=list)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def problem(self, message: str) -> None:
        with self.lock:
            self.problems.append(message)


class Player:
    def __init__(self, base: str, stub: StubMessageBird, played: Played) -> None:
        self.base = base
        self.stub = stub
        self.played = played
        self.local = threading.local()
        self.copies = ThreadPoolExecutor(max_workers=THREADS * 2, thread_name_prefix="copies")

    def http(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return t.cast(requests.Session, self.local.session)

    def play(self, phone: str, steps: list[Step]) -> None:
        requests_by_id: dict[str, tuple[bytes, dict[str, str]]] = {}
        for number, step in enumerate(steps):
            where = f"{phone} step {number} {step}"
            if isinstance(step, Text):
                body = urlencode(
                    {"originator": phone[1:], "recipient": OUR_NUMBER, "payload": step.body, "id": step.message_id}
                ).encode()
                requests_by_id[step.message_id] = (body, self.signed(body))
                copies = [self.signed(body) for _ in range(step.copies)]
                results = list(self.copies.map(lambda headers, body=body: self.inbound(body, headers), copies))
                if sorted(results) != ["duplicate"] * (step.copies - 1) + ["stored"]:
                    self.played.problem(f"{where}: answered {results}")
                with self.played.lock:
                    self.played.stored[step.message_id] += results.count("stored")
            elif isinstance(step, Retry):
                body, headers = requests_by_id[step.message_id]
                result = self.inbound(body, headers if step.same_token else self.signed(body))
                if result != "duplicate":
                    self.played.problem(f"{where}: a retry answered {result}")
            else:
                status = self.agent(phone, step)
                if status != step.expected:
                    self.played.problem(f"{where}: the API answered {status}, the model says {step.expected}")

    def signed(self, body: bytes) -> dict[str, str]:
        return {**SIGNER.headers(self.base + INBOUND, body), "Content-Type": "application/x-www-form-urlencoded"}

    def inbound(self, body: bytes, headers: dict[str, str]) -> str:
        response = self.http().post(self.base + INBOUND, data=body, headers=headers, timeout=60)
        if response.status_code != 200:
            return f"HTTP {response.status_code}: {response.text[:200]}"
        return str(response.json()["result"])

    def agent(self, phone: str, step: Agent) -> int:
        user = "supervisor:sam" if step.action == "link" else "agent:alice"
        payload: dict[str, t.Any] = {}
        if step.action == "link":
            payload = {"account": f"ACCT-{phone[-4:]}"}
        elif step.action == "auth-code":
            pin = self.latest_pin(phone)
            payload = {"code": pin if step.correct_pin else f"{(int(pin) + 1) % 1_000_000:06d}"}
        url = f"{self.base}/itms/api/phones/{quote(phone)}/{step.action}"
        headers = {"Authorization": f"Bearer {user}"}
        return self.http().post(url, json=payload, headers=headers, timeout=60).status_code

    def latest_pin(self, phone: str) -> str:
        """The PIN in the last auth-code text the carrier got for ``phone``, or any code."""
        for request in reversed(list(self.stub.requests)):
            if str(request.body.get("recipients")) == phone[1:] and "PIN" in str(request.body.get("body")):
                match = re.search(r"\b(\d{6})\b", str(request.body["body"]))
                if match:
                    return match.group(1)
        return "000000"


# -- the test ----------------------------------------------------------------------------------


@pytest.fixture
def stub() -> t.Iterator[StubMessageBird]:
    with StubMessageBird() as stub:
        yield stub


def test_soak_matches_the_model(
    make_app: t.Callable[..., Flask], database_url: str, tmp_path: Path, stub: StubMessageBird
) -> None:
    app = make_app(**soak_config(database_url, KEY, stub.url), ITMS_CLOCK=None)
    rng = random.Random(2024)
    per_number = 10
    phones = numbers(max(WEBHOOKS // per_number, 1), seed=WEBHOOKS)
    scripts = {phone: script(phone, rng, per_number) for phone in phones}
    played = Played()
    started = time.monotonic()
    with serve(database_url, KEY, stub.url, tmp_path / "gunicorn.log", workers=4) as (base, _process):
        player = Player(base, stub, played)
        with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="numbers") as pool:
            list(pool.map(lambda item: player.play(item[0], item[1][0]), scripts.items()))
        player.copies.shutdown()
    elapsed = time.monotonic() - started
    webhooks = sum(
        step.copies if isinstance(step, Text) else 1
        for steps, _model in scripts.values()
        for step in steps
        if not isinstance(step, Agent)
    )
    agent_actions = sum(isinstance(step, Agent) for steps, _model in scripts.values() for step in steps)
    print(f"soak: {webhooks} webhooks and {agent_actions} agent actions for {len(phones)} numbers in {elapsed:.1f} s")
    assert webhooks >= WEBHOOKS
    assert not played.problems, "\n".join(played.problems[:20])
    check_database(app, scripts, played, stub)


def check_database(
    app: Flask, scripts: dict[str, tuple[list[Step], Number]], played: Played, stub: StubMessageBird
) -> None:
    state = app.extensions["itms"]
    Consent, Event, Message = state.models.Consent, state.models.ConsentEvent, state.models.Message
    with app.app_context(), state.db.engine.connect() as connection:
        consents = {row.phone: row for row in connection.execute(sa.select(Consent))}
        events: dict[str, list[t.Any]] = collections.defaultdict(list)
        for row in connection.execute(sa.select(Event).order_by(Event.id)):
            events[row.phone].append(row)
        outbound: dict[str, list[t.Any]] = collections.defaultdict(list)
        inbound: collections.Counter[str] = collections.Counter()
        for row in connection.execute(sa.select(Message).order_by(Message.id)):
            if row.direction == "outbound":
                outbound[row.phone].append(row)
            else:
                inbound[row.provider_message_id] += 1

    wrong: list[str] = []
    for phone, (steps, model) in scripts.items():
        consent = consents.get(phone)
        status = consent.status if consent is not None else "none"
        on_hold = bool(consent.on_hold) if consent is not None else False
        if (status, on_hold) != (model.status, model.on_hold):
            wrong.append(f"{phone}: {status}, hold {on_hold}; the model says {model.status}, hold {model.on_hold}")
        audit = [(row.from_status, row.to_status, row.action) for row in events[phone]]
        expected = [(event.from_status, event.to_status, event.action) for event in model.events]
        if audit != expected:
            wrong.append(f"{phone}: events {audit}; the model says {expected}")
        texts = [row.purpose for row in outbound[phone]]
        if texts != model.texts:
            wrong.append(f"{phone}: texts {texts}; the model says {model.texts}")
        if any(row.status != "sent" for row in outbound[phone]):
            wrong.append(f"{phone}: not every text was sent: {[row.status for row in outbound[phone]]}")
        wrong += gate_violations(phone, events[phone], outbound[phone])
        opt_outs = sum(1 for row in events[phone] if row.to_status == "opted_out" and row.from_status != "opted_out")
        confirmations = sum(1 for row in outbound[phone] if row.purpose == "ACE_SYSTEM_MSG_OPTED_OUT")
        if opt_outs != confirmations:
            wrong.append(f"{phone}: {opt_outs} opt-outs but {confirmations} confirmations")
        for step in steps:
            if isinstance(step, Text) and (inbound[step.message_id], played.stored[step.message_id]) != (1, 1):
                wrong.append(f"{phone}: {step.message_id} stored {inbound[step.message_id]} times")
    handed_over = stub.references()
    sent_ids = {str(row.id) for rows in outbound.values() for row in rows}
    twice = [reference for reference, count in handed_over.items() if count != 1]
    if twice or set(handed_over) != sent_ids:
        wrong.append(f"handed to the carrier other than exactly once: {twice[:10]}")
    assert not wrong, f"{len(wrong)} disagreements with the model, first ones:\n" + "\n".join(wrong[:20])


def gate_violations(phone: str, events: list[t.Any], texts: list[t.Any]) -> list[str]:
    """Texts sent while the number's status (from its audit history) did not allow them."""
    timeline = [(row.created_at, 0, row.to_status) for row in events]
    problems = []
    for text in texts:
        before = [status for moment, _order, status in timeline if moment <= text.created_at]
        status = before[-1] if before else "none"
        if not allowed_by_gates(text.purpose, status):
            problems.append(f"{phone}: {text.purpose} sent while {status}")
    return problems


def test_the_workload_reaches_every_status_refusal_and_hold() -> None:
    # The soak would prove little if it never reached the deep states. Same seed and
    # size as the CI soak, so this is what CI plays.
    rng = random.Random(2024)
    seen_statuses: set[str] = set()
    answers: set[int] = set()
    holds = yes_while_held = 0
    for phone in numbers(WEBHOOKS // 10, seed=WEBHOOKS):
        model = Number()
        steps, final = script(phone, rng, 10)
        for step in steps:  # replay the model step by step, to see the state before each
            if isinstance(step, Text):
                yes_while_held += step.kind is Kind.YES and model.status == "pending" and model.on_hold
                model.consumer(step.kind)
            elif isinstance(step, Agent):
                answers.add(step.expected)
                _apply(model, step)
        assert model == final
        seen_statuses |= {event.to_status for event in final.events}
        holds += any(event.action == "held" for event in final.events)
    assert seen_statuses >= {"pending", "awaiting_code", "opted_in", "opted_out"}
    assert answers == {OK, REFUSED, WRONG_PIN}
    assert holds > 5
    assert yes_while_held >= 1


def _apply(model: Number, step: Agent) -> None:
    if step.action in ("opt-in-request", "quick-opt-in", "link"):
        model.start_opt_in({"opt-in-request": "agent", "quick-opt-in": "quick", "link": "supervisor"}[step.action])
    elif step.action == "auth-code":
        model.enter_pin(step.correct_pin)
    elif step.action == "opt-out":
        model.opt_out()
    else:
        model.clear_hold()
