"""Fixtures shared by the platform's tests: a small course folder on disk and a runtime on a fresh database.

The whole suite runs on SQLite (the default) or on PostgreSQL: `pytest --database=postgresql` (or
PODIUM_TEST_DATABASE=postgresql) starts a temporary PostgreSQL cluster for the run and gives every test that asks
for `database_url` (and so `rt`) a fresh copy of a migrated template. A test that asks for no database runs in the
SQLite run only. A test that is about one database only says so with `@pytest.mark.only_on("sqlite", why="...")`;
it is left out of the other run, never skipped.
"""
from __future__ import annotations

import gc

# The cyclic garbage collector, tuned for the test process. At Python's defaults (700, 10, 10) it ran a full
# collection every few tests over the quarter of a million objects that imports, apps and caches keep alive, a fifth
# of a web test's time; with a young generation of 10,000 the objects a test makes are mostly gone before it runs,
# and what survives is still collected, only less often. Set before the imports below, which it speeds up too.
gc.set_threshold(10_000, 10, 10)

import email
import email.policy
import os
import shutil
import socket
import tempfile
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from flask import Flask
from jinja2 import BytecodeCache
from werkzeug.routing import Rule

from podium.runtime import make_runtime
from podium.testing.databases import KINDS, TestDatabases
from podium.testing.postgres import PostgresUnavailable
from tests.worlds import Worlds

TZ = "America/New_York"
N_ROWS = 20


def wallclock(instant: datetime, tz: str = TZ) -> str:
    return instant.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def write_course(root: Path, *, now: datetime | None = None, slug: str = "c1", competition: str = "hw1",
                 extra_competition: str = "", extra_evaluation: str = "", cutoffs: str | None = None) -> Path:
    """A course with one accuracy competition: open now, on-time in 3 days, late window 4 days more.

    Ids 0..19; the first 6 rows Public, the next 12 Private, the last 2 Ignored; labels id % 3.
    """
    now = now or datetime.now(timezone.utc)
    course = root / slug
    comp = course / competition
    comp.mkdir(parents=True, exist_ok=True)
    (course / "course.toml").write_text(textwrap.dedent(f"""
        [course]
        slug = "{slug}"
        title = "Course {slug}"
        timezone = "{TZ}"

        [policy]
        daily_limit = 5
    """))
    (comp / "competition.toml").write_text(textwrap.dedent(f"""
        [competition]
        slug = "{competition}"
        title = "Homework {competition}"
        {extra_competition}

        [schedule]
        opens = "{wallclock(now - timedelta(days=10))}"
        early = "{wallclock(now - timedelta(days=5))}"
        ontime = "{wallclock(now + timedelta(days=3))}"
        late = "{wallclock(now + timedelta(days=7))}"

        [evaluation]
        metric = "accuracy"
        id_column = "id"
        solution = "solution.csv"
        sample_submission = "sample_submission.csv"
        data_files = ["README.md", "sample_submission.csv"]
        {extra_evaluation}

        [grading]
        cutoffs = {cutoffs or '{ A = 0.9, B = 0.8, C = 0.7, D = 0.5 }'}
    """))
    usage = ["Public"] * 6 + ["Private"] * 12 + ["Ignored"] * 2
    (comp / "solution.csv").write_text("id,label,Usage\n" + "".join(f"{i},{i % 3},{usage[i]}\n" for i in range(N_ROWS)))
    (comp / "sample_submission.csv").write_text("id,label\n" + "".join(f"{i},0\n" for i in range(N_ROWS)))
    (comp / "README.md").write_text("# Homework\nPredict the label of each id.\n")
    return course


def predictions(correct: set[int] | None = None, rows: range = range(N_ROWS)) -> str:
    """A submission that is right exactly on the ids in `correct` (all of them when None)."""
    lines = ["id,label"]
    for i in rows:
        right = correct is None or i in correct
        lines.append(f"{i},{i % 3 if right else (i + 1) % 3}")
    return "\n".join(lines) + "\n"


# --- which database the run uses ------------------------------------------------------------------------

DATABASES = pytest.StashKey[TestDatabases]()
DESCRIPTION = pytest.StashKey[str]()


def pytest_addoption(parser):
    parser.addoption("--database", choices=KINDS, default=None,
                     help="the database every test runs on: sqlite (default) or postgresql, a temporary cluster "
                          "started from the PostgreSQL server binaries of this machine (env: PODIUM_TEST_DATABASE)")


# Where the run's temporary files go when the machine has room in memory for them (see temporary_files_in_memory).
MEMORY_FOLDER = Path("/dev/shm")
MEMORY_NEEDED = 4 * 2**30


