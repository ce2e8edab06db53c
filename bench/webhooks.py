"""(a) Webhook throughput and (d) worker memory, under gunicorn, driven by wrk.

flask-itms and the bare floor (``bench/wsgi.py``) are served by gunicorn with the same
settings and measured in alternation, round after round, on the same database. The
requests are signed before wrk starts (``bench/wrk.lua`` sends each once), so the
client only replays bytes. Between runs the tables are reset to the same seeded state:
thousands of numbers, most opted in, some with a live Quick Opt In request.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import typing as t
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import jwt
import phonenumbers
import requests
import sqlalchemy as sa

from .corpus import mixed_texts
from .wsgi import INBOUND, bare_metadata, create_itms_app

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).with_name("wrk.lua")
SIGNING_KEY = "bench-signing-key-" + "k" * 46
RECIPIENT = "13125550100"
#: Signatures stay valid this long, from when they are made: longer than any run.
TOKEN_LIFETIME = timedelta(hours=2)


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """What both apps are served with."""

    workers: int = 4
    worker_class: str = "sync"

    def arguments(self) -> list[str]:
        return [
            f"--workers={self.workers}",
            f"--worker-class={self.worker_class}",
            "--preload",
            "--timeout=120",
            "--graceful-timeout=5",
            "--backlog=2048",
            "--log-level=warning",
        ]

    def describe(self) -> str:
        return f"gunicorn {self.worker_class} × {self.workers} workers, --preload"


def cpu_seconds(pids: t.Iterable[int]) -> float:
    """User plus system CPU time of these processes so far (those gone count as nothing)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


@dataclasses.dataclass(frozen=True)
class WrkRun:
    """One wrk run, as the Lua script's ``done()`` reports it."""

    requests: int
    duration_us: int
    p50_us: int
    p90_us: int
    p99_us: int
    max_us: int
    mean_us: float
    connect_errors: int
    read_errors: int
    write_errors: int
    status_errors: int
    timeouts: int
    ok: int
    other: int  # answers other than 200, not counting the fallback's 404s
    fallback_answers: int
    exhausted: int
    signed_sent: int
    #: CPU milliseconds per request spent in the gunicorn workers and in the database server.
    app_cpu_ms: float = 0.0
    db_cpu_ms: float = 0.0

    @property
    def per_second(self) -> float:
        return self.requests / (self.duration_us / 1e6)

    @property
    def errors(self) -> int:
        """Everything but a 200: socket errors, timeouts, other statuses, running out of requests."""
        return self.connect_errors + self.read_errors + self.write_errors + self.timeouts + self.other + self.exhausted


# -- numbers and requests ----------------------------------------------------------------


def phone_numbers(count: int, *, seed: int = 11) -> list[str]:
    """``count`` distinct valid US numbers, in E.164."""
    rng = random.Random(seed)
    numbers: set[str] = set()
    while len(numbers) < count:
        candidate = f"+1{rng.choice(('201', '312', '415', '646', '702', '818'))}{rng.randint(2000000, 9999999)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            numbers.add(candidate)
    return sorted(numbers)


def sign(url: str, body: bytes, *, issued: int, key: str = SIGNING_KEY) -> str:
    """A ``MessageBird-Signature-JWT`` as MessageBird makes it, with a fresh ``jti``."""
    claims = {
        "iss": "MessageBird",
        "nbf": issued,
        "exp": issued + int(TOKEN_LIFETIME.total_seconds()),
        "jti": str(uuid.uuid4()),
        "url_hash": hashlib.sha256(url.encode()).hexdigest(),
        "payload_hash": hashlib.sha256(body).hexdigest(),
    }
    return jwt.encode(claims, key, algorithm="HS256")


def write_requests(path: Path, base: str, numbers: list[str], count: int, *, label: str, seed: int) -> None:
    """``count`` signed inbound texts in the realistic mix, one ``token<TAB>body`` per line."""
    url = base + INBOUND
    rng = random.Random(seed)
    issued = int(time.time()) - 5  # a little before now, for the carrier's clock and ours
    created = datetime.now(UTC).isoformat(timespec="seconds")
    with path.open("w") as out:
        for number, (_kind, text) in enumerate(mixed_texts(count, seed=seed)):
            body = urlencode(
                {
                    "originator": rng.choice(numbers).lstrip("+"),
                    "recipient": RECIPIENT,
                    "payload": text,
                    "id": f"{label}-{number}",
                    "createdDatetime": created,
                }
            ).encode()
            out.write(f"{sign(url, body, issued=issued)}\t{body.decode()}\n")


