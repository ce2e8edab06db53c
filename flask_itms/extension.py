"""The ``ITMS`` extension object: configuration, wiring and the public service methods."""

from __future__ import annotations

import logging
import typing as t

import sqlalchemy as sa
from flask import Flask, has_request_context

from . import consent, inbound, outbox, template_store
from .keywords import Classifier
from .models import ConsentStatus, Models, define_models, utcnow
from .phones import to_e164
from .providers import Provider, load_provider
from .settings import DEFAULTS, Settings
from .sqlite import tune_sqlite
from .state import State, current_state

if t.TYPE_CHECKING:
    from datetime import datetime

    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy.orm import Session, SessionTransaction

logger = logging.getLogger("flask_itms")

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

#: Longest actor label kept in the audit trail.
_ACTOR_MAX = 128


class ITMS:
    """Consent-managed texting for a Flask app.

    ``ITMS(db=db)`` declares the itms tables on the host's Flask-SQLAlchemy ``db``;
    ``init_app(app)`` wires one app. Service methods need an app context, add to the
    session and never commit: the caller owns the transaction.
    """

    def __init__(self, app: Flask | None = None, *, db: SQLAlchemy | None = None) -> None:
        if db is None:
            raise RuntimeError(
                "flask-itms keeps its tables in your database: pass your Flask-SQLAlchemy instance, ITMS(db=db)."
            )
        self.db = db
        self.models: Models = define_models(db)
        self._actor_loader: t.Callable[[], t.Any] | None = None
        self._role_checker: t.Callable[[t.Any, str], bool] | None = None
        self._account_lookup: t.Callable[[str], t.Any] | None = None
        self._account_search: t.Callable[[str], t.Iterable[t.Any]] | None = None
        self._auto_opt_in_policy: t.Callable[[t.Any], bool] | None = None
        self._template_context: t.Callable[[str | None], t.Mapping[str, t.Any]] | None = None
        sa.event.listen(db.session, "after_commit", self._after_commit)
        sa.event.listen(db.session, "after_transaction_end", self._after_transaction_end)
        if app is not None:
            self.init_app(app)

    # -- wiring ------------------------------------------------------------------------

    def init_app(self, app: Flask) -> None:
        """Check the app's setup, apply ``ITMS_*`` defaults, and register routes and helpers."""
        if "itms" in app.extensions:
            raise RuntimeError(
                "flask-itms is already registered on this app. Create one ITMS object and"
                " call init_app once per app (several apps may share one ITMS)."
            )
        if app.extensions.get("sqlalchemy") is not self.db:
            raise RuntimeError(
                "flask-itms needs the same Flask-SQLAlchemy instance on this app: call"
                " db.init_app(app) before itms.init_app(app), with the db given to ITMS(db=db)."
            )
        if not app.config.get("SECRET_KEY"):
            raise RuntimeError(
                "flask-itms needs app.config['SECRET_KEY'] for CSRF tokens on its forms and"
                " to hash auth codes: set it to a long random value."
            )
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        settings = Settings.from_config(app.config)
        state = State(
            itms=self,
            db=self.db,
            models=self.models,
            settings=settings,
            classifier=Classifier(
                opt_out=app.config["ITMS_OPT_OUT_KEYWORDS"],
                opt_in=app.config["ITMS_OPT_IN_KEYWORDS"],
                help=app.config["ITMS_HELP_KEYWORDS"],
            ),
            provider=load_provider(settings.provider, app),
            clock=app.config.get("ITMS_CLOCK") or utcnow,
        )
        app.extensions["itms"] = state
        tune_sqlite(app, self.db, settings)
        from .blueprint import register

        register(app, self, state)

    def _after_commit(self, session: Session) -> None:
        if session.in_nested_transaction():
            # A savepoint was released; the texts wait for the real commit.
            return
        pending = session.info.pop(outbox.PENDING_KEY, None)
        if not pending:
            return
        try:
            state = current_state()
            if state.settings.send_mode == "inline":
                outbox.deliver(state, pending)
        except Exception:
            # The change is committed; the texts stay queued for `flask itms worker`.
            logger.exception("Inline sending failed; %d text(s) stay queued for the worker.", len(pending))

    def _after_transaction_end(self, session: Session, transaction: SessionTransaction) -> None:
        # The outermost transaction ended without the commit hook taking the texts: it was
        # rolled back or closed, and its rows are gone. A savepoint ending changes nothing.
        if transaction.parent is None:
            session.info.pop(outbox.PENDING_KEY, None)

    # -- host callbacks ----------------------------------------------------------------

    def actor_loader(self, callback: F) -> F:
        """Set ``() -> actor``: the current user, recorded on every event and asked about roles."""
        self._actor_loader = callback
        return callback

    def role_checker(self, callback: F) -> F:
        """Set ``(actor, role) -> bool``, deciding every panel action ("agent", "supervisor", "editor")."""
        self._role_checker = callback
        return callback

    def account_lookup(self, callback: F) -> F:
        """Set ``(e164) -> account reference or None``: which account a number belongs to."""
        self._account_lookup = callback
        return callback

    def account_search(self, callback: F) -> F:
        """Set ``(query) -> iterable of (reference, label)``, for linking unknown numbers."""
        self._account_search = callback
        return callback

    def auto_opt_in_policy(self, callback: F) -> F:
        """Set ``(account) -> bool``: whether an account's client qualifies for auto opt-in."""
        self._auto_opt_in_policy = callback
        return callback

    def template_context(self, callback: F) -> F:
        """Set ``(e164 or None) -> mapping`` of extra names templates may use."""
        self._template_context = callback
        return callback

    # -- helpers -----------------------------------------------------------------------

    def _phone(self, phone: str) -> str:
        return to_e164(phone, current_state().settings.default_region)

    def _actor(self, actor: t.Any) -> str | None:
        """The audit label of ``actor``, or of the current user when none is given."""
        if actor is None and self._actor_loader is not None and has_request_context():
            actor = self._actor_loader()
        if actor is None or getattr(actor, "is_anonymous", False):
            return None
        return str(actor)[:_ACTOR_MAX]

    def current_actor(self) -> t.Any:
        """The current user from ``@actor_loader``, or ``None``."""
        return self._actor_loader() if self._actor_loader is not None else None

    def has_role(self, role: str, actor: t.Any = None) -> bool:
        """Whether the role checker grants ``role``; with no checker set, nothing is granted."""
        if self._role_checker is None:
            return False
        return bool(self._role_checker(actor if actor is not None else self.current_actor(), role))

    # -- reading consent ---------------------------------------------------------------

    def status(self, phone: str) -> ConsentStatus:
        """Where ``phone`` stands: none, pending, awaiting_code, opted_in or opted_out."""
        return consent.status(current_state(), self._phone(phone))

    def consent(self, phone: str) -> t.Any:
        """The consent record of ``phone``, or ``None`` when no flow has started."""
        return consent.find(current_state(), self._phone(phone))

    def can_text(self, phone: str) -> bool:
        """Opted in and not on review hold."""
        return consent.can_text(current_state(), self._phone(phone))

    def textable(self, phones: t.Iterable[str]) -> set[str]:
        """The E.164 numbers among ``phones`` that may be texted, in one query.

        Numbers that are not valid phone numbers are never textable and are left out.
        """
        return consent.textable_among(current_state(), phones)

    # -- changing consent --------------------------------------------------------------

    def request_opt_in(self, phone: str, *, account: t.Any = None, actor: t.Any = None) -> t.Any:
        """Send Opt In Request: the consumer replies YES, gets a PIN, and the agent enters it."""
        return consent.start_opt_in(
            current_state(),
            self._phone(phone),
            method="agent",
            source="agent",
            account=_ref(account),
            actor=self._actor(actor),
        )

    def quick_opt_in(self, phone: str, *, account: t.Any = None, actor: t.Any = None) -> t.Any:
        """Quick Opt In: the consumer's YES completes the opt-in, with no PIN."""
        return consent.start_opt_in(
            current_state(),
            self._phone(phone),
            method="quick",
            source="agent",
            account=_ref(account),
            actor=self._actor(actor),
        )

    def enter_auth_code(self, phone: str, code: str, *, actor: t.Any = None) -> t.Any:
        """Txt Msg Auth Code: complete an agent opt-in with the consumer's PIN."""
        return consent.enter_auth_code(current_state(), self._phone(phone), code, actor=self._actor(actor))

    def opt_out(self, phone: str, *, actor: t.Any = None, reason: str | None = None) -> t.Any:
        """Opt the number out for every account on it, and send the one confirmation."""
        return consent.opt_out(
            current_state(), self._phone(phone), method="agent", source="agent", actor=self._actor(actor), reason=reason
        )

    def link_number(self, phone: str, account: t.Any, *, actor: t.Any = None) -> t.Any:
        """Link a number that texted in to an account, and send it the opt-in request."""
        if account is None:
            raise ValueError("link_number needs the account to link the number to.")
        return consent.link_number(current_state(), self._phone(phone), str(account), actor=self._actor(actor))

    def auto_opt_in(self, phone: str, *, account: t.Any, actor: t.Any = None) -> t.Any:
        """Opt in without a reply, when ``@auto_opt_in_policy`` says the account qualifies."""
        if account is None:
            raise ValueError("auto_opt_in needs the account whose client qualifies.")
        return consent.auto_opt_in(current_state(), self._phone(phone), account=account, actor=self._actor(actor))

    def clear_hold(self, phone: str, *, actor: t.Any = None) -> t.Any:
        """Release a review hold after an agent decided the text was not a revocation."""
        return consent.clear_hold(current_state(), self._phone(phone), actor=self._actor(actor))

    def handle_inbound(
        self,
        originator: str,
        recipient: str | None,
        text: str,
        provider_message_id: str | None = None,
        received_at: datetime | None = None,
    ) -> t.Any:
        """Record a consumer's text and act on it (STOP, START, YES, HELP, review hold)."""
        message, _created = inbound.handle_inbound(
            current_state(),
            originator,
            recipient,
            text,
            provider_message_id=provider_message_id,
            received_at=received_at,
        )
        return message

    # -- sending -----------------------------------------------------------------------

    def send(self, phone: str, body: str | None = None, *, template: str | None = None, actor: t.Any = None) -> t.Any:
        """Queue an agent or host text; it leaves after the caller commits."""
        from .sending import send

        return send(current_state(), self._phone(phone), body, template=template, actor=self._actor(actor))

    @property
    def provider(self) -> Provider:
        """The current app's provider; the console provider keeps what it was given in ``sent``."""
        return current_state().provider

    def deliver_outbox(self, *, limit: int = 100) -> int:
        """Hand due queued texts to the provider now; returns how many were claimed."""
        return outbox.deliver(current_state(), limit=limit)

    # -- history -----------------------------------------------------------------------

    def messages(self, phone: str, *, limit: int | None = None) -> list[t.Any]:
        """Every text to and from ``phone`` (or the latest ``limit``), oldest first."""
        Message = self.models.Message
        query = sa.select(Message).where(Message.phone == self._phone(phone))
        return _oldest_first(query, Message, limit)

    def events(self, phone: str, *, limit: int | None = None) -> list[t.Any]:
        """The consent audit trail of ``phone`` (or its latest ``limit`` events), oldest first."""
        Event = self.models.ConsentEvent
        query = sa.select(Event).where(Event.phone == self._phone(phone))
        return _oldest_first(query, Event, limit)

    def unlinked(self) -> list[t.Any]:
        """Inbound texts from numbers linked to no account, oldest first, for the supervisor queue."""
        from .queue import unlinked_messages

        return unlinked_messages(current_state())

    # -- templates ---------------------------------------------------------------------

    def template(self, identifier: str) -> t.Any:
        """The template called ``identifier``."""
        return template_store.get_template(current_state(), identifier)

    def templates(self) -> list[t.Any]:
        """Every template, system templates first."""
        return template_store.all_templates(current_state())

    def selectable_templates(self) -> list[t.Any]:
        """The templates an agent may pick (never a system template)."""
        return template_store.selectable_templates(current_state())

    def create_template(self, identifier: str, *, label: str, body: str, use_case: str = "") -> t.Any:
        """Add an agent template; unknown placeholders are refused."""
        return template_store.create_template(current_state(), identifier, label=label, body=body, use_case=use_case)

    def update_template(self, identifier: str, *, actor: t.Any = None, **changes: t.Any) -> t.Any:
        """Change a template's body, label, use case, payment flag or (editor only) MMS attachment."""
        is_editor = self.has_role("editor", actor)
        return template_store.update_template(current_state(), identifier, is_editor=is_editor, **changes)

    def clone_template(self, identifier: str, new_identifier: str) -> t.Any:
        """Copy an agent template; system templates cannot be cloned."""
        return template_store.clone_template(current_state(), identifier, new_identifier)

    def delete_template(self, identifier: str) -> None:
        """Delete an agent template; system templates cannot be deleted."""
        template_store.delete_template(current_state(), identifier)

    def render(self, identifier: str, phone: str | None = None, **extra: t.Any) -> str:
        """Render a template for ``phone`` with ``customer``, the host context and ``extra``."""
        e164 = self._phone(phone) if phone is not None else None
        return template_store.render(current_state(), identifier, e164, **extra)


def _oldest_first(query: sa.Select[t.Any], model: t.Any, limit: int | None) -> list[t.Any]:
    """Run ``query`` oldest first; with ``limit``, only the latest rows are fetched."""
    session = current_state().session
    if limit is None:
        return list(session.scalars(query.order_by(model.created_at, model.id)))
    latest = list(session.scalars(query.order_by(model.created_at.desc(), model.id.desc()).limit(limit)))
    return latest[::-1]


def _ref(account: t.Any) -> str | None:
    return None if account is None else str(account)
