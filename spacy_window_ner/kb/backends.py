"""Which back end a knowledge base names: a SQLite file (the embedded default), or a PostgreSQL
database given by a postgresql:// URL (the `postgres` extra), for many concurrent writers."""
from pathlib import Path
from typing import List, Union

from . import sqlite
from .sqlite import SQLiteStore
from .store import KBError, Store
from .urls import check_url, describe, is_url


def database_files(db: Union[str, Path]) -> List[Path]:
    """The local files a knowledge base is kept in (for commands that must not write over
    them): a SQLite database's files, none for a PostgreSQL URL.

    db (Union[str, Path]): The database.
    RETURNS (List[Path]): The files.
    """
    return [] if is_url(db) else sqlite.database_files(Path(db))


def open_store(db: Union[str, Path], *, create: bool = False, readonly: bool = False, upgrade: bool = False) -> Store:
    """Open the knowledge base `db` names.

    db (Union[str, Path]): The database: a postgresql:// URL, or else a SQLite file.
    create (bool): Create it (and its schema) if missing; a PostgreSQL database must exist,
        only its tables are created.
    readonly (bool): Open it only to read.
    upgrade (bool): Accept a knowledge base of an older schema version that `Store.upgrade`
        converts (`kb migrate`); any other command refuses one.
    RETURNS (Store): The open store; close it when done.
    """
    if not is_url(db):
        return SQLiteStore.open(Path(db), create=create, readonly=readonly, upgrade=upgrade)
    check_url(str(db))
    try:
        from .postgres import PostgresStore
    except ImportError as err:
        if not (err.name or "").startswith("psycopg"):
            raise
        raise KBError(
            f"{describe(db)} is a PostgreSQL database, which needs psycopg 3: "
            'pip install "spacy-window-ner[postgres]".'
        ) from None
    return PostgresStore.open(str(db), create=create, readonly=readonly, upgrade=upgrade)
