"""A reference model of the consent state machine, written from DESIGN.md, not from the code.

It knows nothing of flask-itms: no classifier (the soak says what kind each text is:
STOP, START, YES, HELP, a review phrase or an ordinary reply), no database, no outbox.
For one number it keeps the status, the flow's method, the review hold and the PIN,
and for every consumer text or agent action it says what must happen: the new state,
the audit events (from, to, action), the texts sent (by purpose) and, for an agent
action through the JSON API, the HTTP status.

Where DESIGN.md leaves a detail open the model follows the README and says so:
- a review hold stops the flow until an agent reads the held text: starting an opt-in
  or entering a PIN is refused (409), and a consumer's YES changes nothing; opting out
  or clearing the hold ends it (README, the consent state machine);
- a review phrase holds any number but an opted-out one, each time it arrives.
"""

from __future__ import annotations

import dataclasses
import enum

NONE, PENDING, AWAITING_CODE, OPTED_IN, OPTED_OUT = "none", "pending", "awaiting_code", "opted_in", "opted_out"

OPT_IN_TEXT = "ACE_SYSTEM_MSG_OPT_IN"
OPTED_IN_TEXT = "ACE_SYSTEM_MSG_OPTED_IN"
AUTH_CODE_TEXT = "ACE_SYSTEM_MSG_AUTH_CODE"
OPTED_OUT_TEXT = "ACE_SYSTEM_MSG_OPTED_OUT"
HELP_TEXT = "ACE_SYSTEM_MSG_HELP"

#: The consent statuses each system text may be sent in (DESIGN, "Gates"); None: any.
GATES: dict[str, frozenset[str] | None] = {
    OPT_IN_TEXT: frozenset({PENDING}),
    AUTH_CODE_TEXT: frozenset({AWAITING_CODE}),
    OPTED_IN_TEXT: frozenset({OPTED_IN}),
    OPTED_OUT_TEXT: frozenset({OPTED_OUT}),
    HELP_TEXT: None,
}

#: Wrong PIN tries before the code dies (ITMS_AUTH_CODE_MAX_ATTEMPTS's default).
MAX_PIN_TRIES = 5

OK, REFUSED, WRONG_PIN = 200, 409, 400


class Kind(enum.StrEnum):
    """What a consumer's text means, by DESIGN's reading rules."""

    STOP = "stop"  # an opt-out keyword or emoticon, the whole message
    START = "start"  # START / UNSTOP / RESUME
    YES = "yes"
    HELP = "help"  # HELP / INFO
    REVIEW = "review"  # a keyword inside longer text, or a revocation phrase
    OTHER = "other"


@dataclasses.dataclass(frozen=True)
class Event:
    from_status: str
    to_status: str
    action: str


@dataclasses.dataclass
class Number:
    """One number's consent as the model sees it, and everything it has caused so far."""

    status: str = NONE
    method: str | None = None
    on_hold: bool = False
    pin_alive: bool = False
    wrong_tries: int = 0
    events: list[Event] = dataclasses.field(default_factory=list)
    texts: list[str] = dataclasses.field(default_factory=list)

    # -- the transitions ------------------------------------------------------------------

    def _move(self, to: str, action: str) -> None:
        self.events.append(Event(self.status, to, action))
        self.status = to

    def _end_flow(self) -> None:
        self.pin_alive = False
        self.wrong_tries = 0

    # -- consumer texts -----------------------------------------------------------------------

    def consumer(self, kind: Kind) -> None:
        """A new text from the consumer (not a retry of one already received)."""
        if kind is Kind.STOP:
            if self.status != OPTED_OUT:
                self._end_flow()
                self.on_hold = False
                self._move(OPTED_OUT, "opt_out")
                self.texts.append(OPTED_OUT_TEXT)  # the one confirmation
        elif kind is Kind.START:
            if self.status in (NONE, OPTED_OUT):
                self._end_flow()
                self.on_hold = False
                self._move(OPTED_IN, "keyword_opt_in")
                self.texts.append(OPTED_IN_TEXT)
        elif kind is Kind.YES:
            # A live request (the soak runs well inside its 7 days), and no hold on it.
            if self.status == PENDING and not self.on_hold:
                if self.method == "agent":
                    self.pin_alive, self.wrong_tries = True, 0
                    self._move(AWAITING_CODE, "yes")
                    self.texts.append(AUTH_CODE_TEXT)
                else:
                    self._end_flow()
                    self._move(OPTED_IN, "yes")
                    self.texts.append(OPTED_IN_TEXT)
        elif kind is Kind.HELP:
            self.texts.append(HELP_TEXT)  # always answered, no change, no event
        elif kind is Kind.REVIEW and self.status != OPTED_OUT:
            self.on_hold = True
            self.events.append(Event(self.status, self.status, "held"))

    # -- agent actions through the JSON API ---------------------------------------------------

    def start_opt_in(self, method: str) -> int:
        """Send Opt In Request (``agent``), Quick Opt In (``quick``) or link (``supervisor``)."""
        allowed = (NONE,) if method == "supervisor" else (NONE, PENDING, AWAITING_CODE)
        if self.on_hold or self.status not in allowed:
            return REFUSED
        self._end_flow()
        self.method = method
        self._move(PENDING, f"{method}_opt_in_request")
        self.texts.append(OPT_IN_TEXT)
        return OK

    def enter_pin(self, correct: bool) -> int:
        if self.on_hold or self.status != AWAITING_CODE:
            return REFUSED
        if not self.pin_alive:
            return WRONG_PIN
        if not correct:
            self.wrong_tries += 1
            if self.wrong_tries >= MAX_PIN_TRIES:
                self.pin_alive = False
            return WRONG_PIN
        self._end_flow()
        self._move(OPTED_IN, "auth_code_entered")
        self.texts.append(OPTED_IN_TEXT)
        return OK

    def opt_out(self) -> int:
        if self.status == OPTED_OUT:
            return REFUSED
        self._end_flow()
        self.on_hold = False
        self._move(OPTED_OUT, "opt_out")
        self.texts.append(OPTED_OUT_TEXT)
        return OK

    def clear_hold(self) -> int:
        if not self.on_hold:
            return REFUSED
        self.on_hold = False
        self.events.append(Event(self.status, self.status, "hold_cleared"))
        return OK


def allowed_by_gates(purpose: str, status: str) -> bool:
    """Whether a system text with this purpose may reach a number in this status."""
    allowed = GATES[purpose]
    return allowed is None or status in allowed
