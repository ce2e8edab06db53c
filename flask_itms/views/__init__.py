"""The screens agents, supervisors and editors use: the phone panel, the queue and the Text Msg Profile."""

from __future__ import annotations

import typing as t

from flask import Blueprint


def register(blueprint: Blueprint) -> None:
    """Add the HTML screens' routes to the itms blueprint."""
    from . import phone, profile, queue
    from .common import granted_roles

    add = blueprint.add_url_rule
    add("/phones/<phone>", "phone", phone.phone, methods=["GET"])
    add("/phones/<phone>/opt-in-request", "opt_in_request", phone.request_opt_in, methods=["POST"])
    add("/phones/<phone>/quick-opt-in", "quick_opt_in", phone.quick_opt_in, methods=["POST"])
    add("/phones/<phone>/auth-code", "auth_code", phone.auth_code, methods=["POST"])
    add("/phones/<phone>/opt-out", "opt_out", phone.opt_out, methods=["POST"])
    add("/phones/<phone>/clear-hold", "clear_hold", phone.clear_hold, methods=["POST"])
    add("/queue", "queue", queue.queue, methods=["GET"])
    add("/queue/link", "link_number", queue.link, methods=["POST"])
    add("/templates", "profile", profile.profile, methods=["GET"])
    # A hyphen cannot appear in an identifier, so this never hides a template's page.
    add("/templates/new-template", "new_template", profile.new_template, methods=["GET", "POST"])
    add("/templates/<identifier>", "edit_template", profile.edit_template, methods=["GET", "POST"])
    add("/templates/<identifier>/clone", "clone_template", profile.clone_template, methods=["POST"])
    add("/templates/<identifier>/delete", "delete_template", profile.delete_template, methods=["POST"])

    @blueprint.context_processor
    def roles() -> dict[str, t.Any]:
        return {"itms_roles": granted_roles}
