"""What one app's flask-itms runs with, kept in ``app.extensions["itms"]``."""

from __future__ import annotations

import dataclasses
import typing as t
from datetime import datetime

from flask import current_app

from .models import utcnow

if t.TYPE_CHECKING:
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy.orm import Session

    from .extension import ITMS
    from .keywords import Classifier
    from .models import Models
    from .providers import Provider
    from .settings import Settings


@dataclasses.dataclass
class State:
    """The per-app state the service layer works with."""

    itms: ITMS
    db: SQLAlchemy
    models: Models
    settings: Settings
    classifier: Classifier
    provider: Provider
    clock: t.Callable[[], datetime] = utcnow

    @property
    def session(self) -> Session:
        return self.db.session  # type: ignore[return-value]

    def now(self) -> datetime:
        return self.clock()

    def dialect(self) -> str:
        return self.session.get_bind(self.models.Consent).dialect.name


def app_object() -> Flask:
    """The real app behind ``current_app``: the sender of every signal."""
    return t.cast("Flask", current_app._get_current_object())  # type: ignore[attr-defined]


def current_state() -> State:
    """The state of the current app's flask-itms, or an error naming the fix."""
    try:
        state = current_app.extensions["itms"]
    except KeyError:
        raise RuntimeError(
            "flask-itms is not set up on this app: call itms.init_app(app) in your app factory."
        ) from None
    return t.cast(State, state)
