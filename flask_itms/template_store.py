"""The Text Msg Profile: stored templates, the system rules, and rendering in context."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa

from . import messages
from .database import insert_or_ignore
from .errors import SystemTemplateError, TemplateError

if t.TYPE_CHECKING:
    from .state import State

_IDENTIFIER_MAX = 64


def ensure_system_templates(state: State) -> None:
    """Create any missing system template. Safe under concurrency: the unique identifier decides."""
    Template = state.models.Template
    existing = set(state.session.scalars(sa.select(Template.identifier).where(Template.system)))
    now = state.now()
    for definition in messages.SYSTEM_TEMPLATES.values():
        if definition.identifier not in existing:
            insert_or_ignore(
                state.session,
                Template,
                {
                    "identifier": definition.identifier,
                    "label": definition.label,
                    "use_case": definition.use_case,
                    "body": definition.body,
                    "system": True,
                    "allow_as_payment_source": True,
                    "created_at": now,
                    "updated_at": now,
                },
                ["identifier"],
            )


def get_template(state: State, identifier: str) -> t.Any:
    """The template called ``identifier``; system templates are created on first use."""
    Template = state.models.Template
    query = sa.select(Template).where(Template.identifier == identifier)
    template = state.session.scalars(query).one_or_none()
    if template is None and messages.is_system_identifier(identifier):
        ensure_system_templates(state)
        template = state.session.scalars(query).one_or_none()
    if template is None:
        raise TemplateError(f"There is no template {identifier!r}: check the identifier on the Text Msg Profile page.")
    return template


def all_templates(state: State) -> list[t.Any]:
    """Every template, system ones first, for the profile page."""
    ensure_system_templates(state)
    Template = state.models.Template
    return list(state.session.scalars(sa.select(Template).order_by(Template.system.desc(), Template.identifier)))


def selectable_templates(state: State) -> list[t.Any]:
    """The templates an agent may pick: every one but the system templates."""
    Template = state.models.Template
    query = sa.select(Template).where(sa.not_(Template.system)).order_by(Template.label)
    return list(state.session.scalars(query))


def context(state: State, phone: str | None = None, **extra: t.Any) -> dict[str, t.Any]:
    """The names a template may use: ``customer``, ``phone``, the host's additions and ``extra``."""
    values: dict[str, t.Any] = {"customer": dict(state.settings.customer), "phone": phone or ""}
    if state.itms._template_context is not None:
        values.update(state.itms._template_context(phone))
    values.update(extra)
    return values


def allowed_names(state: State, identifier: str) -> set[str]:
    """Every placeholder a template called ``identifier`` may hold."""
    extra = {"authCode": ""} if identifier == messages.AUTH_CODE else {}
    return messages.context_names(context(state, None, **extra))


def render(state: State, identifier: str, phone: str | None = None, **extra: t.Any) -> str:
    """Render a stored template for ``phone``; an unknown placeholder raises ``TemplateError``."""
    template = get_template(state, identifier)
    return messages.render(template.body, context(state, phone, **extra))


def _check_new_identifier(state: State, identifier: str) -> None:
    if not identifier or len(identifier) > _IDENTIFIER_MAX or not identifier.replace("_", "").isalnum():
        raise TemplateError(
            f"{identifier!r} is not a usable identifier: use up to {_IDENTIFIER_MAX} letters, digits and underscores."
        )
    if messages.is_system_identifier(identifier):
        raise SystemTemplateError(
            f"Identifiers starting with {messages.SYSTEM_PREFIX} are reserved for system templates."
        )
    Template = state.models.Template
    if state.session.scalar(sa.select(Template.id).where(Template.identifier == identifier)) is not None:
        raise TemplateError(f"A template called {identifier!r} already exists: pick another identifier.")


def create_template(
    state: State, identifier: str, *, label: str, body: str, use_case: str = "", allow_as_payment_source: bool = True
) -> t.Any:
    """Add an agent template after checking its identifier and placeholders."""
    _check_new_identifier(state, identifier)
    messages.check_placeholders(body, allowed_names(state, identifier))
    now = state.now()
    template = state.models.Template(
        identifier=identifier,
        label=label or identifier,
        use_case=use_case,
        body=body,
        system=False,
        allow_as_payment_source=allow_as_payment_source,
        created_at=now,
        updated_at=now,
    )
    state.session.add(template)
    state.session.flush()
    return template


_UNSET: t.Any = object()


def update_template(
    state: State,
    identifier: str,
    *,
    body: str | None = None,
    label: str | None = None,
    use_case: str | None = None,
    allow_as_payment_source: bool | None = None,
    mms_url: str | None = _UNSET,
    is_editor: bool = False,
) -> t.Any:
    """Change a template. System templates keep their identifier; their MMS is editor-only."""
    template = get_template(state, identifier)
    if body is not None:
        messages.check_placeholders(body, allowed_names(state, identifier))
        if template.system:
            _check_system_body(identifier, body)
        template.body = body
    if label is not None:
        template.label = label
    if use_case is not None:
        template.use_case = use_case
    if allow_as_payment_source is not None:
        template.allow_as_payment_source = allow_as_payment_source
    if mms_url is not _UNSET and mms_url != template.mms_url:
        if template.system and not is_editor:
            raise SystemTemplateError("Only the editor role may change a system template's MMS attachment.")
        template.mms_url = mms_url or None
    template.updated_at = state.now()
    state.session.flush()
    return template


def _check_system_body(identifier: str, body: str) -> None:
    """A system text must still do its job: carry the PIN, and say how to opt out (CTIA, Reg F)."""
    from .sending import has_opt_out_instructions

    if identifier == messages.AUTH_CODE and "authCode" not in messages.placeholders(body):
        raise TemplateError(f"{identifier} must contain ${{authCode}}: it is how the consumer gets the PIN.")
    if identifier != messages.OPTED_OUT and not has_opt_out_instructions(body):
        raise TemplateError(f'{identifier} must tell the consumer how to opt out, e.g. "Reply STOP to cancel."')


def clone_template(state: State, identifier: str, new_identifier: str) -> t.Any:
    """Copy an agent template under a new identifier. System templates cannot be cloned."""
    source = get_template(state, identifier)
    if source.system:
        raise SystemTemplateError(f"{identifier} is a system template; system templates cannot be cloned.")
    return create_template(
        state,
        new_identifier,
        label=f"{source.label} (copy)",
        body=source.body,
        use_case=source.use_case,
        allow_as_payment_source=source.allow_as_payment_source,
    )


def delete_template(state: State, identifier: str) -> None:
    """Delete an agent template. System templates cannot be deleted."""
    template = get_template(state, identifier)
    if template.system:
        raise SystemTemplateError(f"{identifier} is a system template; system templates cannot be deleted.")
    state.session.delete(template)
    state.session.flush()


def pickable_template(state: State, identifier: str) -> t.Any:
    """A template an agent may send; picking a system template raises ``SystemTemplateError``."""
    template = get_template(state, identifier)
    if template.system:
        raise SystemTemplateError(f"{identifier} is a system template; agents cannot pick system templates.")
    return template
