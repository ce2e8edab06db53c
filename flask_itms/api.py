"""The JSON API: the panel's data and actions for host front-ends.

``GET {prefix}/api/phones/<phone>`` answers what the panel shows. Each POST mirrors a panel
button, with the same role checks, and answers the number's new state. Browsers with a
cookie session send the Flask-WTF token in an ``X-CSRFToken`` header; a client that
authenticates with ``Authorization: Bearer …`` carries no ambient credentials and skips it.
Errors are ``{"error": message}`` with the matching status (400, 403, 409).
"""

from __future__ import annotations

import functools
import typing as t

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import validate_csrf
from marshmallow import Schema
from marshmallow import ValidationError as SchemaError
from werkzeug.exceptions import BadRequest, Conflict, HTTPException
from wtforms.validators import ValidationError as CSRFError

from . import api_schemas as schemas
from .errors import InvalidAuthCode, InvalidTransition, ITMSError
from .panel import AUTH_CODE, CLEAR_HOLD, LINK, OPT_OUT, QUICK_OPT_IN, REQUEST_OPT_IN, load_phone_view
from .state import current_state
from .views.common import AGENT, ANY_ROLE, SUPERVISOR, commit, require_role, rollback
from .views.phone import HOLD_FIRST
from .views.queue import account_label

#: How much history a GET answers with.
API_MESSAGES = 20
API_EVENTS = 50

View = t.Callable[..., ResponseReturnValue]


class CSRFRefused(ITMSError, BadRequest):
    """A cookie-session POST without a valid ``X-CSRFToken`` header."""

    def __init__(self, message: str) -> None:
        BadRequest.__init__(self, description=message)
        self.args = (message,)


def json_errors(view: View) -> View:
    """Answer every refusal as JSON, never as an HTML error page."""

    @functools.wraps(view)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> ResponseReturnValue:
        try:
            return view(*args, **kwargs)
        except SchemaError as error:
            return jsonify(error="The request has invalid or unknown fields.", fields=error.messages), 400
        except HTTPException as error:
            status = error.code or 400
            return jsonify(error=str(error.description)), status
        except ITMSError as error:
            return jsonify(error=str(error)), 409

    return wrapper


def check_csrf() -> None:
    """Refuse a cookie-session POST whose ``X-CSRFToken`` header is missing or wrong."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return
    token = request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token")
    try:
        validate_csrf(token)
    except CSRFError as error:
        raise CSRFRefused(
            f"{error.args[0] if error.args else 'The CSRF token is invalid.'} Send the token from"
            " csrf_token() in an X-CSRFToken header (see the README, JSON API)."
        ) from None


def _json_body() -> t.Any:
    if not request.get_data(cache=True):
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("Send a JSON object with Content-Type: application/json.")
    return data


def _answer(e164: str) -> ResponseReturnValue:
    view = load_phone_view(e164, messages=API_MESSAGES, events=API_EVENTS)
    return jsonify(schemas.PhoneSchema().dump(view))


@json_errors
def phone(phone: str) -> ResponseReturnValue:
    """The number's consent, recent texts and events, and the actions the caller may take now."""
    e164 = current_state().itms._phone(phone)
    require_role(*ANY_ROLE)
    return _answer(e164)


Run = t.Callable[[t.Any, str, dict[str, t.Any]], t.Any]


def _action(role: str, schema: type[Schema], run: Run, *, blocked_by_hold: bool = False) -> View:
    @json_errors
    def view(phone: str) -> ResponseReturnValue:
        itms = current_state().itms
        e164 = itms._phone(phone)
        check_csrf()
        require_role(role)
        data = schemas.load(schema(), _json_body())
        if blocked_by_hold and load_phone_view(e164, messages=0, events=0).on_hold:
            raise InvalidTransition(HOLD_FIRST)
        try:
            run(itms, e164, data)
        except InvalidAuthCode:
            commit()  # the wrong try is counted, and must stay counted
            raise
        except Exception:
            rollback()
            raise
        commit()
        return _answer(e164)

    return view


def _link(itms: t.Any, e164: str, data: dict[str, t.Any]) -> None:
    account = data["account"].strip()
    if account_label(account) is None:
        raise Conflict(f"No account {account!r} was found by @itms.account_search.")
    itms.link_number(e164, account)


ACTIONS: dict[str, View] = {
    REQUEST_OPT_IN: _action(
        AGENT,
        schemas.OptInRequestSchema,
        lambda itms, e164, data: itms.request_opt_in(e164, account=data["account"]),
        blocked_by_hold=True,
    ),
    QUICK_OPT_IN: _action(
        AGENT,
        schemas.OptInRequestSchema,
        lambda itms, e164, data: itms.quick_opt_in(e164, account=data["account"]),
        blocked_by_hold=True,
    ),
    AUTH_CODE: _action(
        AGENT,
        schemas.AuthCodeSchema,
        lambda itms, e164, data: itms.enter_auth_code(e164, data["code"]),
        blocked_by_hold=True,
    ),
    OPT_OUT: _action(
        AGENT,
        schemas.OptOutSchema,
        lambda itms, e164, data: itms.opt_out(e164, reason=data["reason"] or "Opt Out through the JSON API"),
    ),
    CLEAR_HOLD: _action(AGENT, schemas.EmptySchema, lambda itms, e164, data: itms.clear_hold(e164)),
    LINK: _action(SUPERVISOR, schemas.LinkSchema, _link),
}


def register(blueprint: Blueprint) -> None:
    """Add the JSON API's routes to the itms blueprint."""
    blueprint.add_url_rule("/api/phones/<phone>", "api_phone", phone, methods=["GET"])
    for action, view in ACTIONS.items():
        endpoint = "api_" + action.replace("-", "_")
        blueprint.add_url_rule(f"/api/phones/<phone>/{action}", endpoint, view, methods=["POST"])