def temporary_files_in_memory() -> None:
    """Every temporary file of the run in memory (tmpfs, /dev/shm) rather than on disk: tmp_path and the worlds,
    the database templates, the temporary PostgreSQL cluster, and what the `podium` processes of a test write. The
    suite makes and deletes thousands of small databases and uploads and fsyncs every upload it stores, and a
    journaled disk makes each of those wait (copying a PostgreSQL template took 250 ms on this machine's ext4,
    15 ms in memory). In the environment, so the processes a test starts inherit it; a TMPDIR chosen by whoever
    runs the suite is kept, and so is the disk on a machine without /dev/shm or without room there."""
    if "TMPDIR" in os.environ or not MEMORY_FOLDER.is_dir() or not os.access(MEMORY_FOLDER, os.W_OK | os.X_OK):
        return
    if shutil.disk_usage(MEMORY_FOLDER).free < MEMORY_NEEDED:
        return
    os.environ["TMPDIR"] = str(MEMORY_FOLDER)
    tempfile.tempdir = None  # looked up again from the environment on next use


def pytest_configure(config):
    temporary_files_in_memory()  # before anything makes a temporary file
    config.addinivalue_line("markers", "only_on(kind, why=...): a test about one kind of database only; the run "
                                       "on the other kind leaves it out")
    config.addinivalue_line("markers", "real_password_hashing: passwords hashed at production cost in this test")
    kind = config.getoption("database") or os.environ.get("PODIUM_TEST_DATABASE") or "sqlite"
    if kind not in KINDS:
        raise pytest.UsageError(f"PODIUM_TEST_DATABASE={kind!r}: choose one of {', '.join(KINDS)}")
    databases = TestDatabases.of_kind(kind)
    try:
        config.stash[DESCRIPTION] = databases.describe()  # finds the PostgreSQL binaries, or says what is missing
    except PostgresUnavailable as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[DATABASES] = databases
    # The suite's databases are thrown away: their SQLite commits need not wait for the disk. In the environment,
    # so that every runtime and `podium` process a test starts inherits it; production keeps FULL (test_database).
    os.environ.setdefault("PODIUM_SQLITE_SYNCHRONOUS", "OFF")


def pytest_unconfigure(config):
    if DATABASES in config.stash:
        config.stash[DATABASES].close()


def pytest_report_header(config):
    return f"database: {config.stash[DESCRIPTION]}"


DATABASE_FIXTURES = {"database_url", "blank_database_url"}


def uses_a_database(item) -> bool:
    return not DATABASE_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


def pytest_collection_modifyitems(config, items):
    """Leave out the tests about the other kind of database (deselected: they are not this run's tests), and, in a
    run on another database than SQLite, the tests that use no database at all and are about no database: they ran
    in the SQLite run and would do exactly the same again."""
    kind = config.stash[DATABASES].kind
    keep, leave = [], []
    for item in items:
        marker = item.get_closest_marker("only_on")
        if marker is not None:
            wanted = marker.args[0] if marker.args else None
            if wanted not in KINDS or not marker.kwargs.get("why"):
                raise pytest.UsageError(f"{item.nodeid}: write @pytest.mark.only_on(\"sqlite\" or \"postgresql\", "
                                        f"why=\"...\")")
            if wanted != kind:
                leave.append(item)
                continue
        elif kind != "sqlite" and not uses_a_database(item):
            leave.append(item)
            continue
        keep.append(item)
    if leave:
        config.hook.pytest_deselected(items=leave)
        items[:] = keep


class TemplatesCompiledOnce(BytecodeCache):
    """Jinja's compiled templates kept for the whole run: every test makes an app of its own, and each new app
    would otherwise parse and compile every template it renders again. A template's source is checksummed, so a
    changed one is compiled afresh."""

    def __init__(self):
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        if (code := self.compiled.get(bucket.key)) is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


@pytest.fixture(scope="session", autouse=True)
def templates_compiled_once():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Flask, "jinja_options", {**Flask.jinja_options, "bytecode_cache": TemplatesCompiledOnce()})
        yield


class RouteBuildersCompiledOnce:
    """werkzeug's URL builders kept for the whole run: every test makes an app of its own, and binding its hundred
    or so routes compiles two small Python functions for each (an AST built and compiled: most of `create_app`'s
    time). A builder depends only on the rule's parsed parts, its defaults and whether unknown arguments are
    appended, which the key holds; the function takes the rule itself as its first argument, so one serves every
    app's copy of the same rule."""

    def __init__(self, compile_builder):
        self.compile_builder = compile_builder
        self.compiled: dict[tuple, object] = {}

    def __call__(self, rule: Rule, append_unknown: bool = True):
        defaults = rule.defaults or {}
        folded = tuple((data, rule._converters[data].to_url(defaults[data]))
                       for dynamic, data in rule._trace if dynamic and data in defaults)
        key = (rule.rule, tuple(rule._trace), append_unknown, tuple((k, repr(v)) for k, v in defaults.items()),
               folded)
        if (builder := self.compiled.get(key)) is None:
            builder = self.compiled[key] = self.compile_builder(rule, append_unknown)
        return builder


