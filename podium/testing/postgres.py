"""A throwaway PostgreSQL cluster for the test suite and the benchmarks.

It is made with the server's own binaries (`initdb`, `pg_ctl`), listens only on a Unix socket in a private
directory (no TCP port to collide with anything), and is removed when stopped. PostgreSQL refuses to run as
root, so when we are root the server runs as the `postgres` user.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

SERVER_USER = "postgres"
PORT = 5432  # only names the socket file: the cluster listens on no TCP address

# Settings that trade crash safety for speed: a test cluster is thrown away anyway.
THROWAWAY = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are missing or the cluster would not start."""


def _find(binary: str) -> str:
    found = shutil.which(binary)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{binary}"), reverse=True):
        return str(candidate)
    raise PostgresUnavailable(f"`{binary}` was not found: install the PostgreSQL server (e.g. apt-get install postgresql)")


def server_version() -> str:
    """What the server binaries say they are, e.g. `PostgreSQL 15.18`, without starting anything."""
    result = subprocess.run([_find("postgres"), "--version"], capture_output=True, text=True)
    words = result.stdout.split()  # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    return f"PostgreSQL {words[2]}" if result.returncode == 0 and len(words) > 2 else result.stdout.strip()


class TemporaryPostgres:
    """`with TemporaryPostgres() as pg: url = pg.create_database()`; everything is deleted on exit."""

    def __init__(self, *, durable: bool = False, max_connections: int = 200):
        self.durable = durable
        self.max_connections = max_connections
        self.root: Path | None = None
        self._version: int | None = None

    # -- life cycle ----------------------------------------------------------------------------------------------
    def start(self) -> "TemporaryPostgres":
        self.root = Path(tempfile.mkdtemp(prefix="podium-pg-"))
        try:
            self._create_and_start()
        except BaseException:
            self.stop()  # a half-made cluster (or an empty folder) is not left behind
            raise
        return self

    def _create_and_start(self) -> None:
        self.root.chmod(0o755)
        self.data_dir.mkdir()
        self.socket_dir.mkdir()
        self._hand_to_server_user(self.root)
        self._run_as_server("initdb", "-D", str(self.data_dir), "-U", SERVER_USER, "--auth=trust",
                            "--encoding=UTF8", "--locale=C", "--no-sync")
        options = {"listen_addresses": "''", "unix_socket_directories": f"'{self.socket_dir}'",
                   "port": str(PORT), "max_connections": str(self.max_connections)}
        if not self.durable:
            options.update(THROWAWAY)
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in options.items())
        self._run_as_server("pg_ctl", "-D", str(self.data_dir), "-l", str(self.root / "server.log"), "-w",
                            "-t", "60", "start")

    def stop(self) -> None:
        if self.root is None:
            return
        try:
            self._run_as_server("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        except PostgresUnavailable:
            pass  # already stopped: removing the folder is all that is left
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> "TemporaryPostgres":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    # -- databases -----------------------------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self._root() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._root() / "run"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of one database of this cluster."""
        return f"postgresql+psycopg://{SERVER_USER}@/{database}?host={self.socket_dir}&port={PORT}"

    def create_database(self, name: str | None = None, *, template: str | None = None) -> str:
        """Create a database (a copy of `template` when given) and return its URL.

        Copied file by file (FILE_COPY) rather than page by page through the write-ahead log (PostgreSQL 15's
        default, WAL_LOG): for databases as small as these, about half the server's time, and a later drop is
        cheaper too. Its two checkpoints cost little on a cluster that does not sync. (Older servers know no
        other way, and no STRATEGY.)"""
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        clause = f' TEMPLATE "{template}"' if template else ""
        strategy = " STRATEGY FILE_COPY" if self._server_version() >= 150000 else ""
        self.execute(f'CREATE DATABASE "{name}"{clause}{strategy}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        # FORCE ends the connections a test left open, which would otherwise keep the database alive.
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def execute(self, statement: str) -> None:
        with self._connect() as connection:
            connection.execute(statement)

    def _server_version(self) -> int:
        """The running server's version as a number, e.g. 150018 for 15.18."""
        if self._version is None:
            with self._connect() as connection:
                self._version = connection.info.server_version
        return self._version

    def _connect(self):
        import psycopg

        return psycopg.connect(host=str(self.socket_dir), port=PORT, user=SERVER_USER, dbname="postgres",
                               autocommit=True)

    # -- helpers -------------------------------------------------------------------------------------------------
    def _root(self) -> Path:
        if self.root is None:
            raise PostgresUnavailable("the temporary PostgreSQL cluster is not started")
        return self.root

    @staticmethod
    def _as_root() -> bool:
        return os.geteuid() == 0

    def _hand_to_server_user(self, path: Path) -> None:
        if not self._as_root():
            return
        try:
            account = pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise PostgresUnavailable(f"PostgreSQL refuses to run as root and there is no `{SERVER_USER}` user to run "
                                      "it as: install the PostgreSQL server package, which creates it") from None
        for folder in (path, path / "data", path / "run"):
            os.chown(folder, account.pw_uid, account.pw_gid)

    def _run_as_server(self, binary: str, *args: str) -> None:
        command = [_find(binary), *args]
        if self._as_root():
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if result.returncode != 0:
            log = self.root / "server.log" if self.root else None
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise PostgresUnavailable(f"{' '.join(command)} failed: {result.stderr.strip() or result.stdout.strip()}\n{tail}")