# -- the database ----------------------------------------------------------------------


class Database:
    """A benchmark database: the itms tables and the floor's table, reset to a seeded state."""

    def __init__(self, url: str, numbers: list[str]) -> None:
        self.url = url
        self.numbers = numbers
        self.app, self.db, self.itms = create_itms_app(url, SIGNING_KEY)
        with self.app.app_context():
            self.engine = self.db.engine
            self.dialect = self.engine.dialect.name
            self.db.drop_all()
            bare_metadata.drop_all(self.engine)
            self.db.create_all()
            bare_metadata.create_all(self.engine)
            self.itms.templates()  # the system templates exist before the first request
            self.db.session.commit()

    def reset(self) -> None:
        """Empty the message, event and replay tables and seed the consents afresh."""
        tables = ["itms_webhook_replay", "itms_consent_event", "itms_message", "itms_consent", "bench_bare_inbound"]
        now = datetime.now(UTC)
        rows = []
        for index, phone in enumerate(self.numbers):
            pending = index % 5 == 0  # one in five awaits YES to a Quick Opt In request
            rows.append(
                {
                    "phone": phone,
                    "status": "pending" if pending else "opted_in",
                    "method": "quick" if pending else "agent",
                    "on_hold": False,
                    "auth_code_attempts": 0,
                    "request_expires_at": now + timedelta(days=7) if pending else None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        with self.app.app_context():
            consent = self.itms.models.Consent.__table__
            with self.engine.begin() as connection:
                if self.dialect == "postgresql":
                    connection.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY"))
                else:
                    for table in tables:
                        connection.execute(sa.text(f"DELETE FROM {table}"))
                connection.execute(consent.insert(), rows)
            with self.engine.connect() as connection:
                if self.dialect == "postgresql":
                    connection.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
                else:
                    connection.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))

    def server_pids(self) -> list[int]:
        """The PostgreSQL backends serving this database (none for SQLite, which runs in the app)."""
        if self.dialect != "postgresql":
            return []
        with self.engine.connect() as connection:
            query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            return [int(pid) for pid in connection.execute(sa.text(query)).scalars()]

    def count(self, table: str, where: str = "") -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(sa.text(f"SELECT count(*) FROM {table} {where}")).scalar_one())

    def dispose(self) -> None:
        with self.app.app_context():
            self.db.session.remove()
            self.engine.dispose()


# -- gunicorn and wrk --------------------------------------------------------------------


@dataclasses.dataclass
class Server:
    base: str
    host: str
    process: subprocess.Popen[bytes]

    def worker_pids(self) -> list[int]:
        children: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            children += [int(pid) for pid in (task / "children").read_text().split()]
        return sorted(children)


