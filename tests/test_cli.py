"""``flask itms …``: status, worker, export and import-opt-outs, run through Flask's CLI runner."""

from __future__ import annotations

import csv
import io
import json
import typing as t
from pathlib import Path

import pytest
from click.testing import Result
from conftest import Clock
from flask import Flask

from flask_itms import ITMS, ConsentStatus

PHONE = "+12015550123"
OTHER = "+13125550188"
OUR_NUMBER = "+18005550199"
HELD = '=HYPERLINK("http://x.example") stop texting me'


def invoke(app: Flask, *args: str) -> Result:
    db = app.extensions["itms"].db
    db.session.commit()  # the command runs in its own app context and session
    result = app.test_cli_runner().invoke(args=["itms", *args])
    db.session.expire_all()
    return result


def history(itms: ITMS, db: t.Any, clock: Clock) -> None:
    """PHONE: requested, YES, PIN entered, then STOP a day later. OTHER: quick opt-in, a day later."""
    itms.request_opt_in(PHONE, account="ACCT-1", actor="agent:alice")
    db.session.commit()
    itms.handle_inbound(PHONE, OUR_NUMBER, "Yes", provider_message_id="in-1")
    db.session.commit()
    code = next(word for word in itms.provider.sent[-1].body.replace(".", " ").split() if word.isdigit())
    itms.enter_auth_code(PHONE, code, actor="agent:alice")
    db.session.commit()
    clock.advance(days=1)
    itms.handle_inbound(PHONE, OUR_NUMBER, HELD, provider_message_id="in-2")  # a review hold
    itms.handle_inbound(PHONE, OUR_NUMBER, "STOP", provider_message_id="in-3")
    itms.quick_opt_in(OTHER, actor="agent:bob")
    db.session.commit()


# -- status ---------------------------------------------------------------------------------


def test_status_of_an_unknown_number(app: Flask) -> None:
    result = invoke(app, "status", "(201) 555-0123")
    assert result.exit_code == 0
    assert result.output.startswith(f"{PHONE}: none")


def test_status_shows_method_actor_time_and_history(app: Flask, itms: ITMS, db: t.Any, clock: Clock) -> None:
    itms.request_opt_in(PHONE, account="ACCT-1", actor="agent:alice")
    db.session.commit()
    clock.advance(minutes=5)
    itms.opt_out(PHONE, actor="agent:bob", reason="asked on the phone")
    result = invoke(app, "status", "201-555-0123")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{PHONE}: opted_out"
    assert "  method:  agent" in lines
    assert "  since:   2026-06-02T16:05:00+00:00" in lines
    assert "  actor:   agent:bob (source agent)" in lines
    assert "  account: ACCT-1" in lines
    assert "none -> pending  agent_opt_in_request  method=agent source=agent actor=agent:alice" in result.output
    assert "pending -> opted_out  opt_out  method=agent source=agent actor=agent:bob" in result.output


def test_status_refuses_a_bad_number(app: Flask) -> None:
    result = invoke(app, "status", "12")
    assert result.exit_code == 2
    assert "not a valid number" in result.output


# -- worker -----------------------------------------------------------------------------------


def test_worker_once_sends_what_is_due(make_app: t.Callable[..., Flask]) -> None:
    app = make_app(ITMS_SEND_MODE="worker")
    with app.app_context():
        state = app.extensions["itms"]
        state.itms.request_opt_in(PHONE)
        state.itms.request_opt_in(OTHER)
        state.db.session.commit()
        assert state.provider.sent == []
        result = invoke(app, "worker", "--once", "--batch", "1")
        assert result.exit_code == 0, result.output
        assert "processed 2 queued text(s)" in result.output
        assert sorted(text.phone for text in state.provider.sent) == sorted([PHONE, OTHER])
        assert invoke(app, "worker", "--once").exit_code == 0
        assert len(state.provider.sent) == 2


def test_worker_rejects_a_bad_batch(app: Flask) -> None:
    assert invoke(app, "worker", "--batch", "0").exit_code == 2


# -- export -----------------------------------------------------------------------------------


def rows_of(result: Result) -> list[dict[str, str]]:
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_export_csv_has_every_event_with_its_evidence(app: Flask, itms: ITMS, db: t.Any, clock: Clock) -> None:
    history(itms, db, clock)
    result = invoke(app, "export")
    rows = rows_of(result)
    assert [(row["phone"], row["action"]) for row in rows] == [
        (PHONE, "agent_opt_in_request"),
        (PHONE, "yes"),
        (PHONE, "auth_code_entered"),
        (PHONE, "held"),
        (PHONE, "opt_out"),
        (OTHER, "quick_opt_in_request"),
    ]
    yes, held, stop = rows[1], rows[3], rows[4]
    assert (yes["source"], yes["keyword"], yes["message_text"]) == ("consumer", "yes", "Yes")
    assert held["message_text"] == "'" + HELD  # a spreadsheet must not run it as a formula
    assert (stop["from_status"], stop["to_status"], stop["method"]) == ("opted_in", "opted_out", "keyword")
    assert rows[0]["actor"] == "agent:alice"
    assert rows[0]["created_at"] == "2026-06-02T16:00:00+00:00"
    assert rows[0]["phone"] == PHONE  # a phone number is not mistaken for a formula
    assert result.stderr == "Exported 6 consent event(s).\n"


