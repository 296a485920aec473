"""Which back end a knowledge base names: a SQLite file (the embedded default), or a PostgreSQL
database given by a postgresql:// URL (the `postgres` extra), for many concurrent writers."""
from pathlib import Path
from typing import Union
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .sqlite import SQLiteStore
from .store import KBError, Store

URL_SCHEMES = ("postgresql", "postgres")


def is_url(db: Union[str, Path]) -> bool:
    """Whether a database is a PostgreSQL URL rather than a SQLite file.

    db (Union[str, Path]): The database, as the user gave it.
    RETURNS (bool): True for a postgresql:// or postgres:// URL.
    """
    return isinstance(db, str) and db.partition("://")[0].lower() in URL_SCHEMES and "://" in db


def describe(db: Union[str, Path]) -> str:
    """The database as messages name it: a URL with its password (in the user part or as a
    `password` parameter) written as ***.

    db (Union[str, Path]): The database.
    RETURNS (str): The printable name.
    """
    if not is_url(db):
        return str(db)
    parts = urlsplit(str(db))
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        if ":" in user:
            netloc = f"{user.partition(':')[0]}:***@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if k == "password" else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def open_store(db: Union[str, Path], *, create: bool = False, readonly: bool = False) -> Store:
    """Open the knowledge base `db` names.

    db (Union[str, Path]): The database: a postgresql:// URL, or else a SQLite file.
    create (bool): Create it (and its schema) if missing; a PostgreSQL database must exist,
        only its tables are created.
    readonly (bool): Open it only to read.
    RETURNS (Store): The open store; close it when done.
    """
    if not is_url(db):
        return SQLiteStore.open(Path(db), create=create, readonly=readonly)
    try:
        from .postgres import PostgresStore
    except ImportError as err:
        if not (err.name or "").startswith("psycopg"):
            raise
        raise KBError(
            f"{describe(db)} is a PostgreSQL database, which needs psycopg 3: "
            'pip install "spacy-window-ner[postgres]".'
        ) from None
    return PostgresStore.open(str(db), create=create, readonly=readonly)