@contextlib.contextmanager
def gunicorn(
    app: str, database_url: str, settings: ServerSettings, log_path: Path, *, stdout: t.IO[bytes] | None = None
) -> t.Iterator[Server]:
    """Serve ``bench/wsgi.py`` as ``app`` ("itms" or "bare") on a loopback port held from the start."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    port = listener.getsockname()[1]
    env = {
        **os.environ,
        "BENCH_APP": app,
        "BENCH_DATABASE_URL": database_url,
        "BENCH_SIGNING_KEY": SIGNING_KEY,
        "PYTHONPATH": str(ROOT),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        *settings.arguments(),
        f"--bind=fd://{listener.fileno()}",
        "bench.wsgi:app",
    ]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, pass_fds=[listener.fileno()], stdout=log, stderr=subprocess.STDOUT
        )
    listener.close()
    server = Server(base=f"http://127.0.0.1:{port}", host=f"127.0.0.1:{port}", process=process)
    try:
        _wait_until_serving(server, log_path)
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(server: Server, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}:\n{log_path.read_text()}")
        with contextlib.suppress(requests.ConnectionError):
            if requests.get(server.base + "/", timeout=5).status_code == 404:
                return
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer within 60 s:\n{log_path.read_text()}")


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package when it is missing and we may."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, capture_output=True).returncode:
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=True, capture_output=True)
        found = shutil.which("wrk")
    if not found:
        raise RuntimeError("The webhook benchmark needs wrk: apt-get install wrk (Debian/Ubuntu) or brew install wrk.")
    return found


def run_wrk(
    server: Server,
    request_file: Path,
    *,
    connections: int,
    duration: float,
    threads: int = 1,
    until_sent: t.Callable[[], bool] | None = None,
) -> WrkRun:
    """Send the file's requests for ``duration`` seconds, or (``until_sent``) until they are all in."""
    command = [
        ensure_wrk(),
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(duration))}s",
        "--timeout=30s",
        f"--script={LUA}",
        server.base + INBOUND,
        "--",
        str(request_file),
        str(threads),
        server.host,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if until_sent is not None:
        while process.poll() is None and not until_sent():
            time.sleep(0.5)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # wrk then reports what it did so far
    output, _ = process.communicate(timeout=duration + 120)
    text = output.decode(errors="replace")
    for line in text.splitlines():
        if line.startswith("BENCH_JSON "):
            return WrkRun(**json.loads(line.removeprefix("BENCH_JSON ")))
    raise RuntimeError(f"wrk printed no result:\n{text}")


# -- (a) throughput ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ThroughputRound:
    bare: WrkRun
    itms: WrkRun
    stored: int  # inbound texts flask-itms committed in its run

    @property
    def ratio(self) -> float:
        return self.itms.per_second / self.bare.per_second


@dataclasses.dataclass(frozen=True)
class ThroughputResult:
    backend: str
    connections: int
    duration: float
    rounds: list[ThroughputRound]
    settings: ServerSettings
    numbers: int = 5000

    def median(self, value: t.Callable[[ThroughputRound], float]) -> float:
        return statistics.median(value(each) for each in self.rounds)

    @property
    def ratio(self) -> float:
        return self.median(lambda each: each.ratio)

    @property
    def itms_errors(self) -> int:
        return sum(each.itms.errors for each in self.rounds)

    @property
    def bare_errors(self) -> int:
        return sum(each.bare.errors for each in self.rounds)

    @property
    def itms_requests(self) -> int:
        return sum(each.itms.requests for each in self.rounds)


def throughput(
    backend: str,
    database_url: str,
    work: Path,
    *,
    rounds: int = 3,
    duration: float = 10.0,
    warmup: float = 2.0,
    connections: int = 16,
    numbers: int = 5000,
    settings: ServerSettings | None = None,
    log: t.Callable[[str], None] = print,
) -> ThroughputResult:
    """Alternate the floor and flask-itms for ``rounds`` rounds, each run after a warm-up."""
    settings = settings or ServerSettings()
    database = Database(database_url, phone_numbers(numbers))
    expected_rate = 1500.0  # requests per second to sign for; raised when a run goes faster
    results: list[ThroughputRound] = []
    try:
        with (
            gunicorn("bare", database_url, settings, work / f"gunicorn-bare-{backend}.log") as bare,
            gunicorn("itms", database_url, settings, work / f"gunicorn-itms-{backend}.log") as itms,
        ):
            round_number = 0
            while len(results) < rounds:
                round_number += 1
                label = f"{backend}-{round_number}"
                count = int(expected_rate * duration * 1.5) + 500
                warm = int(expected_rate * warmup * 1.5) + 200
                files = {}
                for name, server in (("bare", bare), ("itms", itms)):
                    files[name] = work / f"{label}-{name}.tsv"
                    files[name + "-warm"] = work / f"{label}-{name}-warm.tsv"
                    write_requests(files[name], server.base, database.numbers, count, label=label, seed=round_number)
                    write_requests(
                        files[name + "-warm"],
                        server.base,
                        database.numbers,
                        warm,
                        label=f"{label}-w",
                        seed=-round_number,
                    )
                runs: dict[str, WrkRun] = {}
                stored = 0
                order = ("bare", "itms") if len(results) % 2 == 0 else ("itms", "bare")
                for name in order:
                    server = bare if name == "bare" else itms
                    database.reset()
                    run_wrk(server, files[name + "-warm"], connections=connections, duration=warmup)
                    workers, backends = server.worker_pids(), database.server_pids()
                    app_cpu, db_cpu = cpu_seconds(workers), cpu_seconds(backends)
                    run = run_wrk(server, files[name], connections=connections, duration=duration)
                    app_cpu, db_cpu = cpu_seconds(workers) - app_cpu, cpu_seconds(backends) - db_cpu
                    per_request = 1000 / max(run.requests, 1)
                    runs[name] = dataclasses.replace(
                        run, app_cpu_ms=app_cpu * per_request, db_cpu_ms=db_cpu * per_request
                    )
                    if name == "itms":
                        stored = database.count("itms_message", "WHERE direction = 'inbound'")
                fastest = max(run.per_second for run in runs.values())
                if any(run.exhausted for run in runs.values()):
                    log(f"  {label}: ran out of signed requests at {fastest:,.0f} req/s; signing more and repeating")
                    expected_rate = fastest * 1.3
                    continue
                expected_rate = max(expected_rate, fastest)
                result = ThroughputRound(bare=runs["bare"], itms=runs["itms"], stored=stored)
                results.append(result)
                log(
                    f"  {label}: bare {result.bare.per_second:,.0f} req/s, itms {result.itms.per_second:,.0f} req/s,"
                    f" ratio {result.ratio:.2f}, itms p99 {result.itms.p99_us / 1000:.1f} ms,"
                    f" errors {result.bare.errors}/{result.itms.errors}"
                )
                for path in files.values():
                    path.unlink()
    finally:
        database.dispose()
    return ThroughputResult(backend, connections, duration, results, settings, numbers)