def test_export_filters_by_phone_and_dates(app: Flask, itms: ITMS, db: t.Any, clock: Clock) -> None:
    history(itms, db, clock)
    only_phone = rows_of(invoke(app, "export", "--phone", "(201) 555-0123"))
    assert {row["phone"] for row in only_phone} == {PHONE}
    assert len(only_phone) == 5

    first_day = rows_of(invoke(app, "export", "--until", "2026-06-02"))
    assert [row["action"] for row in first_day] == ["agent_opt_in_request", "yes", "auth_code_entered"]
    second_day = rows_of(invoke(app, "export", "--since", "2026-06-03T00:00:00Z"))
    assert [row["action"] for row in second_day] == ["held", "opt_out", "quick_opt_in_request"]
    local = rows_of(invoke(app, "export", "--since", "2026-06-03T12:00:00-04:00", "--phone", OTHER))
    assert [row["action"] for row in local] == ["quick_opt_in_request"]


def test_export_json_to_a_file(app: Flask, itms: ITMS, db: t.Any, clock: Clock, tmp_path: Path) -> None:
    history(itms, db, clock)
    target = tmp_path / "evidence.json"
    result = invoke(app, "export", "--format", "json", "--phone", PHONE, "--output", str(target))
    assert result.exit_code == 0, result.output
    events = json.loads(target.read_text(encoding="utf-8"))
    assert [event["action"] for event in events][-1] == "opt_out"
    assert events[-1]["keyword"] == "stop"
    assert events[-1]["message_text"] == "STOP"
    assert events[0]["message_id"] is None
    assert not list(tmp_path.glob(".*partial"))


def test_export_to_a_missing_folder_fails_cleanly(app: Flask, tmp_path: Path) -> None:
    result = invoke(app, "export", "-o", str(tmp_path / "no-such-folder" / "out.csv"))
    assert result.exit_code == 1
    assert "Could not write" in result.output


def test_export_of_nothing_is_valid(app: Flask, tmp_path: Path) -> None:
    target = tmp_path / "none.json"
    assert invoke(app, "export", "--format", "json", "-o", str(target)).exit_code == 0
    assert json.loads(target.read_text()) == []


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--since", "yesterday"], "not an ISO date"),
        (["--since", "2026-06-03", "--until", "2026-06-01"], "--since must be before --until"),
        (["--phone", "555"], "not a valid number"),
        (["--format", "xml"], "xml"),
    ],
)
def test_export_refuses_bad_options(app: Flask, args: list[str], complaint: str) -> None:
    result = invoke(app, "export", *args)
    assert result.exit_code == 2
    assert complaint in result.output


# -- import-opt-outs ------------------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "prior.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


PRIOR = (
    "Name,Phone,Opted_Out_At,Reason\n"
    "Ann,(201) 555-0123,2024-03-01,replied STOP to the old vendor\n"
    "Bob,not a number,2024-03-02,\n"
    "\n"
    "Cid,+1 312 555 0188,,\n"
    "Dee,201.555.0123,,\n"
    "Eve,,,\n"
)


def test_import_opts_out_audits_and_reports_rejects_by_line(app: Flask, itms: ITMS, db: t.Any, tmp_path: Path) -> None:
    itms.quick_opt_in(OTHER, actor="agent:bob")  # pending: the import overrides it
    db.session.commit()
    sent_before = len(itms.provider.sent)
    result = invoke(app, "import-opt-outs", str(write(tmp_path, PRIOR)), "--actor", "ops:carol")

    assert result.exit_code == 1  # some lines were rejected
    assert "prior.csv line 3: rejected 'not a number'" in result.output
    assert "prior.csv line 7: rejected '': no phone number" in result.output
    assert "Imported 2 opt-out(s); 0 already opted out; 1 duplicate line(s); 2 rejected." in result.output

    assert itms.status(PHONE) is ConsentStatus.OPTED_OUT
    assert itms.status(OTHER) is ConsentStatus.OPTED_OUT
    (event,) = itms.events(PHONE)
    assert (event.source, event.method, event.actor, event.from_status) == ("system", "import", "ops:carol", "none")
    assert event.reason == "Imported opt-out (prior.csv line 2; opted out 2024-03-01; replied STOP to the old vendor)"
    # No confirmation: these consumers revoked long ago, elsewhere.
    assert len(itms.provider.sent) == sent_before
    assert not [m for m in itms.messages(PHONE) if m.direction == "outbound"]


def test_import_is_idempotent(app: Flask, itms: ITMS, db: t.Any, tmp_path: Path) -> None:
    path = write(tmp_path, "phone\n+12015550123\n+13125550188\n")
    assert invoke(app, "import-opt-outs", str(path)).exit_code == 0
    again = invoke(app, "import-opt-outs", str(path))
    assert again.exit_code == 0
    assert "Imported 0 opt-out(s); 2 already opted out" in again.output
    assert len(itms.events(PHONE)) == 1
    assert itms.events(PHONE)[0].actor.startswith("cli:")


def test_import_without_a_header_reads_the_first_column(app: Flask, itms: ITMS, tmp_path: Path) -> None:
    result = invoke(app, "import-opt-outs", str(write(tmp_path, "2015550123,old list\n")))
    assert result.exit_code == 0, result.output
    assert itms.status(PHONE) is ConsentStatus.OPTED_OUT


def test_import_dry_run_changes_nothing(app: Flask, itms: ITMS, tmp_path: Path) -> None:
    result = invoke(app, "import-opt-outs", "--dry-run", str(write(tmp_path, PRIOR)))
    assert result.exit_code == 1
    assert "Dry run: 2 valid number(s); 1 duplicate line(s); 2 rejected." in result.output
    assert itms.status(PHONE) is ConsentStatus.NONE


def test_import_refuses_a_file_that_is_not_utf8(app: Flask, tmp_path: Path) -> None:
    result = invoke(app, "import-opt-outs", str(write(tmp_path, "phone\n2015550123,Müller\n", encoding="utf-16")))
    assert result.exit_code == 1
    assert "is not UTF-8 text" in result.output