class RulesParsedOnce:
    """werkzeug's parsing of each route kept for the whole run, beside its builders (above): binding a rule to a new
    app's URL map parses its path into the parts the matcher uses and makes a converter for each variable, the rest
    of `create_app`'s time. What parsing leaves depends only on the rule's path, host or subdomain, slash merging and
    the map's converters, which the key holds; a converter keeps nothing of its map but a reference."""

    def __init__(self, compile_rule):
        self.compile_rule = compile_rule
        self.parsed: dict[tuple, tuple] = {}

    def __call__(self, rule: Rule) -> None:
        routes = rule.map
        key = (rule.rule, rule.host, rule.subdomain, rule.merge_slashes, routes.host_matching,
               tuple(routes.converters.items()))
        if (parsed := self.parsed.get(key)) is None:
            self.compile_rule(rule)
            self.parsed[key] = (tuple(rule._parts), tuple(rule._trace), dict(rule._converters))
            return
        parts, trace, converters = parsed
        rule._parts, rule._trace, rule._converters = list(parts), list(trace), dict(converters)
        rule.arguments.update(converters)  # each variable of the path has its converter
        rule._build = rule._compile_builder(False).__get__(rule, None)
        rule._build_unknown = rule._compile_builder(True).__get__(rule, None)


@pytest.fixture(scope="session", autouse=True)
def routes_compiled_once():
    with pytest.MonkeyPatch.context() as patch:
        cache = RouteBuildersCompiledOnce(Rule._compile_builder)
        # A function, not the cache itself, so that it binds to each rule as the method it replaces does.
        patch.setattr(Rule, "_compile_builder", lambda rule, append_unknown=True: cache(rule, append_unknown))
        parsed = RulesParsedOnce(Rule.compile)
        patch.setattr(Rule, "compile", lambda rule: parsed(rule))
        yield


class StatementsCompiledOnce:
    """SQLAlchemy's compiled statements kept for the whole run: every test makes an engine of its own (its database
    is its own), and each engine's cache of compiled SQL starts empty, so every test compiled every statement it ran
    again, a fifth of the web and API tests' CPU. SQLAlchemy keys a compiled statement by the dialect object that
    compiled it; here by what makes two dialects compile alike instead, their class, parameter style and server
    version (one cluster, or one SQLite library, serves the whole run), so that one engine's compilation serves the
    next. Bounded as SQLAlchemy bounds its own."""

    def __init__(self, size: int = 20_000):
        from sqlalchemy.util import LRUCache

        self.compiled = LRUCache(size)

    @staticmethod
    def _key(key: tuple) -> tuple:
        dialect, *rest = key
        return (type(dialect), dialect.paramstyle, dialect.server_version_info, *rest)

    def get(self, key: tuple, default=None):
        return self.compiled.get(self._key(key), default)

    def __setitem__(self, key: tuple, value) -> None:
        self.compiled[self._key(key)] = value


@pytest.fixture(scope="session", autouse=True)
def statements_compiled_once():
    import podium.db
    from sqlalchemy.orm import Mapper

    cache = StatementsCompiledOnce()
    create_engine = podium.db.create_engine

    def create_engine_sharing_compiled_statements(*args, **kwargs):
        engine = create_engine(*args, **kwargs)
        engine._compiled_cache = cache
        return engine

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(podium.db, "create_engine", create_engine_sharing_compiled_statements)
        # The ORM's own statements (a flush's INSERTs and UPDATEs) are kept per mapper, keyed by dialect likewise.
        patch.setattr(Mapper, "_compiled_cache", property(lambda mapper: cache))
        yield


@pytest.fixture(autouse=True)
def cheap_password_hashing(request, monkeypatch):
    """scrypt with a small work factor in the test process: the same code path, without a tenth of a second per
    hash. A test marked `real_password_hashing` keeps the cost production pays."""
    if request.node.get_closest_marker("real_password_hashing") is not None:
        return
    from werkzeug import security

    from podium.services import users as users_service

    monkeypatch.setattr(users_service, "generate_password_hash",
                        lambda password, method: security.generate_password_hash(password, method="scrypt:1024:8:1"))


