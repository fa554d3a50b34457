"""A MariaDB server of a test's own, which the test may stop and start at will.

The shared server on 127.0.0.1:3306 serves every engineer's test runs at once, so a test that
restarts "the database" must never touch it. This starts `mariadbd` on a temporary data folder
and a free port (root with an empty password, like the shared one), stops it with SIGTERM (a
clean shutdown, as `systemctl restart` does) and starts it again on the same folder and port.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql

from tests.app_server import free_port

MARIADBD = Path("/usr/sbin/mariadbd")
INSTALL_DB = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
# small files and buffers: the server holds a few test rows, and the machine is shared
SERVER_OPTIONS = [
    "--no-defaults",
    "--skip-log-bin",
    "--innodb-buffer-pool-size=16M",
    "--innodb-log-file-size=16M",
    "--skip-name-resolve",
]


def unavailable_reason() -> str | None:
    """Why a private server cannot be started here, or None when it can."""
    if not MARIADBD.exists():
        return f"{MARIADBD} is not installed"
    if INSTALL_DB is None:
        return "mariadb-install-db is not installed"
    return None


class PrivateMariaDB:
    """One `mariadbd` process on `datadir`, restartable on the same port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.datadir = root / "data"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mysql+pymysql://root:@127.0.0.1:{self.port}"

    def install(self) -> None:
        assert INSTALL_DB is not None
        subprocess.run(
            [
                INSTALL_DB,
                *SERVER_OPTIONS,
                f"--datadir={self.datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                f"--user={_user()}",
            ],
            check=True,
            stdout=(self.root / "install.log").open("wb"),
            stderr=subprocess.STDOUT,
            timeout=120,
        )

    def start(self, timeout: float = 60) -> None:
        self.proc = subprocess.Popen(
            [
                str(MARIADBD),
                *SERVER_OPTIONS,
                f"--datadir={self.datadir}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self.root / 'mysqld.sock'}",
                f"--pid-file={self.root / 'mysqld.pid'}",
                f"--log-error={self.root / 'error.log'}",
                f"--user={_user()}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mariadbd exited at start:\n" + self.error_log())
            try:
                self.connect(connect_timeout=2).close()
                return
            except pymysql.err.OperationalError:
                time.sleep(0.2)
        raise RuntimeError(f"mariadbd did not answer within {timeout:.0f} s:\n" + self.error_log())

    def stop(self, timeout: float = 60) -> None:
        """A clean shutdown (SIGTERM), waiting until the process is gone."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def error_log(self) -> str:
        path = self.root / "error.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else "(no error log)"

    def connect(self, **options: object) -> pymysql.connections.Connection:
        return pymysql.connect(host="127.0.0.1", port=self.port, user="root", password="", **options)

    def create_database(self, name: str) -> str:
        with contextlib.closing(self.connect(autocommit=True)) as conn:
            charset = "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"  # as the shared test databases
            conn.cursor().execute(f"CREATE DATABASE `{name}` {charset}")
        return f"{self.url}/{name}?charset=utf8mb4"


def _user() -> str:
    """mariadbd refuses to run as root unless told to; any other user runs as itself."""
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


@contextlib.contextmanager
def private_mariadb(root: Path) -> Iterator[PrivateMariaDB]:
    """A running private server; stopped and its files removed afterwards."""
    server = PrivateMariaDB(root)
    server.install()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.datadir, ignore_errors=True)
