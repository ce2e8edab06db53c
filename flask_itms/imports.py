"""Prior opt-outs into flask-itms: from a previous system, a carrier's list, a spreadsheet.

Each valid number is opted out with an audit event (source ``system``, method
``import``) that names the file and line. No confirmation text is sent: these consumers
revoked consent earlier, elsewhere, and the FCC's one confirmation belongs within five
minutes of the revocation itself. A text now would be a new message to someone who
asked for none. Importing the same file again changes nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import typing as t

from . import consent as consent_service
from .errors import InvalidPhoneNumber
from .phones import to_e164

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from .state import State

#: Header names recognised for each column (case-insensitive). Without a header, the
#: first column is the phone number.
PHONE_COLUMNS = ("phone", "phone_number", "number", "mobile", "msisdn", "e164")
DATE_COLUMNS = ("opted_out_at", "opt_out_date", "date")
REASON_COLUMNS = ("reason", "note", "source")


@dataclasses.dataclass(frozen=True)
class Row:
    """One data line of the file: the number as E.164, or why it was rejected."""

    line: int
    raw: str
    phone: str | None
    problem: str | None = None
    date: str | None = None
    reason: str | None = None


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    folded = [name.strip().casefold() for name in header]
    return next((folded.index(name) for name in names if name in folded), None)


def read_rows(stream: t.TextIO, region: str) -> Iterator[Row]:
    """Read an opt-out CSV, validating each number; blank lines are skipped."""
    reader = csv.reader(stream)
    phone_at, date_at, reason_at = 0, None, None
    first = True
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if first:
            first = False
            named = _column(cells, PHONE_COLUMNS)
            if named is not None:
                phone_at, date_at, reason_at = named, _column(cells, DATE_COLUMNS), _column(cells, REASON_COLUMNS)
                continue
            if not any(char.isdigit() for char in cells[0]):
                continue  # a header whose names we do not know: the phone is the first column

        def cell(index: int | None, cells: list[str] = cells) -> str | None:
            if index is None or index >= len(cells):
                return None
            return cells[index].strip() or None

        raw = cell(phone_at) or ""
        extra = {"date": cell(date_at), "reason": cell(reason_at)}
        if not raw:
            yield Row(reader.line_num, raw, None, "no phone number in the phone column", **extra)
            continue
        try:
            yield Row(reader.line_num, raw, to_e164(raw, region), **extra)
        except InvalidPhoneNumber as error:
            yield Row(reader.line_num, raw, None, str(error), **extra)


def import_opt_out(state: State, row: Row, *, source_name: str, actor: str | None) -> bool:
    """Opt out ``row.phone`` unless it already is; returns whether anything changed.

    Adds to the session; the caller commits.
    """
    if row.phone is None:
        raise ValueError(f"line {row.line} was rejected ({row.problem}); there is nothing to import.")
    consent = consent_service.lock(state, row.phone)
    if consent.status == consent_service.OPTED_OUT:
        return False
    details = [f"{source_name} line {row.line}"]
    if row.date:
        details.append(f"opted out {row.date}")
    if row.reason:
        details.append(row.reason)
    consent_service.opt_out_locked(
        state,
        consent,
        action="opt_out",
        method="import",
        source="system",
        actor=actor,
        reason=f"Imported opt-out ({'; '.join(details)})",
        confirm=False,
    )
    return True