@pytest.fixture(scope="session")
def database_kind(pytestconfig) -> str:
    """The kind of database this run tests: "sqlite" or "postgresql"."""
    return pytestconfig.stash[DATABASES].kind


@pytest.fixture(scope="session")
def worlds(pytestconfig, tmp_path_factory) -> Worlds:
    """The course worlds of this run (tests/worlds.py): each built once, then copied into the tests that use it."""
    return Worlds(pytestconfig.stash[DATABASES], tmp_path_factory.mktemp("worlds"))


@pytest.fixture
def world_database():
    """Asked for by the fixtures that copy a world into the test (tests/worlds.py): the test's database is then
    made as that copy, not first as an empty one."""


@pytest.fixture
def database_url(pytestconfig, tmp_path, request):
    """A fresh database for this test, migrated and empty, of the kind this run tests; removed afterwards.

    The one way tests get a database: the runtime (`rt`), `podium` subprocesses and further runtimes of a test all
    use this URL. A SQLite file sits where the settings would put it, `tmp_path/data/podium.db`. For a test that
    copies a world (`world_database`), the URL names a database that the copy makes."""
    databases = pytestconfig.stash[DATABASES]
    if "world_database" in request.fixturenames:
        url = databases.reserve(tmp_path / "data")
    else:
        url = databases.fresh(tmp_path / "data")
    yield url
    databases.drop(url)


@pytest.fixture
def blank_database_url(pytestconfig, tmp_path):
    """A new database without any table, of the kind this run tests: for the migrations themselves."""
    databases = pytestconfig.stash[DATABASES]
    url = databases.blank(tmp_path / "blank")
    yield url
    databases.drop(url)


@pytest.fixture
def rt(tmp_path, monkeypatch, database_url):
    monkeypatch.setenv("PODIUM_DATA_DIR", str(tmp_path / "data"))
    # In the environment too, so that runtimes and `podium` processes a test starts share the test's database.
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("PODIUM_BASE_URL", raising=False)  # a test that needs one sets it
    runtime = make_runtime()
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def short_lock_waits(monkeypatch):
    """Requests, and the health probe, give up on a lock another connection holds after a second instead of the
    default 30: for tests that hold one on purpose (tests/outages.py). Ask for it before `rt`, e.g. with
    `pytestmark = pytest.mark.usefixtures("short_lock_waits")`, since the runtime reads it when it is made."""
    from tests.outages import LOCK_TIMEOUT_SECONDS

    monkeypatch.setenv("PODIUM_DB_LOCK_TIMEOUT_SECONDS", LOCK_TIMEOUT_SECONDS)


@pytest.fixture
def course_dir(tmp_path) -> Path:
    return write_course(tmp_path / "courses")


@pytest.fixture
def podium_cli(rt):
    """Run `podium ...` in-process against the test runtime; returns click's Result (stdout, stderr, exit_code)."""
    from podium.cli import cli

    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, [str(a) for a in args], obj=rt, catch_exceptions=False)

    return run


class CollectMail:
    """An aiosmtpd handler that keeps every message it accepts, parsed."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refused: set[str] = set()  # addresses answered "no such user", as a real server does

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's name
        if address in self.refused:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                      policy=email.policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MailServer:
    """A real SMTP server (aiosmtpd) on one port of 127.0.0.1, which a test may stop and start again, as a mail
    server goes down and comes back; `messages` keeps what it received while up."""

    def __init__(self, smtputf8: bool = True):
        self.handler = CollectMail()
        self.port = free_port()
        self.smtputf8 = smtputf8  # addresses beyond ASCII (RFC 6531); some servers do not take them
        self._controller = None

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        return self.handler.messages

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                      enable_SMTPUTF8=self.smtputf8)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def mail_through(server: MailServer, monkeypatch) -> MailServer:
    """Start `server` and configure Podium to mail through it (for the test's duration)."""
    server.start()
    monkeypatch.setenv("PODIUM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PODIUM_SMTP_PORT", str(server.port))
    monkeypatch.setenv("PODIUM_SMTP_STARTTLS", "false")
    return server


@pytest.fixture
def smtp_server(monkeypatch) -> MailServer:
    """A running `MailServer` that Podium is configured to mail through."""
    server = mail_through(MailServer(), monkeypatch)
    yield server
    server.stop()


def send_mail(rt):
    """One pass over the outbox, as the scheduler's mail job makes it (podium.jobs): what it did."""
    from podium.services import outbox

    return outbox.send_due(rt.db, attempts=rt.settings.jobs.mail_attempts, worker="tests")


@pytest.fixture
def mail_server(smtp_server) -> list:
    """The messages a real SMTP server that Podium is configured to mail through has received."""
    return smtp_server.messages
