"""``python -m bench`` (``make bench``): run every benchmark and write the report.

The report goes to ``bench/results/latest.md`` and replaces the table between the
``bench:start``/``bench:end`` markers in README.md. PostgreSQL runs when a URL is given
(``--postgres``, or ``ITMS_BENCH_DATABASE_URL``, or ``ITMS_TEST_DATABASE_URL``): the
benchmark **drops and recreates the itms tables in that database**, so give it one of
its own. SQLite always runs, in a temporary directory. wrk is installed from Debian's
package when missing and running as root.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

from . import classifier, profile, report, textable, webhooks

ROOT = Path(__file__).resolve().parent.parent
ALL = ("webhooks", "classifier", "textable", "memory")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", help="PostgreSQL URL for a database the benchmark may wipe")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check the harness, not the code")
    parser.add_argument("--only", default=",".join(ALL), help=f"comma-separated subset of {', '.join(ALL)}")
    parser.add_argument("--rounds", type=int, help="webhook rounds per database (default 3)")
    parser.add_argument("--duration", type=float, help="seconds per webhook run (default 10)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "latest.md")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md", help="README to refresh")
    parser.add_argument("--no-readme", action="store_true", help="leave the README alone")
    options = parser.parse_args(argv)
    chosen = {name.strip() for name in options.only.split(",") if name.strip()}
    unknown = chosen - set(ALL)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    postgres = options.postgres or os.environ.get("ITMS_BENCH_DATABASE_URL") or os.environ.get("ITMS_TEST_DATABASE_URL")
    smoke = options.smoke
    rounds = options.rounds or (1 if smoke else 3)
    duration = options.duration or (2.0 if smoke else 10.0)

    machine = report.Machine.describe(_postgres_version(postgres) if postgres else None)
    report.log(machine.line())
    if not postgres:
        report.log("No PostgreSQL URL (--postgres or ITMS_BENCH_DATABASE_URL): SQLite only.")
    backends: list[tuple[str, str]] = []
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="itms-bench-") as scratch:
        work = Path(scratch)
        if postgres:
            backends.append(("postgresql", postgres))
        backends.append(("sqlite", f"sqlite:///{work / 'bench.db'}"))

        if "webhooks" in chosen:
            webhooks.ensure_wrk()
            results["throughput"] = []
            for backend, url in backends:
                report.log(f"(a) webhooks on {backend}")
                results["throughput"].append(  # type: ignore[attr-defined]
                    webhooks.throughput(
                        backend,
                        url,
                        work,
                        rounds=rounds,
                        duration=duration,
                        warmup=1.0 if smoke else 3.0,
                        numbers=300 if smoke else 5000,
                        log=report.log,
                    )
                )
            backend, url = backends[0]
            report.log(f"(a) where an itms webhook's CPU goes, on {backend}")
            results["profile"] = (
                backend,
                profile.run(url, work, requests=300 if smoke else 3000, numbers=300 if smoke else 2000),
            )
        if "classifier" in chosen:
            report.log("(b) classifier")
            results["classifier"] = classifier.run(texts=2000 if smoke else 20_000, rounds=5 if smoke else 41)
        if "textable" in chosen:
            results["textable"] = []
            for backend, url in backends:
                report.log(f"(c) textable on {backend}")
                results["textable"].append(  # type: ignore[attr-defined]
                    textable.run(backend, url, numbers=2000 if smoke else 100_000, rounds=3 if smoke else 9)
                )
        if "memory" in chosen:
            webhooks.ensure_wrk()
            backend, url = backends[0]
            report.log(f"(d) memory on {backend}")
            results["memory"] = webhooks.memory(
                backend,
                url,
                work,
                checkpoints=(300, 600) if smoke else (10_000, 50_000),
                numbers=300 if smoke else 5000,
                log=report.log,
            )

    machine.load_after = os.getloadavg()
    text = report.render(
        machine,
        throughput=results.get("throughput", []),  # type: ignore[arg-type]
        classifier=results.get("classifier"),  # type: ignore[arg-type]
        textable=results.get("textable", []),  # type: ignore[arg-type]
        memory=results.get("memory"),  # type: ignore[arg-type]
        profile=results.get("profile"),  # type: ignore[arg-type]
        smoke=smoke,
    )
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(text)
    report.log(f"wrote {options.output}")
    if not options.no_readme:
        if report.refresh_readme(options.readme, text):
            report.log(f"refreshed the table in {options.readme}")
        else:
            report.log(f"{options.readme} has no {report.START} … {report.END} markers; left alone")
    print(text)
    return 0


def _postgres_version(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            version = str(connection.execute(sa.text("SHOW server_version")).scalar_one())
    finally:
        engine.dispose()
    return version.split()[0]


if __name__ == "__main__":
    sys.exit(main())
