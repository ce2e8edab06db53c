"""When an agent-initiated text may go out: 8am to 9pm in the consumer's local time (FDCPA)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

_STEP = timedelta(minutes=15)
_HORIZON = timedelta(days=2)


def _inside(moment: datetime, zones: list[ZoneInfo], hours: tuple[int, int]) -> bool:
    start, end = hours
    return all(start <= moment.astimezone(zone).hour < end for zone in zones)


def next_allowed(now: datetime, zone_names: tuple[str, ...], hours: tuple[int, int], fallback: str) -> datetime:
    """The first moment from ``now`` that is inside ``hours`` in every one of the zones.

    A number that may be in several zones gets the most restrictive window: all of them
    must be inside it. When the zones have no common window (a non-geographic number
    spanning the globe) the fallback zone decides.
    """
    zones = [ZoneInfo(name) for name in zone_names] or [ZoneInfo(fallback)]
    for candidate_zones in (zones, [ZoneInfo(fallback)]):
        if _inside(now, candidate_zones, hours):
            return now
        moment = now.replace(second=0, microsecond=0)
        moment -= timedelta(minutes=moment.minute % 15)
        limit = now + _HORIZON
        while moment < limit:
            moment += _STEP
            if _inside(moment, candidate_zones, hours):
                return moment
    return now
