"""A consumer's phone, for development: the texts a number received and a reply box.

It exists only with the console provider and in debug or demo mode (``CRM_DEMO``); in
any other configuration its routes are never registered and it answers 404. A reply
goes to flask-itms' real inbound webhook over HTTP, signed with
``ITMS_MESSAGEBIRD_SIGNING_KEY`` the way MessageBird signs its requests, so the demo
runs the production path: signature check, classification, state change, reply texts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
import typing as t
import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

import jwt
import requests
import sqlalchemy as sa
from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from .extensions import db, itms
from .forms import OpenPhoneForm, ReplyForm
from .models import Phone, pretty_phone, to_e164

bp = Blueprint("simulator", __name__, url_prefix="/dev/phones")

#: How long a signed webhook stays valid, as MessageBird's own tokens do.
TOKEN_LIFETIME = 300
#: What a consumer's phone never shows: texts not (yet) handed to the carrier.
UNDELIVERED = frozenset({"queued", "sending", "cancelled", "failed"})


def simulator_enabled(app: Flask) -> bool:
    """Console provider, and debug or demo mode: never with a real carrier, never in production."""
    return app.config.get("ITMS_PROVIDER") == "console" and bool(app.debug or app.config.get("CRM_DEMO"))


def init_app(app: Flask) -> None:
    if simulator_enabled(app):
        app.register_blueprint(bp)


@bp.before_request
def only_in_development() -> None:
    # Registered only when enabled; this also covers debug being switched off later.
    if not simulator_enabled(current_app):
        abort(404)


def messagebird_signature(key: str, url: str, body: bytes, *, now: float | None = None) -> str:
    """The ``MessageBird-Signature-JWT`` header MessageBird would send for this request.

    HS256 over ``iss``, ``nbf``, ``exp``, a fresh ``jti``, the SHA-256 of the URL as sent
    and, when there is a body, the SHA-256 of the raw body (see the MessageBird SDK's
    ``RequestValidator``).
    """
    issued = int(time.time() if now is None else now)
    claims: dict[str, t.Any] = {
        "iss": "MessageBird",
        "nbf": issued,
        "exp": issued + TOKEN_LIFETIME,
        "jti": uuid.uuid4().hex,
        "url_hash": hashlib.sha256(url.encode()).hexdigest(),
    }
    if body:
        claims["payload_hash"] = hashlib.sha256(body).hexdigest()
    return jwt.encode(claims, key, algorithm="HS256")


@dataclasses.dataclass(frozen=True)
class Bubble:
    """One text on the simulated phone."""

    received: bool  # sent to the consumer (left) or by the consumer (right)
    body: str
    at: datetime


def conversation(e164: str) -> list[Bubble]:
    """What the consumer's phone shows: their own texts and every text delivered to them.

    Stored outbound bodies hide the PIN; the console provider kept the real text that
    reached the phone, so the consumer sees the PIN they must read to the agent.
    """
    sent = getattr(itms.provider, "sent", [])
    delivered = {text.message_id: text.body for text in sent if text.phone == e164}
    bubbles = []
    for message in itms.messages(e164):
        if message.direction == "inbound":
            bubbles.append(Bubble(False, message.body, message.created_at))
        elif message.id in delivered or message.status not in UNDELIVERED:
            bubbles.append(Bubble(True, delivered.get(message.id, message.display_body), message.created_at))
    return bubbles


def send_reply(e164: str, text: str) -> requests.Response:
    """POST the reply to the inbound webhook as MessageBird would: a signed form post."""
    config = current_app.config
    key = config.get("ITMS_MESSAGEBIRD_SIGNING_KEY")
    if not key:
        raise RuntimeError("Set ITMS_MESSAGEBIRD_SIGNING_KEY: the simulator signs its webhooks with it.")
    path = config["ITMS_URL_PREFIX"].rstrip("/") + "/messagebird/inbound"
    url = request.host_url.rstrip("/") + path
    # MessageBird signs the public URL it calls; the webhook checks against ITMS_PUBLIC_URL when set.
    signed_url = (config.get("ITMS_PUBLIC_URL") or request.host_url).rstrip("/") + path
    body = urlencode(
        {
            "id": uuid.uuid4().hex,
            "originator": e164.lstrip("+"),  # MessageBird sends numbers without the plus
            "recipient": (config.get("ITMS_ORIGINATOR") or config["ITMS_CUSTOMER"]["phone"]).lstrip("+"),
            "body": text,
            "createdDatetime": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    ).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "MessageBird-Signature-JWT": messagebird_signature(key, signed_url, body),
    }
    # The webhook runs in another request of this server and writes to the database;
    # end this request's transaction first so SQLite is not held locked while we wait.
    db.session.remove()
    return requests.post(url, data=body, headers=headers, timeout=15)


@bp.get("/")
def index() -> ResponseReturnValue:
    on_accounts = set(db.session.scalars(sa.select(Phone.number)))
    texted_in = {message.phone for message in itms.unlinked()}  # numbers no account holds yet
    numbers = sorted(on_accounts | texted_in)
    return render_template("simulator/index.html", numbers=numbers, form=OpenPhoneForm())


@bp.post("/")
def open_phone() -> ResponseReturnValue:
    form = OpenPhoneForm()
    try:
        e164 = to_e164(form.number.data or "", current_app.config["ITMS_DEFAULT_REGION"])
    except ValueError as error:
        flash(str(error), "error")
        return redirect(url_for("simulator.index"))
    return redirect(url_for("simulator.phone", e164=e164))


@bp.get("/<e164>")
def phone(e164: str) -> ResponseReturnValue:
    number = _number_or_404(e164)
    return render_template(
        "simulator/phone.html",
        e164=number,
        pretty=pretty_phone(number),
        bubbles=conversation(number),
        form=ReplyForm(),
    )


@bp.get("/<e164>/messages")
def messages(e164: str) -> ResponseReturnValue:
    """The conversation alone, which the phone page polls so new texts show up by themselves."""
    return render_template("simulator/_messages.html", bubbles=conversation(_number_or_404(e164)))


@bp.post("/<e164>/reply")
def reply(e164: str) -> ResponseReturnValue:
    number = _number_or_404(e164)
    form = ReplyForm()
    if form.validate_on_submit():
        try:
            response = send_reply(number, form.text.data or "")
        except (RuntimeError, requests.RequestException) as error:
            flash(f"Could not deliver the text: {error}", "error")
        else:
            if response.status_code != 200:
                flash(f"The inbound webhook answered {response.status_code}: {_reason(response)}", "error")
    return redirect(url_for("simulator.phone", e164=number))


def _reason(response: requests.Response) -> str:
    """The webhook's JSON ``error`` when it gave one, else the HTTP reason."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    return str(error or response.reason or "no reason given")[:300]


def _number_or_404(e164: str) -> str:
    try:
        number = to_e164(e164, current_app.config["ITMS_DEFAULT_REGION"])
    except ValueError:
        abort(404)
    if number != e164:
        abort(404)
    return number
