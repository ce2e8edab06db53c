"""What every screen shares: role checks, safe redirects and the notices shown after an action."""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

from flask import render_template, request, session
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import Forbidden, HTTPException

from ..errors import ITMSError
from ..state import current_state

AGENT = "agent"
SUPERVISOR = "supervisor"
EDITOR = "editor"
#: Any of these may look at a panel, the queue's numbers or the Text Msg Profile.
ANY_ROLE = (AGENT, SUPERVISOR, EDITOR)

NO_ROLE_CHECKER = (
    "flask-itms refuses every action until the app says who may do what: decorate a function"
    ' (actor, role) -> bool with @itms.role_checker (roles "agent", "supervisor" and "editor").'
)

#: Session key of the notices waiting to be shown, as ``[scope, level, text]`` lists.
_NOTICES_KEY = "_itms_notices"
_NOTICES_MAX = 6

#: Request header by which the panel's script asks for the panel's HTML instead of a redirect.
PARTIAL_HEADER = "X-ITMS-Partial"
#: Response header that marks an HTML answer as a panel the script may swap in.
FRAGMENT_HEADER = "X-ITMS-Fragment"


class RoleRequired(ITMSError, Forbidden):
    """The current actor lacks the role an action needs, or no role checker is set."""

    def __init__(self, message: str) -> None:
        Forbidden.__init__(self, description=message)
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.description)


def has_role_checker() -> bool:
    return current_state().itms._role_checker is not None


def granted_roles() -> frozenset[str]:
    """The roles the role checker grants the current actor (none when there is no checker)."""
    itms = current_state().itms
    if itms._role_checker is None:
        return frozenset()
    actor = itms.current_actor()
    return frozenset(role for role in ANY_ROLE if itms.has_role(role, actor))


def require_role(*roles: str) -> None:
    """Refuse with a 403 unless the current actor has one of ``roles``."""
    if not has_role_checker():
        raise RoleRequired(NO_ROLE_CHECKER)
    if not granted_roles() & set(roles):
        needed = " or ".join(f'"{role}"' for role in roles)
        raise RoleRequired(f"This needs the {needed} role. Ask an administrator to grant it to you.")


def safe_url(target: str | None) -> str | None:
    """``target`` when it points into this site, else ``None``: never redirect off-site."""
    if not target:
        return None
    target = target.strip()
    if not target or "\\" in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        here = urlsplit(request.host_url)
        if (parts.scheme, parts.netloc.lower()) != (here.scheme, here.netloc.lower()):
            return None
        return target
    if not target.startswith("/") or target.startswith("//"):
        return None
    return target


def back_url(next_url: str | None, fallback: str) -> str:
    """Where to go after a POST: a same-origin ``next``, else the referrer, else ``fallback``."""
    return safe_url(next_url) or safe_url(request.referrer) or fallback


def here() -> str:
    """The current page's path and query, for a form's ``next`` field."""
    path = request.full_path
    return path[:-1] if path.endswith("?") else path


def is_partial() -> bool:
    """Whether the panel's script asked for the panel's HTML rather than a redirect."""
    return request.headers.get(PARTIAL_HEADER) == "panel"


# -- notices: shown once, inside the panel or page they concern, never in the host's flashes --


def add_notice(scope: str, level: str, text: str) -> None:
    """Keep a notice for the next render of ``scope`` (a phone number, "queue" or "profile")."""
    notices = list(session.get(_NOTICES_KEY, []))
    notices.append([scope, level, text])
    session[_NOTICES_KEY] = notices[-_NOTICES_MAX:]


def pop_notices(scope: str) -> list[tuple[str, str]]:
    """The waiting notices of ``scope`` as ``(level, text)``, removed from the session."""
    if _NOTICES_KEY not in session:
        return []
    stored = session.get(_NOTICES_KEY, [])
    mine = [(level, text) for kept_scope, level, text in stored if kept_scope == scope]
    if mine:
        rest = [notice for notice in stored if notice[0] != scope]
        if rest:
            session[_NOTICES_KEY] = rest
        else:
            session.pop(_NOTICES_KEY)
    return mine


def form_problems(form: t.Any) -> str:
    """One sentence from a form's validation errors, CSRF failures made friendly."""
    problems: list[str] = []
    for name, errors in form.errors.items():
        for error in errors:
            if name == "csrf_token":
                problems.append("This form was open too long or came from elsewhere: reload the page and try again.")
            else:
                problems.append(str(error))
    return " ".join(dict.fromkeys(problems)) or "Please check the form and try again."


def commit() -> None:
    current_state().session.commit()


def rollback() -> None:
    current_state().session.rollback()


def error_page(error: HTTPException) -> ResponseReturnValue:
    """A page that says what went wrong and what to do, with the error's status."""
    status = error.code or 400
    title = _ERROR_TITLES.get(status, "This cannot be done")
    page = render_template(
        "itms/error.html", status=status, title=title, message=str(error.description), back=safe_url(request.referrer)
    )
    return page, status


_ERROR_TITLES = {400: "This cannot be done", 403: "Not allowed", 404: "Not found"}