# -- (d) memory --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MemoryResult:
    backend: str
    checkpoints: list[tuple[int, int, int]]  # (webhooks so far, worker peak RSS kB, worker RSS kB)
    errors: int

    @property
    def growth(self) -> float:
        """Peak RSS growth from the first checkpoint to the last."""
        first, last = self.checkpoints[0][1], self.checkpoints[-1][1]
        return (last - first) / first


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def memory(
    backend: str,
    database_url: str,
    work: Path,
    *,
    checkpoints: tuple[int, ...] = (10_000, 50_000),
    connections: int = 16,
    numbers: int = 5000,
    log: t.Callable[[str], None] = print,
) -> MemoryResult:
    """Peak RSS of one gunicorn worker after each checkpoint's count of webhooks."""
    settings = ServerSettings(workers=1)
    database = Database(database_url, phone_numbers(numbers))
    database.reset()
    seen: list[tuple[int, int, int]] = []
    errors = 0
    try:
        with gunicorn("itms", database_url, settings, work / f"gunicorn-memory-{backend}.log") as server:
            [worker] = server.worker_pids()
            sent = 0
            for checkpoint in checkpoints:
                batch = work / f"memory-{backend}-{checkpoint}.tsv"
                write_requests(batch, server.base, database.numbers, checkpoint - sent, label=f"m{checkpoint}", seed=3)
                target = checkpoint

                def all_stored(target: int = target) -> bool:
                    return database.count("itms_message", "WHERE direction = 'inbound'") >= target

                run = run_wrk(server, batch, connections=connections, duration=24 * 3600, until_sent=all_stored)
                deadline = time.monotonic() + 60
                while not all_stored() and time.monotonic() < deadline:
                    time.sleep(0.2)
                # Not the fallback GETs sent while the last webhooks were being stored: those are 404s.
                errors += run.connect_errors + run.read_errors + run.write_errors + run.timeouts + run.other
                stored = database.count("itms_message", "WHERE direction = 'inbound'")
                if stored != checkpoint:
                    raise RuntimeError(f"expected {checkpoint} stored webhooks, found {stored}")
                sent = checkpoint
                seen.append((checkpoint, _status_kb(worker, "VmHWM"), _status_kb(worker, "VmRSS")))
                log(f"  after {checkpoint:,} webhooks: worker peak RSS {seen[-1][1] / 1024:.1f} MiB")
                batch.unlink()
    finally:
        database.dispose()
    return MemoryResult(backend, seen, errors)
