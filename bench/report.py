"""The benchmark report: markdown tables, the machine they ran on, and the README copy."""

from __future__ import annotations

import dataclasses
import os
import platform
import re
import sqlite3
import subprocess
import sys
import typing as t
from datetime import UTC, datetime
from pathlib import Path

from .classifier import ClassifierResult
from .profile import Profile
from .profile import render as render_profile
from .textable import TextableResult
from .webhooks import MemoryResult, ThroughputResult

START = "<!-- bench:start -->"
END = "<!-- bench:end -->"

#: The issue's targets.
WEBHOOK_RATIO = 0.6
WEBHOOK_P99_MS = 50.0
CLASSIFIER_RATIO = 0.3
TEXTABLE_SLOWDOWN = 1.5
MEMORY_GROWTH = 0.20


@dataclasses.dataclass
class Machine:
    """Where and when the benchmark ran, so a reader can weigh the numbers."""

    cpu: str
    cores: int
    python: str
    sqlite: str
    postgresql: str | None
    wrk: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] | None = None
    started: datetime = dataclasses.field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def describe(cls, postgresql: str | None) -> Machine:
        return cls(
            cpu=_cpu_model(),
            cores=os.cpu_count() or 0,
            python=platform.python_version(),
            sqlite=sqlite3.sqlite_version,
            postgresql=postgresql,
            wrk=_wrk_version(),
            load_before=os.getloadavg(),
        )

    def line(self) -> str:
        load = f"load average {self.load_before[0]:.1f}"
        if self.load_after is not None:
            load += f" at the start, {self.load_after[0]:.1f} at the end"
        databases = f"SQLite {self.sqlite}" + (f", PostgreSQL {self.postgresql}" if self.postgresql else "")
        return (
            f"`make bench` on {self.started:%Y-%m-%d %H:%M} UTC: {self.cores} × {self.cpu} ({load};"
            f" a shared machine), Python {self.python}, {databases}, {self.wrk}."
        )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _wrk_version() -> str:
    try:
        output = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return "wrk (not installed)"
    return output.split(" [", 1)[0].split(" Copyright", 1)[0].strip() or "wrk"


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _ms(microseconds: float) -> str:
    return f"{microseconds / 1000:.1f}"


