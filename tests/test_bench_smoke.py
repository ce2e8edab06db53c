"""The benchmark harness at smoke size: it runs end to end and writes a well-formed report.

Not a timing test: the numbers of a two-second run on a shared CI machine mean nothing.
It proves that ``make bench`` works (gunicorn, wrk, the signed requests, every section
of the report) so that a real run is one command away. PostgreSQL runs too when
``ITMS_TEST_DATABASE_URL`` is set, as in CI.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import POSTGRES_URL

ROOT = Path(__file__).parent.parent

pytestmark = pytest.mark.slow


def test_make_bench_at_smoke_size_writes_a_well_formed_report(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n## Performance\n\n<!-- bench:start -->\nold\n<!-- bench:end -->\n\n## Next\n")
    output = tmp_path / "latest.md"
    command = [sys.executable, "-m", "bench", "--smoke", f"--output={output}", f"--readme={readme}"]
    if POSTGRES_URL:
        command.append(f"--postgres={POSTGRES_URL}")
    env = {key: value for key, value in os.environ.items() if key != "ITMS_BENCH_DATABASE_URL"}
    if not POSTGRES_URL:
        env.pop("ITMS_TEST_DATABASE_URL", None)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]

    report = output.read_text()
    assert report.startswith("`make bench` on ")
    assert "Smoke-sized run" in report
    backends = ["PostgreSQL", "SQLite"] if POSTGRES_URL else ["SQLite"]
    for backend in backends:
        row = re.search(rf"^\| {backend} \| ([\d,]+) \| ([\d,]+) \| ([\d.]+)× \|", report, re.MULTILINE)
        assert row, f"no webhook row for {backend}:\n{report}"
        bare, itms, ratio = (float(value.replace(",", "")) for value in row.groups())
        assert bare > 0 and itms > 0 and ratio > 0
        assert re.search(rf"^\| {backend} \| \d+ \| \d+ \| [\d.]+× \| [\d,]+ \|$", report, re.MULTILINE)  # textable
    assert re.search(r"^\| [\d,]+ \| [\d,]+ \| [\d.]+× \([\d.]+–[\d.]+\) \|$", report, re.MULTILINE)  # classifier
    assert re.search(r"^\| 600 \| [\d.]+ \| [\d.]+ \|$", report, re.MULTILINE)  # memory after 600 webhooks
    assert "| 0 / 0 |" in report  # no webhook errors on either side
    for line in report.splitlines():
        if line.startswith("|"):
            assert line.endswith("|"), line
    # The README's table is replaced between the markers, and nothing else is touched.
    text = readme.read_text()
    assert text.startswith("# x\n\n## Performance\n\n<!-- bench:start -->\n`make bench` on ")
    assert text.endswith("<!-- bench:end -->\n\n## Next\n")
    assert "old" not in text
