"""A PostgreSQL server of our own, for the tests (tests/conftest.py's `postgres_server`) and the
knowledge-base benchmark (benchmarks/kb.py imports it from here): a cluster initialised in a
temporary directory (initdb), listening on a free localhost port (pg_ctl start), stopped and
removed at the end; a database created and dropped on it; and the CPU time its processes used
(for the benchmark). The installed package never imports it.
"""
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional
from urllib.parse import urlsplit


class ServerError(RuntimeError):
    """The temporary server can't be started: the reason says whether something is missing
    (`missing` is True: install it) or a program failed (with its output)."""

    def __init__(self, reason: str, *, missing: bool = False) -> None:
        super().__init__(reason)
        self.missing = missing


def postgres_binary(name: str) -> Optional[str]:
    """A PostgreSQL server program (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin
    (Debian's packages), the newest version first.

    name (str): The program's name.
    RETURNS (Optional[str]): Its path, or None if there is none.
    """
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[-3]), reverse=True)
    return versions[0] if versions else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now).

    RETURNS (int): The port.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def temporary_server() -> Iterator[str]:
    """Start a PostgreSQL server of our own, with a superuser "kbtest" that logs in over TCP
    with a random password; stop and remove it on exit. As root, the server runs as the
    "postgres" user (PostgreSQL refuses root). fsync is off: the data is thrown away.

    RETURNS (Iterator[str]): The server's base URL (no database):
        postgresql://kbtest:PASSWORD@127.0.0.1:PORT
    """
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise ServerError('psycopg is not installed: pip install "spacy-window-ner[postgres]"', missing=True) from None
    initdb, pg_ctl = postgres_binary("initdb"), postgres_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise ServerError("PostgreSQL's initdb and pg_ctl are not installed (apt-get install postgresql)", missing=True)
    user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="kb-postgres-"))  # not below pytest's root-only tmp dirs
    if user is not None:
        shutil.chown(root, user)
    password = secrets.token_hex(12)
    (root / "pwfile").write_text(password + "\n", encoding="utf8")
    if user is not None:
        shutil.chown(root / "pwfile", user)
    data, port = root / "data", free_port()

    def run(*args: str) -> None:
        result = subprocess.run(args, capture_output=True, text=True, user=user, cwd=root)
        if result.returncode != 0:
            log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
            raise ServerError(f"{Path(args[0]).name} failed: {result.stderr.strip()} {log[-2000:]}")

    try:
        run(initdb, "-D", str(data), "-U", "kbtest", f"--pwfile={root / 'pwfile'}", "--auth-host=scram-sha-256",
            "--auth-local=trust", "--no-sync", "-E", "UTF8", "--locale=C")
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        run(pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start")
        yield f"postgresql://kbtest:{password}@127.0.0.1:{port}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, user=user, cwd=root)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def temporary_database(server: str, name: str) -> Iterator[str]:
    """Create an empty database on a server, and drop it on exit.

    server (str): The server's base URL (no database), whose user may create databases.
    name (str): The database's name (an SQL identifier: letters, digits, underscores).
    RETURNS (Iterator[str]): The database's URL.
    """
    import psycopg

    if not name.replace("_", "").isalnum():
        raise ValueError(f"{name!r} is not a plain database name: use letters, digits and underscores.")
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(server + "/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def server_cpu_seconds(server: str) -> Optional[float]:
    """CPU seconds a PostgreSQL server on this machine has used so far: its postmaster's user
    and system time, with that of its exited children (connections, background workers) and its
    live ones. Read from /proc, so only for a server on this machine that /proc shows.

    server (str): A URL of the server (with or without a database).
    RETURNS (Optional[float]): The seconds, or None where /proc doesn't show the server.
    """
    import psycopg

    url = server if urlsplit(server).path.strip("/") else server.rstrip("/") + "/postgres"
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        # Read while connected: the backend process exits with its connection.
        stat = _proc_stat(int(row[0])) if row is not None else None
    if stat is None:  # another machine, or a /proc that hides it
        return None
    postmaster = int(stat[1])
    fields = _proc_stat(postmaster)
    if fields is None:
        return None
    ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            child = _proc_stat(int(entry.name))
            if child is not None and int(child[1]) == postmaster:
                ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> Optional[List[str]]:
    """The fields of /proc/PID/stat after the command name (state, ppid, ...), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()
