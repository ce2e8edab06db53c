"""Signals sent by flask-itms.

The sender is always the application (``current_app._get_current_object()``) and every
payload is keyword arguments, so receivers take ``**extra``. Each consent signal is sent
inside the transaction that records the change: a receiver may add to the session and
its rows commit (or roll back) with the change.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: An opt-in request was queued. Kwargs: ``phone``, ``consent``, ``method``, ``actor``.
opt_in_requested = _signals.signal("opt-in-requested")
#: The consumer said YES to an agent request and a fresh PIN was queued.
#: Kwargs: ``phone``, ``consent``.
auth_code_sent = _signals.signal("auth-code-sent")
#: The number is now opted in. Kwargs: ``phone``, ``consent``, ``method``, ``actor``.
opted_in = _signals.signal("opted-in")
#: The number is now opted out. Kwargs: ``phone``, ``consent``, ``method``, ``actor``,
#: ``message`` (the inbound text that caused it, or ``None``).
opted_out = _signals.signal("opted-out")
#: The consumer texted HELP or INFO. Kwargs: ``phone``, ``message``.
help_requested = _signals.signal("help-requested")
#: An inbound text was stored. Kwargs: ``message``.
message_received = _signals.signal("message-received")
#: An inbound text came from a number linked to no account. Kwargs: ``phone``, ``message``.
unlinked_message_received = _signals.signal("unlinked-message-received")
#: A consent was put on review hold by an ambiguous text. Kwargs: ``phone``, ``consent``,
#: ``message``.
consent_held = _signals.signal("consent-held")
#: The provider accepted an outbound text. Kwargs: ``message``. Sent after the commit.
message_sent = _signals.signal("message-sent")
#: An outbound text failed for good. Kwargs: ``message``, ``error``. Sent after the commit.
message_failed = _signals.signal("message-failed")
#: A delivery report changed a message's status. Kwargs: ``message``, ``status``.
delivery_status_changed = _signals.signal("delivery-status-changed")
