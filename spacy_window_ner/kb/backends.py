"""Which back end a knowledge base names: today a SQLite file, the embedded default."""
from pathlib import Path
from typing import Union

from .sqlite import SQLiteStore
from .store import Store


def open_store(db: Union[str, Path], *, create: bool = False, readonly: bool = False) -> Store:
    """Open the knowledge base `db` names.

    db (Union[str, Path]): The database: a SQLite file.
    create (bool): Create it (and its schema) if missing.
    readonly (bool): Open it only to read.
    RETURNS (Store): The open store; close it when done.
    """
    return SQLiteStore.open(Path(db), create=create, readonly=readonly)
