"""The Text Msg Profile: every template with its encoding and segment count; editors change them."""

from __future__ import annotations

import dataclasses
import typing as t

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound

from .. import forms, messages, template_store
from ..errors import ITMSError, TemplateError
from ..state import current_state
from .common import (
    ANY_ROLE,
    EDITOR,
    RoleRequired,
    add_notice,
    commit,
    error_page,
    form_problems,
    granted_roles,
    pop_notices,
    require_role,
    rollback,
)

SCOPE = "profile"
#: Stand-ins for values known only when a text is sent, so the segment count is realistic.
SAMPLE_PHONE = "+12025550123"
SAMPLE_AUTH_CODE = "000000"


@dataclasses.dataclass(frozen=True)
class Preview:
    """How a body travels once its placeholders are filled."""

    text: str
    segments: messages.Segments
    problem: str | None


def samples(identifier: str | None) -> dict[str, str]:
    """Every placeholder a template may hold, with the value used to count its segments."""
    extra = {"authCode": SAMPLE_AUTH_CODE} if identifier == messages.AUTH_CODE else {}
    context = template_store.context(current_state(), None, **extra)
    context["phone"] = SAMPLE_PHONE
    return {name: messages.render("${" + name + "}", context) for name in sorted(messages.context_names(context))}


def preview(body: str, identifier: str | None) -> Preview:
    values = samples(identifier)
    try:
        messages.check_placeholders(body, values)
    except TemplateError as error:
        return Preview(body, messages.segments(body), str(error))
    text = messages.render(body, _nest(values))
    return Preview(text, messages.segments(text), None)


def _nest(flat: dict[str, str]) -> dict[str, t.Any]:
    nested: dict[str, t.Any] = {}
    for name, value in flat.items():
        *groups, last = name.split(".")
        node = nested
        for group in groups:
            node = node.setdefault(group, {})
        node[last] = value
    return nested


def _itms() -> t.Any:
    return current_state().itms


def _denied(*roles: str) -> ResponseReturnValue | None:
    try:
        require_role(*roles)
    except RoleRequired as error:
        return error_page(error)
    return None


def profile() -> ResponseReturnValue:
    """System templates first, then the agents' own."""
    if (denied := _denied(*ANY_ROLE)) is not None:
        return denied
    templates = _itms().templates()
    commit()  # the system templates are created on first sight
    order = list(messages.SYSTEM_TEMPLATES)
    templates.sort(key=lambda template: (not template.system, _position(order, template.identifier)))
    rows = [(template, preview(template.body, template.identifier)) for template in templates]
    return render_template(
        "itms/profile.html",
        system_rows=[row for row in rows if row[0].system],
        agent_rows=[row for row in rows if not row[0].system],
        is_editor=EDITOR in granted_roles(),
        notices=pop_notices(SCOPE),
        clone_form=forms.CloneForm(formdata=None),
    )


def edit_template(identifier: str) -> ResponseReturnValue:
    """One template: read-only for agents, an editor's form for editors."""
    is_post = _is_post()
    if (denied := _denied(EDITOR) if is_post else _denied(*ANY_ROLE)) is not None:
        return denied
    try:
        template = _itms().template(identifier)
    except TemplateError as error:
        return error_page(NotFound(str(error)))
    commit()  # a system template is created on first sight
    is_editor = EDITOR in granted_roles()
    form = forms.TemplateForm(obj=template) if is_editor else None
    problem = None
    status = 200
    if is_post and form is not None:
        if form.validate_on_submit():
            changes: dict[str, t.Any] = {
                "body": form.body.data,
                "allow_as_payment_source": form.allow_as_payment_source.data,
                "mms_url": form.mms_url.data or None,
            }
            if not template.system:
                changes.update(label=form.label.data or template.identifier, use_case=form.use_case.data or "")
            try:
                _itms().update_template(identifier, **changes)
            except ITMSError as error:
                rollback()
                problem, status = str(error), 400
            else:
                commit()
                add_notice(SCOPE, "success", f"{identifier} saved.")
                return redirect(url_for("itms.profile") + f"#itms-template-{identifier}", 303)
        else:
            problem, status = form_problems(form), 400
    body = form.body.data if form is not None and form.body.data is not None else template.body
    return (
        render_template(
            "itms/template.html",
            template=template,
            form=form,
            is_editor=is_editor,
            problem=problem,
            preview=preview(body or "", identifier),
            samples=samples(identifier),
            notices=pop_notices(SCOPE),
        ),
        status,
    )


def new_template() -> ResponseReturnValue:
    """An editor adds an agent template."""
    if (denied := _denied(EDITOR)) is not None:
        return denied
    form = forms.NewTemplateForm(data={"allow_as_payment_source": True}) if not _is_post() else forms.NewTemplateForm()
    problem = None
    status = 200
    if _is_post():
        if form.validate_on_submit():
            identifier = form.identifier.data
            try:
                _itms().create_template(
                    identifier,
                    label=form.label.data or identifier,
                    body=form.body.data,
                    use_case=form.use_case.data or "",
                )
                _itms().update_template(
                    identifier,
                    allow_as_payment_source=form.allow_as_payment_source.data,
                    mms_url=form.mms_url.data or None,
                )
            except ITMSError as error:
                rollback()
                problem, status = str(error), 400
            else:
                commit()
                add_notice(SCOPE, "success", f"{identifier} created.")
                return redirect(url_for("itms.profile") + f"#itms-template-{identifier}", 303)
        else:
            problem, status = form_problems(form), 400
    return (
        render_template(
            "itms/template_new.html",
            form=form,
            problem=problem,
            preview=preview(form.body.data or "", None),
            samples=samples(None),
        ),
        status,
    )


def clone_template(identifier: str) -> ResponseReturnValue:
    """Copy an agent template; system templates cannot be cloned."""
    if (denied := _denied(EDITOR)) is not None:
        return denied
    form = forms.CloneForm()
    if not form.validate_on_submit():
        add_notice(SCOPE, "error", form_problems(form))
        return redirect(url_for("itms.profile"), 303)
    try:
        _itms().clone_template(identifier, form.new_identifier.data)
    except ITMSError as error:
        rollback()
        add_notice(SCOPE, "error", str(error))
        return redirect(url_for("itms.profile"), 303)
    commit()
    add_notice(SCOPE, "success", f"{identifier} cloned as {form.new_identifier.data}.")
    return redirect(url_for("itms.edit_template", identifier=form.new_identifier.data), 303)


def delete_template(identifier: str) -> ResponseReturnValue:
    """Delete an agent template; system templates cannot be deleted."""
    if (denied := _denied(EDITOR)) is not None:
        return denied
    form = forms.DeleteForm()
    if not form.validate_on_submit():
        add_notice(SCOPE, "error", form_problems(form))
        return redirect(url_for("itms.profile"), 303)
    try:
        _itms().delete_template(identifier)
    except ITMSError as error:
        rollback()
        add_notice(SCOPE, "error", str(error))
    else:
        commit()
        add_notice(SCOPE, "success", f"{identifier} deleted.")
    return redirect(url_for("itms.profile"), 303)


def _position(order: list[str], identifier: str) -> int:
    return order.index(identifier) if identifier in order else len(order)


def _is_post() -> bool:
    return request.method == "POST"
