"""Phone numbers: everything past the edge is an E.164 string."""

from __future__ import annotations

import phonenumbers
from phonenumbers import timezone as phone_timezones

from .errors import InvalidPhoneNumber

#: Longest text we try to read as a number; anything longer is refused before parsing.
_MAX_INPUT = 64


def to_e164(phone: object, region: str = "US") -> str:
    """Return ``phone`` as E.164, or raise :class:`InvalidPhoneNumber` saying why."""
    if not isinstance(phone, str) or not phone.strip():
        raise InvalidPhoneNumber(f"{phone!r} is not a phone number: give a string such as '+15551234567'.")
    if len(phone) > _MAX_INPUT:
        raise InvalidPhoneNumber("That phone number is too long to be valid.")
    try:
        parsed = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"{phone!r} is not a phone number ({exc._msg}).") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(
            f"{phone!r} is not a valid number for region {region}: include the country code, e.g. '+1…'."
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def try_e164(phone: object, region: str = "US") -> str | None:
    """Return ``phone`` as E.164, or ``None`` when it is not a valid number."""
    try:
        return to_e164(phone, region)
    except InvalidPhoneNumber:
        return None


def time_zones(e164: str) -> tuple[str, ...]:
    """The IANA time zones a number may be in; empty when unknown."""
    zones = phone_timezones.time_zones_for_number(phonenumbers.parse(e164))
    return tuple(zone for zone in zones if zone != phone_timezones.UNKNOWN_TIMEZONE)
