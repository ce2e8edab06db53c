"""``flask itms …``: commands for operators and compliance work. They own their commits."""

from __future__ import annotations

import collections
import getpass
import os
import sys
import typing as t
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from flask.cli import AppGroup

from . import consent as consent_service
from . import exports, imports, worker
from .errors import InvalidPhoneNumber
from .phones import to_e164
from .state import current_state

itms_cli = AppGroup("itms", help="Consent-managed texting (flask-itms).")

#: Imported opt-outs are committed in chunks, so a huge file neither holds one long
#: transaction nor loses what was done when it stops half-way (a re-run skips those).
_IMPORT_CHUNK = 500


class Moment(click.ParamType[datetime]):
    """An ISO 8601 date or date-time; naive values are UTC.

    With ``whole_day`` a bare date means the end of that day, so ``--until 2026-06-30``
    includes June 30.
    """

    name = "date"

    def __init__(self, *, whole_day: bool = False) -> None:
        self.whole_day = whole_day

    def convert(self, value: t.Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{text!r} is not an ISO date or date-time, e.g. 2026-06-01 or 2026-06-01T09:30:00Z.", param, ctx)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        if self.whole_day and len(text) == len("2026-06-01"):
            moment += timedelta(days=1)
        return moment


def _phone_argument(phone: str, hint: str) -> str:
    try:
        return to_e164(phone, current_state().settings.default_region)
    except InvalidPhoneNumber as error:
        raise click.BadParameter(str(error), param_hint=hint) from None


@itms_cli.command("status")
@click.argument("phone")
def status_command(phone: str) -> None:
    """Show the consent of PHONE: status, how and by whom it was set, and its history."""
    state = current_state()
    e164 = _phone_argument(phone, "PHONE")
    consent = consent_service.find(state, e164)
    if consent is None:
        click.echo(f"{e164}: none (no opt-in flow has started for this number)")
        return
    events = state.itms.events(e164)
    changes = [event for event in events if event.from_status != event.to_status]
    last = changes[-1] if changes else None
    click.echo(f"{e164}: {consent.status}{' (on hold: texting paused for review)' if consent.on_hold else ''}")
    click.echo(f"  method:  {consent.method or '-'}")
    click.echo(f"  since:   {last.created_at.isoformat() if last else '-'}")
    click.echo(f"  actor:   {(last.actor if last else None) or '-'} (source {last.source if last else '-'})")
    click.echo(f"  account: {consent.account or '-'}")
    click.echo("  history, oldest first:")
    for event in events:
        click.echo(
            f"    {event.created_at.isoformat()}  {event.from_status} -> {event.to_status}  {event.action}"
            f"  method={event.method or '-'} source={event.source} actor={event.actor or '-'}"
        )


@itms_cli.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option(
    "--batch", type=click.IntRange(1, 10_000), default=100, show_default=True, help="Texts claimed per round."
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=5.0,
    show_default=True,
    help="Seconds to wait when nothing is due.",
)
def worker_command(once: bool, batch: int, interval: float) -> None:
    """Send queued texts and retries. Run as many as you like; SIGTERM stops one cleanly."""
    state = current_state()
    click.echo(f"flask-itms worker: provider {state.provider.name}, batch {batch}, pid {os.getpid()}.", err=True)
    stop = worker.StopFlag()
    with stop.on_signals():
        total = worker.run(state, once=once, batch=batch, interval=interval, stop=stop)
    click.echo(f"flask-itms worker: processed {total} queued text(s).", err=True)


@itms_cli.command("export")
@click.option("--format", "format_", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--since", type=Moment(), help="Events at or after this date or time (UTC unless given).")
@click.option("--until", type=Moment(whole_day=True), help="Events before this time; a date includes that day.")
@click.option("--phone", "phones", multiple=True, help="Only this number; repeat for several.")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of stdout."
)
def export_command(
    format_: str, since: datetime | None, until: datetime | None, phones: tuple[str, ...], output: Path | None
) -> None:
    """Write the consent audit trail (every event, with the text that caused it) as CSV or JSON."""
    state = current_state()
    if since is not None and until is not None and since >= until:
        raise click.BadParameter("--since must be before --until.", param_hint="--since")
    numbers = [_phone_argument(phone, "--phone") for phone in phones]
    rows = exports.consent_events(state, since=since, until=until, phones=numbers)
    write = exports.write_csv if format_ == "csv" else exports.write_json
    if output is None:
        count = write(rows, sys.stdout)
    else:
        # Write beside the target and rename, so a half-written export never looks complete.
        partial = output.with_name(f".{output.name}.partial")
        try:
            with partial.open("w", encoding="utf-8", newline="") as stream:
                count = write(rows, stream)
            partial.replace(output)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise click.ClickException(f"Could not write {output}: {error.strerror or error}.") from None
    click.echo(f"Exported {count} consent event(s){f' to {output}' if output else ''}.", err=True)


@itms_cli.command("import-opt-outs")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--actor", help="Who imports, for the audit trail.  [default: cli:<your login>]")
@click.option("--dry-run", is_flag=True, help="Check the file and report, changing nothing.")
def import_opt_outs_command(file: Path, actor: str | None, dry_run: bool) -> None:
    """Opt out every number in FILE.csv, with an audit event each and no text sent.

    FILE has a phone column (header phone, number, mobile, msisdn or e164; else the first
    column) and optionally opted_out_at and reason. Invalid numbers are reported with
    their line and skipped; numbers already opted out are left as they are, so running
    the same file twice is safe. Exits 1 when any line was rejected.
    """
    state = current_state()
    actor = actor or f"cli:{getpass.getuser()}"
    counts: collections.Counter[str] = collections.Counter()
    seen: set[str] = set()
    try:
        with file.open(encoding="utf-8-sig", newline="") as stream:
            for row in imports.read_rows(stream, state.settings.default_region):
                if row.phone is None:
                    counts["rejected"] += 1
                    click.echo(f"{file.name} line {row.line}: rejected {row.raw!r}: {row.problem}", err=True)
                elif row.phone in seen:
                    counts["duplicate"] += 1
                elif dry_run:
                    seen.add(row.phone)
                    counts["valid"] += 1
                else:
                    seen.add(row.phone)
                    changed = imports.import_opt_out(state, row, source_name=file.name, actor=actor)
                    counts["imported" if changed else "already"] += 1
                    if len(seen) % _IMPORT_CHUNK == 0:
                        state.session.commit()
    except UnicodeDecodeError:
        state.session.commit()  # keep what was imported; a re-run skips it
        raise click.ClickException(f'{file} is not UTF-8 text: save it as "CSV UTF-8" and run again.') from None
    state.session.commit()
    if dry_run:
        summary = f"Dry run: {counts['valid']} valid number(s)"
    else:
        summary = f"Imported {counts['imported']} opt-out(s); {counts['already']} already opted out"
    click.echo(f"{summary}; {counts['duplicate']} duplicate line(s); {counts['rejected']} rejected.", err=True)
    if counts["rejected"]:
        click.get_current_context().exit(1)
