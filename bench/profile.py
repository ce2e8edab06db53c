"""Where a webhook's CPU goes: flask-itms step by step, next to the bare floor.

The same signed requests go through each app in this process (Flask's test client, so
no HTTP server in the way), and each step of flask-itms' inbound route is timed with
the process's CPU clock. The steps nest as the route calls them; "the rest" is Flask,
Werkzeug and the test client, which the bare endpoint pays as well. This is the profile
behind the webhook ratio in the report.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import time
import typing as t
from pathlib import Path

from flask_itms import inbound, outbox, replay, webhooks

from .webhooks import Database, phone_numbers, write_requests
from .wsgi import INBOUND, create_bare_app

#: (module, function, label), outermost first; inner steps are subtracted from outer ones.
STEPS: tuple[tuple[t.Any, str, str], ...] = (
    (webhooks, "_signed_request", "read the body, check the signature (MessageBird SDK, PyJWT)"),
    (webhooks, "_load", "parse and validate the fields (marshmallow, phonenumbers)"),
    (webhooks, "_first_use", "claim the replay key (INSERT … ON CONFLICT)"),
    (inbound, "handle_inbound", "store, classify and apply the text (INSERT, SELECT; locks for keywords)"),
    (replay, "prune", "prune expired replay keys (once a second)"),
    (outbox, "deliver", "send queued replies after the commit (inline mode; STOP, HELP, YES)"),
)


@dataclasses.dataclass(frozen=True)
class Profile:
    requests: int
    bare_ms: float
    itms_ms: float
    steps: list[tuple[str, float]]  # (label, CPU ms per request)


def _timed(totals: collections.Counter[str], label: str, function: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    @functools.wraps(function)
    def timed(*args: t.Any, **kwargs: t.Any) -> t.Any:
        start = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            totals[label] += time.process_time() - start

    return timed


def run(database_url: str, work: Path, *, requests: int = 2000, numbers: int = 2000) -> Profile:
    database = Database(database_url, phone_numbers(numbers))
    database.reset()
    lines_file = work / "profile.tsv"
    write_requests(lines_file, "http://localhost", database.numbers, requests + 300, label="profile", seed=9)
    signed = [line.rstrip("\n").split("\t") for line in lines_file.open()]
    lines_file.unlink()
    itms_client = database.app.test_client()
    bare_client = create_bare_app(database_url).test_client()

    def send(client: t.Any, batch: list[list[str]]) -> float:
        start = time.process_time()
        for token, body in batch:
            response = client.post(
                INBOUND,
                data=body,
                headers={"MessageBird-Signature-JWT": token, "Content-Type": "application/x-www-form-urlencoded"},
            )
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code}: {response.get_data(as_text=True)}")
        return (time.process_time() - start) * 1000 / len(batch)

    send(itms_client, signed[:300])  # warm up both
    send(bare_client, signed[:300])
    bare_ms = send(bare_client, signed[300:])

    totals: collections.Counter[str] = collections.Counter()
    originals = [(module, name, getattr(module, name)) for module, name, _label in STEPS]
    try:
        for module, name, label in STEPS:
            setattr(module, name, _timed(totals, label, getattr(module, name)))
        itms_ms = send(itms_client, signed[300:])
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
    database.dispose()

    per_request = {label: seconds * 1000 / requests for label, seconds in totals.items()}
    steps = [(label, per_request.get(label, 0.0)) for _module, _name, label in STEPS]
    commit_and_rest = itms_ms - sum(value for _label, value in steps)
    steps.append(("Flask, Werkzeug, the JSON answer, COMMIT and the test client", commit_and_rest))
    return Profile(requests=requests, bare_ms=bare_ms, itms_ms=itms_ms, steps=steps)


def render(profile: Profile, backend: str) -> str:
    lines = [
        f"Where an itms webhook's CPU goes, in-process on {backend} (Flask test client, {profile.requests:,}"
        f" webhooks, the same mix): bare {profile.bare_ms:.2f} ms per request, flask-itms {profile.itms_ms:.2f} ms.",
        "",
        "| flask-itms step | CPU ms per request | share |",
        "|---|---|---|",
    ]
    for label, value in profile.steps:
        lines.append(f"| {label} | {value:.2f} | {value / profile.itms_ms:.0%} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        print(render(run(sys.argv[1], Path(scratch)), sys.argv[1].split(":", 1)[0].split("+", 1)[0]))