def render(
    machine: Machine,
    *,
    throughput: t.Sequence[ThroughputResult] = (),
    classifier: ClassifierResult | None = None,
    textable: t.Sequence[TextableResult] = (),
    memory: MemoryResult | None = None,
    profile: tuple[str, Profile] | None = None,
    smoke: bool = False,
) -> str:
    """The markdown report: the machine, a summary against the targets, and each benchmark."""
    lines = [machine.line(), ""]
    if smoke:
        lines += ["*Smoke-sized run: the numbers only show that the harness works.*", ""]
    lines += ["| target | measured | |", "|---|---|---|"]
    for result in throughput:
        if result.backend == "postgresql":
            p99 = max(each.itms.p99_us for each in result.rounds) / 1000
            errors = result.itms_errors
            lines.append(
                f"| webhook on PostgreSQL ≥ {WEBHOOK_RATIO}× bare | {result.ratio:.2f}× |"
                f" {_met(result.ratio >= WEBHOOK_RATIO)} |"
            )
            lines.append(
                f"| webhook p99 < {WEBHOOK_P99_MS:.0f} ms at {result.connections} connections, no errors |"
                f" {p99:.1f} ms (worst round), {errors} errors |"
                f" {_met(p99 < WEBHOOK_P99_MS and errors == 0)} |"
            )
    if classifier is not None:
        ratio = classifier.pairs.ratio
        lines.append(
            f"| classifier ≥ {CLASSIFIER_RATIO}× `dict.get` | {ratio:.2f}× | {_met(ratio >= CLASSIFIER_RATIO)} |"
        )
    for result in textable:
        slowdown = result.slowdown
        lines.append(
            f"| `textable()` on {_name(result.backend)} ≤ {TEXTABLE_SLOWDOWN}× raw SQL | {slowdown:.2f}× |"
            f" {_met(slowdown <= TEXTABLE_SLOWDOWN)} |"
        )
    if memory is not None:
        lines.append(
            f"| worker memory growth ≤ {MEMORY_GROWTH:.0%} | {memory.growth:+.1%} |"
            f" {_met(memory.growth <= MEMORY_GROWTH and memory.errors == 0)} |"
        )
    lines.append("")

    if throughput:
        first = throughput[0]
        lines += [
            f"**(a) Inbound webhooks**, {first.settings.describe()}, wrk with {first.connections} connections,"
            f" {len(first.rounds)} rounds of {first.duration:.0f} s per side, alternating; medians of the rounds."
            f" Mix: 85% ordinary replies, 5% STOP, 5% HELP, 5% YES over {first.numbers:,} numbers, each request"
            " signed in advance and sent once. *Bare*: a Flask view that parses the same form and"
            " inserts one row. CPU is per request, in the gunicorn workers + in the PostgreSQL backends.",
            "",
            "| database | bare req/s | itms req/s | ratio | bare p50 / p99 ms | itms p50 / p99 ms"
            " | CPU ms/req bare | CPU ms/req itms | errors bare / itms |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for result in throughput:
            lines.append(
                f"| {_name(result.backend)}"
                f" | {result.median(lambda r: r.bare.per_second):,.0f}"
                f" | {result.median(lambda r: r.itms.per_second):,.0f}"
                f" | {result.ratio:.2f}×"
                f" | {_ms(result.median(lambda r: r.bare.p50_us))} / {_ms(result.median(lambda r: r.bare.p99_us))}"
                f" | {_ms(result.median(lambda r: r.itms.p50_us))} / {_ms(result.median(lambda r: r.itms.p99_us))}"
                f" | {_cpu(result, 'bare')}"
                f" | {_cpu(result, 'itms')}"
                f" | {result.bare_errors} / {result.itms_errors} |"
            )
        lines.append("")
    if profile is not None:
        lines += [render_profile(profile[1], _name(profile[0])).rstrip("\n"), ""]
    if classifier is not None:
        low, high = classifier.pairs.spread
        lines += [
            f"**(b) Classifier**, {classifier.texts:,} texts in the same mix, {len(classifier.pairs.ratios)}"
            " alternating passes, median ratio (interquartile range in brackets).",
            "",
            "| classifier texts/s | `dict.get(text.strip().lower())` texts/s | ratio |",
            "|---|---|---|",
            f"| {classifier.classifier_per_second:,.0f} | {classifier.dict_per_second:,.0f}"
            f" | {classifier.pairs.ratio:.2f}× ({low:.2f}–{high:.2f}) |",
            "",
        ]
    if textable:
        first_textable = textable[0]
        lines += [
            f"**(c) `itms.textable()`** for {first_textable.numbers:,} E.164 numbers (a quarter never seen) against"
            f" the same query by hand on the driver, {len(first_textable.pairs.ratios)} alternating runs, medians.",
            "",
            "| database | raw SQL ms | `itms.textable()` ms | × raw | textable |",
            "|---|---|---|---|---|",
        ]
        for result in textable:
            lines.append(
                f"| {_name(result.backend)} | {result.raw_ms:.0f} | {result.itms_ms:.0f} | {result.slowdown:.2f}×"
                f" | {result.textable:,} |"
            )
        lines.append("")
    if memory is not None:
        lines += [
            f"**(d) Memory**: one gunicorn worker on {_name(memory.backend)}, peak RSS (VmHWM) after each count"
            f" of webhooks; {memory.errors} errors.",
            "",
            "| webhooks | peak RSS MiB | RSS MiB |",
            "|---|---|---|",
        ]
        for count, peak, rss in memory.checkpoints:
            lines.append(f"| {count:,} | {peak / 1024:.1f} | {rss / 1024:.1f} |")
        lines += ["", f"Growth of the peak from the first to the last: {memory.growth:+.1%}.", ""]
    return "\n".join(lines).rstrip() + "\n"


def _cpu(result: ThroughputResult, side: str) -> str:
    app = result.median(lambda r: getattr(r, side).app_cpu_ms)
    db = result.median(lambda r: getattr(r, side).db_cpu_ms)
    return f"{app:.2f} + {db:.2f}" if result.backend == "postgresql" else f"{app:.2f}"


def _name(backend: str) -> str:
    return {"postgresql": "PostgreSQL", "sqlite": "SQLite"}.get(backend, backend)


def refresh_readme(readme: Path, report: str) -> bool:
    """Replace the text between the bench markers in the README; ``False`` if there are none."""
    text = readme.read_text()
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        return False
    readme.write_text(pattern.sub(lambda _match: f"{START}\n{report}{END}", text, count=1))
    return True


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
