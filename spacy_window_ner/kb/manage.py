"""Working on a whole knowledge base by its name (a SQLite file or a postgresql:// URL): resolving
it (`resolve_database`, `kb resolve`), recording a curated decision and resolving what it touches
(`decide`, `kb merge` and `kb split`), and converting one of an older schema version
(`migrate_database`, `kb migrate`). Each opens the store, runs the pass of resolution.py or the
conversion of migrate.py, and reports a failing database as a KBError that says what was kept.
"""
from pathlib import Path
from typing import Callable, Iterable, Optional, Tuple, TypeVar, Union

from .backends import open_store
from .build import store_error
from .links import read_alias_files, read_decision
from .pass_state import ResolveStats
from .resolution import resolve_kb
from .store import KBError, Store
from .urls import describe

T = TypeVar("T")


def resolve_database(
    db: Union[str, Path],
    *,
    aliases: Iterable[Path] = (),
    threshold: Optional[float] = None,
    from_scratch: bool = False,
    vectors: Optional[str] = None,
) -> ResolveStats:
    """Resolve a knowledge base's changed mentions (or all of them) into entities.

    db (Union[str, Path]): The database.
    aliases (Iterable[Path]): Alias files (JSONL or CSV) whose entries to keep and use from now on.
    threshold (Optional[float]): The pair score needed to join an entity; None keeps the last one.
    from_scratch (bool): Resolve every mention again.
    vectors (Optional[str]): A pipeline whose static vectors to use from now on; None keeps the
        last choice.
    RETURNS (ResolveStats): What the pass did.
    RAISES (KBError): A malformed alias file, a bad setting, a database that can't be used.
    """
    entries = read_alias_files(aliases)
    with open_store(db) as store:
        return _run(store, db, lambda: resolve_kb(
            store, from_scratch=from_scratch, aliases=entries, threshold=threshold, vectors=vectors
        ))


def decide(db: Union[str, Path], kind: str, a: str, b: str, label: str) -> ResolveStats:
    """Keep a curated decision about two names and resolve their components again. Decisions
    are applied by every later pass, from scratch too.

    db (Union[str, Path]): The database.
    kind (str): "same" (`kb merge`: the names are one entity) or "different" (`kb split`).
    a (str): One name.
    b (str): The other.
    label (str): The label of their mentions.
    RETURNS (ResolveStats): What the pass did.
    """
    decision = read_decision(kind, label, a, b)
    with open_store(db) as store:
        return _run(store, db, lambda: resolve_kb(store, decisions=[decision]))


def migrate_database(db: Union[str, Path]) -> Tuple[Optional[str], Optional[ResolveStats]]:
    """Convert a knowledge base of an older schema version to this one, in one transaction, and
    resolve it.

    db (Union[str, Path]): The database.
    RETURNS (Tuple[Optional[str], Optional[ResolveStats]]): The version it had (None if it had
        this one already: nothing was done) and what the resolution pass did.
    """
    with open_store(db, upgrade=True) as store:
        version = _run(store, db, store.upgrade, kept="nothing was changed")
        if version is None:
            return None, None
        return version, _run(store, db, lambda: resolve_kb(store), kept="it is converted; run `kb resolve` on it")


def _run(store: Store, db: Union[str, Path], work: Callable[[], T], kept: str = "nothing was changed") -> T:
    """Run work on the store, turning the driver's errors into a KBError that says what was kept."""
    try:
        return work()
    except store.Error as err:
        raise KBError(f"Can't update the knowledge base {describe(db)} ({store_error(err, db)}); {kept}.") from None
